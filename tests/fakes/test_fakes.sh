#!/usr/bin/env bash
# test_fakes.sh: self-test of the fakes. Starts fake_cloudflare.py on a free port, walks a
# whole session in the order of shared/ref/cloudflare-api.md (create, run the fake
# cloudflared, tear down), then the faults, and ends by checking nothing is left behind;
# then runs test_fake_helm.sh (the fake helm over fake_k8s.py, issue 13) as one check.
# Needs bash, curl, jq, python3. Prints "N passed, N failed" and "time: fakes self-test: N s";
# exits 1 on any failure.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-fakes.XXXXXX")
TOKEN="selftest-token-$$-do-not-log"
ACCT=0123456789abcdef0123456789abcdef
ZONE=fedcba9876543210fedcba9876543210
PASS=0
FAIL=0
FAKE_PID=
CFD_PIDS=()

SUMMARY_DONE=
cleanup() {
    local rc=$? pid
    if [ -z "$SUMMARY_DONE" ]; then
        # set -e stopped the script early: that is a failure, and the summary still prints.
        echo "FAIL - self-test aborted (status $rc) after the last line above"
        echo "$PASS passed, $((FAIL + 1)) failed"
        rc=1
    fi
    for pid in "${CFD_PIDS[@]}" $FAKE_PID; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
ko() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; if [ -n "${2-}" ]; then echo "       $2"; fi; }
check() { local desc=$1; shift; if "$@"; then ok "$desc"; else ko "$desc"; fi; }

# api METHOD PATH [JSON]: one call to the fake API; sets STATUS, leaves the body in
# $WORK/body and the headers in $WORK/headers. STATUS=000 when no reply came.
api() {
    local method=$1 path=$2 data=${3-}
    local args=(-s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$method")
    # AUTH=none sends no Authorization header at all; AUTH=x sends "Bearer x".
    if [ "${AUTH-}" != none ]; then args+=(-H "Authorization: Bearer ${AUTH-$TOKEN}"); fi
    if [ -n "$data" ]; then args+=(-H 'Content-Type: application/json' --data "$data"); fi
    : >"$WORK/body"
    STATUS=$(curl "${args[@]}" "$API$path") || STATUS=000
}
ctl() { # ctl METHOD PATH [JSON]: the control API; body in $WORK/ctl
    curl -s -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} \
        -o "$WORK/ctl" "$BASE/_fake/$2" || true
}
j() { jq -r "$1" "$WORK/body"; }
jqt() { jq -e "$2" "$1" >/dev/null 2>&1; }  # jqt FILE FILTER: the filter holds
jc() { jq -r "$1" "$WORK/ctl"; }
# expect DESC HTTP_STATUS JQ_FILTER: the last reply had that status and the filter holds.
expect() {
    if [ "$STATUS" = "$2" ] && jqt "$WORK/body" "$3" >/dev/null 2>&1; then ok "$1"
    else ko "$1" "status=$STATUS body=$(head -c 300 "$WORK/body")"; fi
}
header() { tr -d '\r' <"$WORK/headers" | awk -v h="$(echo "$1" | tr A-Z a-z)" \
    'BEGIN{FS=": "} tolower($1)==h {print $2}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
    local limit=$(($1 * 10)) i=0; shift
    until "$@"; do i=$((i + 1)); [ $i -lt $limit ] || return 1; sleep 0.1; done
}
ready_code() { curl -s -o "$WORK/ready" -w '%{http_code}' "http://$1/ready" || true; }
is_ready() { [ "$(ready_code "$1")" = 200 ]; }
answers() { [ "$(ready_code "$1")" != 000 ]; }
dead() { ! kill -0 "$1" 2>/dev/null; }
# reap PID: collect the exit status of a background child into RC.
reap() { RC=0; { wait "$1"; } 2>/dev/null || RC=$?; }
tunnel_status() { api GET "/accounts/$ACCT/cfd_tunnel/$1"; [ "$(j .result.status)" = "$2" ]; }

# --- start the fake API --------------------------------------------------------------------
python3 "$HERE/fake_cloudflare.py" --port 0 --port-file "$WORK/port" --token "$TOKEN" \
    --account "$ACCT" --zone "$ZONE" --zone-name example.com >"$WORK/fake.out" 2>"$WORK/fake.err" &
FAKE_PID=$!
if ! wait_for 5 test -s "$WORK/port"; then
    echo "fake_cloudflare.py did not start:"; cat "$WORK/fake.err"; exit 1
fi
PORT=$(cat "$WORK/port")
BASE="http://127.0.0.1:$PORT"
API="$BASE/client/v4"
check "port on stdout matches --port-file" [ "$(head -n1 "$WORK/fake.out")" = "$PORT" ]

# Install the fake as `cloudflared` the way integration tests do.
mkdir -p "$WORK/bin" "$WORK/cfd"
ln -s "$HERE/fake_cloudflared.py" "$WORK/bin/cloudflared"
export PATH="$WORK/bin:$PATH" KAIDEN_FAKE_CF_URL="$BASE" KAIDEN_FAKE_CLOUDFLARED_DIR="$WORK/cfd"
export KAIDEN_FAKE_CLOUDFLARED_BACKOFF_MS=100 KAIDEN_FAKE_CLOUDFLARED_HEARTBEAT_MS=200

# --- envelope and auth ---------------------------------------------------------------------
AUTH=none api GET "/accounts/$ACCT/cfd_tunnel"
expect "no Authorization header: 403, code 10000, result null" 403 \
    '.success == false and .errors[0].code == 10000 and .result == null'
AUTH="" api GET "/accounts/$ACCT/cfd_tunnel"
expect "empty bearer token: 403, code 10000" 403 '.errors[0].code == 10000'
AUTH="wrong" api GET "/accounts/$ACCT/cfd_tunnel"
expect "wrong token: 403, code 10000" 403 '.errors[0].message == "Authentication error"'
check "reply is application/json" [ "$(header content-type)" = application/json ]
api GET "/accounts/$ACCT/no_such_thing"
expect "unknown route: 404, code 7003" 404 '.errors[0].code == 7003 and .result == null'
api PUT "/accounts/$ACCT/cfd_tunnel" '{}'
expect "unsupported method: 405 envelope" 405 '.success == false and (.errors | length) == 1'
api POST "/accounts/$ACCT/cfd_tunnel" '{"name":'
expect "malformed JSON: 400, code 6007" 400 '.errors[0].code == 6007'

# --- create, in the order of the ref (section 1) -------------------------------------------
SID=abc123
WEB=sess-$SID.support.example.com
SSH=sess-$SID-ssh.support.example.com
api POST "/accounts/$ACCT/cfd_tunnel" "{\"name\":\"kaiden-sess-$SID\",\"config_src\":\"cloudflare\"}"
expect "1. create tunnel: 200, inactive, remote config, token" 200 \
    '.success and (.result.id | test("^[0-9a-f-]{36}$")) and .result.status == "inactive"
     and .result.deleted_at == null and .result.remote_config == true
     and .result.tun_type == "cfd_tunnel" and (.result.token | length) > 40'
TID=$(j .result.id)
api POST "/accounts/$ACCT/cfd_tunnel" "{\"name\":\"kaiden-sess-$SID\",\"config_src\":\"cloudflare\"}"
expect "duplicate live name: 409, code 1013" 409 '.errors[0].code == 1013'
api GET "/accounts/$ACCT/cfd_tunnel/00000000-0000-4000-8000-000000000000"
expect "unknown tunnel: 404 with a code" 404 '.errors[0].code >= 1000'

api POST "/accounts/$ACCT/access/policies" \
    '{"name":"kaiden-sess-abc123","decision":"allow","include":[{"email":{"email":"eng@example.com"}}]}'
expect "reusable policy created" 201 '.result.id != null and .result.decision == "allow"'
POL=$(j .result.id)
api POST "/accounts/$ACCT/access/apps" \
    "{\"type\":\"self_hosted\",\"name\":\"kaiden-sess-$SID\",\"domain\":\"$WEB\",\"session_duration\":\"8h\",\"app_launcher_visible\":false,\"policies\":[{\"id\":\"$POL\",\"precedence\":1}]}"
expect "2. Access app (web): 201, UUID id, 64-hex aud" 201 \
    '(.result.id | test("^[0-9a-f-]{36}$")) and (.result.aud | test("^[0-9a-f]{64}$"))
     and .result.type == "self_hosted" and .result.policies[0].decision == "allow"'
APP_WEB=$(j .result.id)
AUD=$(j .result.aud)
api POST "/accounts/$ACCT/access/apps" \
    "{\"type\":\"ssh\",\"name\":\"kaiden-sess-$SID-ssh\",\"domain\":\"$SSH\",\"policies\":[{\"name\":\"eng\",\"decision\":\"bypass\",\"include\":[{\"everyone\":{}}]}]}"
expect "browser-rendered SSH app refuses a bypass policy" 400 '.success == false'
api POST "/accounts/$ACCT/access/apps" \
    "{\"type\":\"ssh\",\"name\":\"kaiden-sess-$SID-ssh\",\"domain\":\"$SSH\",\"policies\":[{\"name\":\"eng\",\"decision\":\"allow\",\"include\":[{\"email\":{\"email\":\"eng@example.com\"}}]}]}"
expect "2. Access app (ssh) with an inline policy: 201" 201 \
    '.result.type == "ssh" and .result.policies[0].id != null'
APP_SSH=$(j .result.id)
api POST "/accounts/$ACCT/access/apps/$APP_SSH/policies" \
    '{"name":"deny-contractors","decision":"deny","include":[{"email_domain":{"domain":"contractor.example"}}]}'
expect "app-scoped policy created" 201 '.result.decision == "deny"'
APOL=$(j .result.id)
api DELETE "/accounts/$ACCT/access/apps/$APP_SSH/policies/$APOL"
expect "app-scoped policy deleted" 200 ".result.id == \"$APOL\""
api GET "/accounts/$ACCT/access/apps?domain=$WEB&exact=true"
expect "apps listed by domain" 200 ".result_info.total_count == 1 and .result[0].id == \"$APP_WEB\""

# One app for several hostnames: destinations (public uri), the deprecated
# self_hosted_domains when destinations are absent; domain must be one of them.
MW=multi-$SID.support.example.com
MS=multi-$SID-ssh.support.example.com
api POST "/accounts/$ACCT/access/apps" \
    "{\"type\":\"self_hosted\",\"name\":\"multi\",\"domain\":\"$MW\",\"destinations\":[{\"type\":\"public\",\"uri\":\"$MW\"},{\"type\":\"public\",\"uri\":\"$MS\"}],\"policies\":[{\"id\":\"$POL\",\"precedence\":1}]}"
expect "app with two destinations: 201, both listed (also as self_hosted_domains)" 201 \
    ".result.destinations == [{\"type\":\"public\",\"uri\":\"$MW\"},{\"type\":\"public\",\"uri\":\"$MS\"}]
     and .result.self_hosted_domains == [\"$MW\",\"$MS\"] and .result.domain == \"$MW\""
APP_MULTI=$(j .result.id)
api POST "/accounts/$ACCT/access/apps" \
    "{\"type\":\"self_hosted\",\"name\":\"other\",\"domain\":\"x-$MW\",\"destinations\":[{\"type\":\"public\",\"uri\":\"x-$MW\"},{\"type\":\"public\",\"uri\":\"$MS\"}]}"
expect "a destination another app protects: 400, conflict" 400 '.errors[0].code == 12133'
api POST "/accounts/$ACCT/access/apps" \
    "{\"type\":\"self_hosted\",\"name\":\"other\",\"domain\":\"y-$MW\",\"destinations\":[{\"type\":\"public\",\"uri\":\"z-$MW\"}]}"
expect "domain not among the destinations: 400" 400 '.success == false and .result == null'
api POST "/accounts/$ACCT/access/apps" \
    "{\"type\":\"self_hosted\",\"name\":\"legacy\",\"domain\":\"l-$MW\",\"self_hosted_domains\":[\"l-$MW\",\"l-$MS\"]}"
expect "self_hosted_domains alone: 201, made destinations" 201 \
    '(.result.destinations | length) == 2 and .result.destinations[1].type == "public"'
APP_LEGACY=$(j .result.id)
api DELETE "/accounts/$ACCT/access/apps/$APP_MULTI"
expect "multi-destination app deleted: 202" 202 ".result.id == \"$APP_MULTI\""
api DELETE "/accounts/$ACCT/access/apps/$APP_LEGACY"
expect "legacy app deleted: 202" 202 '.success'

INGRESS="[{\"hostname\":\"$WEB\",\"service\":\"http://localhost:8080\",\"originRequest\":{\"access\":{\"required\":true,\"teamName\":\"kaiden\",\"audTag\":[\"$AUD\"]}}},{\"hostname\":\"$SSH\",\"service\":\"ssh://localhost:22\"},{\"service\":\"http_status:404\"}]"
api PUT "/accounts/$ACCT/cfd_tunnel/$TID/configurations" "{\"config\":{\"ingress\":$INGRESS}}"
expect "3. PUT configuration: version 1" 200 '.result.version == 1 and (.result.config.ingress | length) == 3'
api PUT "/accounts/$ACCT/cfd_tunnel/$TID/configurations" "{\"config\":{\"ingress\":$INGRESS}}"
expect "PUT again bumps version to 2" 200 '.result.version == 2'
api PUT "/accounts/$ACCT/cfd_tunnel/$TID/configurations" \
    "{\"config\":{\"ingress\":[{\"hostname\":\"$WEB\",\"service\":\"http://localhost:8080\"}]}}"
expect "last rule with a hostname is refused" 400 '.success == false'
api PUT "/accounts/$ACCT/cfd_tunnel/$TID/configurations" '{"config":{"ingress":[]}}'
expect "empty ingress is refused" 400 '.success == false'
api GET "/accounts/$ACCT/cfd_tunnel/$TID/configurations"
expect "GET configuration keeps version 2" 200 '.result.version == 2'

CNAME="$TID.cfargotunnel.com"
api POST "/zones/$ZONE/dns_records" \
    "{\"type\":\"CNAME\",\"name\":\"$WEB\",\"content\":\"$CNAME\",\"proxied\":true,\"ttl\":1,\"comment\":\"kaiden-sess-$SID\"}"
expect "4. CNAME (web): 200, 32-hex id, proxied" 200 \
    '(.result.id | test("^[0-9a-f]{32}$")) and .result.proxied == true and .result.ttl == 1'
DNS_WEB=$(j .result.id)
api POST "/zones/$ZONE/dns_records" \
    "{\"type\":\"CNAME\",\"name\":\"$SSH\",\"content\":\"$CNAME\",\"proxied\":true,\"ttl\":1,\"comment\":\"kaiden-sess-$SID\"}"
expect "4. CNAME (ssh): 200" 200 '.success'
DNS_SSH=$(j .result.id)
api POST "/zones/$ZONE/dns_records" \
    "{\"type\":\"CNAME\",\"name\":\"$WEB\",\"content\":\"other.cfargotunnel.com\",\"proxied\":true,\"ttl\":1}"
expect "name clash: 400, code 81053" 400 '.errors[0].code == 81053'
api POST "/zones/$ZONE/dns_records" \
    "{\"type\":\"CNAME\",\"name\":\"$WEB\",\"content\":\"$CNAME\",\"proxied\":true,\"ttl\":1}"
expect "identical record: 400, code 81057" 400 '.errors[0].code == 81057'
api GET "/zones/$ZONE/dns_records?type=CNAME&name.exact=$WEB"
expect "find by name.exact" 200 ".result_info.count == 1 and .result[0].id == \"$DNS_WEB\""
api GET "/zones/$ZONE/dns_records?comment=kaiden-sess-$SID&per_page=1&page=2"
expect "find by comment, paged: exact result_info" 200 \
    '.result_info == {"page":2,"per_page":1,"count":1,"total_count":2,"total_pages":2}'

# The batch: deletes, patches, puts, posts in that order, all or nothing.
api POST "/zones/$ZONE/dns_records/batch" \
    "{\"posts\":[{\"type\":\"TXT\",\"name\":\"b1-$SID.support.example.com\",\"content\":\"x\",\"ttl\":1},{\"type\":\"CNAME\",\"name\":\"$WEB\",\"content\":\"other.cfargotunnel.com\",\"proxied\":true,\"ttl\":1}]}"
expect "batch with a clash: 400, the clash's own code, result null" 400 \
    '.errors[0].code == 81053 and .result == null'
api GET "/zones/$ZONE/dns_records?name.exact=b1-$SID.support.example.com"
expect "... and its first post was not kept (all or nothing)" 200 '.result_info.total_count == 0'
api POST "/zones/$ZONE/dns_records/batch" \
    "{\"posts\":[{\"type\":\"CNAME\",\"name\":\"$WEB\",\"content\":\"$CNAME\",\"proxied\":true,\"ttl\":1,\"comment\":\"kaiden-sess-$SID\"}],\"deletes\":[{\"id\":\"$DNS_WEB\"}],\"patches\":[{\"id\":\"$DNS_SSH\",\"comment\":\"patched\"}]}"
expect "batch: the delete runs before the post of the same name; the four lists come back" 200 \
    ".result.deletes[0].id == \"$DNS_WEB\" and .result.posts[0].name == \"$WEB\"
     and .result.posts[0].id != \"$DNS_WEB\" and .result.patches[0].comment == \"patched\"
     and .result.puts == []"
DNS_WEB=$(j '.result.posts[0].id')
api POST "/zones/$ZONE/dns_records/batch" \
    "{\"deletes\":[{\"id\":\"$DNS_SSH\"},{\"id\":\"00000000000000000000000000000000\"}]}"
expect "batch deleting an unknown record: 404, 81044" 404 '.errors[0].code == 81044'
api GET "/zones/$ZONE/dns_records/$DNS_SSH"
expect "... and the known one is still there" 200 '.result.comment == "patched"'
api POST "/zones/$ZONE/dns_records/batch" \
    "{\"puts\":[{\"id\":\"$DNS_SSH\",\"type\":\"CNAME\",\"name\":\"$SSH\",\"content\":\"$CNAME\",\"proxied\":true,\"ttl\":1,\"comment\":\"kaiden-sess-$SID\"}]}"
expect "batch put overwrites in place" 200 \
    ".result.puts[0].id == \"$DNS_SSH\" and .result.puts[0].comment == \"kaiden-sess-$SID\""
BIG=$(jq -cn '{deletes: [range(201) | {id: "00000000000000000000000000000000"}]}')
api POST "/zones/$ZONE/dns_records/batch" "$BIG"
expect "batch of 201 records: 400 (Free plan limit 200)" 400 '.success == false'
api POST "/zones/$ZONE/dns_records/batch" '{"posts":{}}'
expect "batch list that is not an array: 400" 400 '.errors[0].code == 1004'
ctl GET state
check "state: every tunnel CNAME is covered by an Access app" jqt "$WORK/ctl" '.result.unprotected_tunnel_cnames == []'

api GET "/accounts/$ACCT/cfd_tunnel/$TID/token"
expect "5. token is a string" 200 '(.result | type) == "string"'
TUNNEL_TOKEN_VALUE=$(j .result)
DECODED=$(printf '%s' "$TUNNEL_TOKEN_VALUE" | base64 -d)
check "token decodes to {a, t, s}" [ "$(echo "$DECODED" | jq -r "[.a == \"$ACCT\", .t == \"$TID\", (.s|length > 40)] | all")" = true ]

# --- 6. the agent runs cloudflared -----------------------------------------------------------
OUT=$(cloudflared --version)
check "cloudflared --version" [ "${OUT#cloudflared version }" != "$OUT" ]
MPORT=$(free_port)
TUNNEL_TOKEN="$TUNNEL_TOKEN_VALUE" KAIDEN_FAKE_CLOUDFLARED_READY_DELAY_MS=700 \
    cloudflared tunnel --no-autoupdate --metrics "127.0.0.1:$MPORT" --loglevel info \
    --protocol quic --grace-period 30s run 2>"$WORK/cfd1.log" &
CFD=$!
CFD_PIDS+=("$CFD")
wait_for 5 answers "127.0.0.1:$MPORT" || true
check "/ready is 503 before the connector registers" [ "$(ready_code "127.0.0.1:$MPORT")" = 503 ]
if wait_for 5 is_ready "127.0.0.1:$MPORT"; then ok "/ready turns 200"; else ko "/ready turns 200"; fi
check "/ready says 4 connections and a connectorId" \
    jqt "$WORK/ready" '.status == 200 and .readyConnections == 4 and (.connectorId | length) == 36'
check "/healthcheck is OK" [ "$(curl -s "http://127.0.0.1:$MPORT/healthcheck")" = OK ]
check "/metrics has ha_connections 4" \
    grep -q '^cloudflared_tunnel_ha_connections 4$' <(curl -s "http://127.0.0.1:$MPORT/metrics")
api GET "/accounts/$ACCT/cfd_tunnel/$TID"
expect "tunnel status healthy" 200 '.result.status == "healthy" and .result.conns_active_at != null'
api GET "/accounts/$ACCT/cfd_tunnel/$TID/connections"
expect "one connector with 4 conns" 200 '(.result | length) == 1 and (.result[0].conns | length) == 4'
REC="$WORK/cfd/cloudflared-$CFD.json"
check "pid/argv record written, token came from env" \
    jqt "$REC" ".pid == $CFD and .token_source == \"env\" and .token_in_argv == false and .ready == true"
check "token is in no record and no log" \
    bash -c "! grep -rqF -- '$TUNNEL_TOKEN_VALUE' '$WORK/cfd' '$WORK/cfd1.log'"
check "log says Registered tunnel connection" grep -q "Registered tunnel connection" "$WORK/cfd1.log"

api DELETE "/accounts/$ACCT/cfd_tunnel/$TID"
expect "delete while connected: 400, code 1022" 400 '.errors[0].code == 1022'
# Cleaning up connections while cloudflared still runs does not stick: it re-registers.
api DELETE "/accounts/$ACCT/cfd_tunnel/$TID/connections"
expect "DELETE connections while running: 200" 200 '.success'
if wait_for 3 tunnel_status "$TID" healthy; then ok "running cloudflared re-registers"
else ko "running cloudflared re-registers"; fi

# --- teardown, in the order of the ref -------------------------------------------------------
kill -TERM "$CFD"
if wait_for 5 dead "$CFD"; then ok "1. SIGTERM: cloudflared exits"; else ko "1. SIGTERM: cloudflared exits"; fi
reap "$CFD"
check "exit status 0" [ "$RC" = 0 ]
check "record says exited" jqt "$REC" '.state == "exited" and .exit_code == 0'
api GET "/accounts/$ACCT/cfd_tunnel/$TID"
expect "tunnel status down after the connector left" 200 '.result.status == "down"'
api DELETE "/zones/$ZONE/dns_records/$DNS_WEB"
expect "2. DELETE DNS (web): {id}" 200 ".result == {\"id\":\"$DNS_WEB\"}"
api DELETE "/zones/$ZONE/dns_records/$DNS_SSH"
expect "2. DELETE DNS (ssh)" 200 '.success'
api DELETE "/zones/$ZONE/dns_records/$DNS_SSH"
expect "DELETE DNS again: 404" 404 '.success == false and .errors[0].code > 1000'
api DELETE "/accounts/$ACCT/cfd_tunnel/$TID/connections"
expect "3. DELETE connections" 200 '.success'
api DELETE "/accounts/$ACCT/cfd_tunnel/$TID"
expect "4. DELETE tunnel: soft, deleted_at set" 200 '.result.deleted_at != null'
api DELETE "/accounts/$ACCT/cfd_tunnel/$TID"
expect "DELETE tunnel again: 404" 404 '.success == false'
api GET "/accounts/$ACCT/cfd_tunnel?name=kaiden-sess-$SID"
expect "deleted tunnel still listed without is_deleted" 200 '.result_info.total_count == 1'
api GET "/accounts/$ACCT/cfd_tunnel?name=kaiden-sess-$SID&is_deleted=false"
expect "is_deleted=false hides it" 200 '.result_info.total_count == 0 and .result == []'
api DELETE "/accounts/$ACCT/access/apps/$APP_WEB"
expect "5. DELETE Access app (web): 202 {id}" 202 ".result.id == \"$APP_WEB\""
api DELETE "/accounts/$ACCT/access/apps/$APP_SSH"
expect "5. DELETE Access app (ssh): 202" 202 '.success'
api DELETE "/accounts/$ACCT/access/apps/$APP_SSH"
expect "DELETE app again: 404" 404 '.success == false'
api DELETE "/accounts/$ACCT/access/policies/$POL"
expect "5. DELETE reusable policy" 200 ".result.id == \"$POL\""

# --- cloudflared failure modes ---------------------------------------------------------------
set +e
OUT=$(TUNNEL_TOKEN="not-a-token" cloudflared tunnel --no-autoupdate run 2>&1)
RC=$?
set -e
check "malformed token: exit 1" [ "$RC" = 1 ]
check "malformed token: says so" grep -q "Provided Tunnel token is not valid" <<<"$OUT"

MPORT=$(free_port)
echo "$TUNNEL_TOKEN_VALUE" >"$WORK/token"
KAIDEN_FAKE_CLOUDFLARED_READY_DELAY_MS=0 cloudflared tunnel --metrics "127.0.0.1:$MPORT" \
    run --token-file "$WORK/token" 2>"$WORK/cfd2.log" &
CFD=$!
CFD_PIDS+=("$CFD")
wait_for 3 grep -q "Unauthorized: Failed to get tunnel" "$WORK/cfd2.log" || true
check "deleted tunnel: logs Unauthorized: Failed to get tunnel" \
    grep -q "Unauthorized: Failed to get tunnel" "$WORK/cfd2.log"
sleep 0.5
check "deleted tunnel: keeps retrying" [ "$(grep -c 'Retrying connection' "$WORK/cfd2.log")" -ge 2 ]
check "deleted tunnel: never ready, still running" \
    bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$MPORT/ready)\" = 503 ] && kill -0 $CFD"
kill -TERM "$CFD"; wait_for 5 dead "$CFD" || true; reap "$CFD"
check "SIGTERM while retrying: exit 0" [ "$RC" = 0 ]

# A live tunnel, but the token carries another secret; the token given in argv (allowed).
api POST "/accounts/$ACCT/cfd_tunnel" '{"name":"kaiden-sess-secret","config_src":"cloudflare"}'
T2=$(j .result.id)
BAD=$(printf '{"a":"%s","t":"%s","s":"%s"}' "$ACCT" "$T2" \
      "$(head -c 32 /dev/zero | base64)" | base64 -w0)
KAIDEN_FAKE_CLOUDFLARED_READY_DELAY_MS=0 cloudflared tunnel --metrics "127.0.0.1:0" \
    run --token "$BAD" 2>"$WORK/cfd3.log" &
CFD=$!
CFD_PIDS+=("$CFD")
wait_for 3 grep -q "Invalid tunnel secret" "$WORK/cfd3.log" || true
check "wrong secret: logs Invalid tunnel secret" grep -q "Invalid tunnel secret" "$WORK/cfd3.log"
wait_for 2 test -s "$WORK/cfd/cloudflared-$CFD.json" || true
check "token in argv: recorded as such, value redacted" \
    bash -c "jq -e '.token_in_argv == true and .token_source == \"argv\"' '$WORK/cfd/cloudflared-$CFD.json' >/dev/null && ! grep -qF -- '$BAD' '$WORK/cfd/cloudflared-$CFD.json'"
kill -TERM "$CFD"; wait_for 5 dead "$CFD" || true; reap "$CFD"
api GET "/accounts/$ACCT/cfd_tunnel/$T2"
expect "wrong secret never attached: still inactive" 200 '.result.status == "inactive"'

# Second signal exits at once, even while draining.
api GET "/accounts/$ACCT/cfd_tunnel/$T2/token"
T2_TOKEN=$(j .result)
MPORT=$(free_port)
TUNNEL_TOKEN=$T2_TOKEN KAIDEN_FAKE_CLOUDFLARED_READY_DELAY_MS=0 KAIDEN_FAKE_CLOUDFLARED_DRAIN_MS=20000 \
    cloudflared tunnel --metrics "127.0.0.1:$MPORT" run 2>"$WORK/cfd4.log" &
CFD=$!
CFD_PIDS+=("$CFD")
wait_for 5 is_ready "127.0.0.1:$MPORT" || true
kill -TERM "$CFD"; sleep 0.3
check "draining after first SIGTERM" kill -0 "$CFD"
check "unregistered at once: tunnel down" tunnel_status "$T2" down
kill -TERM "$CFD"
if wait_for 2 dead "$CFD"; then ok "second signal: exits at once"; else ko "second signal: exits at once"; fi
reap "$CFD"

# ignore_term: only SIGKILL stops it (lets agent tests prove their escalation).
TUNNEL_TOKEN=$T2_TOKEN KAIDEN_FAKE_CLOUDFLARED_FAIL=ignore_term \
    cloudflared tunnel --metrics 127.0.0.1:0 run 2>"$WORK/cfd5.log" &
CFD=$!
CFD_PIDS+=("$CFD")
wait_for 5 grep -q "Registered tunnel connection" "$WORK/cfd5.log" || true
kill -TERM "$CFD"; sleep 0.3
check "FAIL=ignore_term survives SIGTERM" kill -0 "$CFD"
kill -KILL "$CFD" 2>/dev/null || true; reap "$CFD"
check "SIGKILL leaves the record at running (tests use kill -0)" \
    jqt "$WORK/cfd/cloudflared-$CFD.json" '.state == "running"'
ctl POST "tunnels/$T2/disconnect" '{}'
api DELETE "/accounts/$ACCT/cfd_tunnel/$T2?cascade=true"
expect "cascade delete" 200 '.result.deleted_at != null'

# --- faults ----------------------------------------------------------------------------------
ctl POST faults '{"rate_limit_next":1,"retry_after":7}'
api GET "/accounts/$ACCT/cfd_tunnel"
expect "429 on demand: code 971" 429 \
    '.errors[0].code == 971 and .errors[0].message == "Please wait and consider throttling your request speed"'
check "429 has Retry-After: 7" [ "$(header retry-after)" = 7 ]
api GET "/accounts/$ACCT/cfd_tunnel"
expect "next call passes" 200 '.success'
ctl POST faults '{"rate_limit":{"limit":3,"window_s":60},"retry_after":null}'
for _ in 1 2 3; do api GET "/accounts/$ACCT/cfd_tunnel"; done
expect "3 calls within the window pass" 200 '.success'
api GET "/accounts/$ACCT/cfd_tunnel"
expect "the 4th gets 429" 429 '.errors[0].code == 971'
check "Retry-After counts down the window" [ "$(header retry-after)" -ge 1 ]
ctl POST faults '{"clear":true}'

ctl POST faults '{"fail":[{"method":"POST","path":"/dns_records$","status":503,"count":1}]}'
DNSBODY="{\"type\":\"CNAME\",\"name\":\"$WEB\",\"content\":\"$CNAME\",\"proxied\":true,\"ttl\":1,\"comment\":\"kaiden-sess-$SID\"}"
api POST "/zones/$ZONE/dns_records" "$DNSBODY"
expect "injected 503 on DNS create: error envelope" 503 '.success == false and .result == null'
api POST "/zones/$ZONE/dns_records" "$DNSBODY"
expect "retry succeeds" 200 '.success'
api DELETE "/zones/$ZONE/dns_records/$(j .result.id)"

ctl POST faults '{"drop":[{"method":"POST","path":"/cfd_tunnel$","after":true}]}'
api POST "/accounts/$ACCT/cfd_tunnel" '{"name":"kaiden-sess-lost","config_src":"cloudflare"}'
check "dropped reply: no HTTP status" [ "$STATUS" = 000 ]
api GET "/accounts/$ACCT/cfd_tunnel?name=kaiden-sess-lost&is_deleted=false"
expect "...but the tunnel was created (find it by name)" 200 '.result_info.total_count == 1'
api DELETE "/accounts/$ACCT/cfd_tunnel/$(j '.result[0].id')"

# Holds: a caught call waits in its own thread, the fake answering everything else, until
# the test releases it (run or drop), or its client hangs up (abandoned, never run).
# held_call NAME: POST a tunnel NAME in the background; HELD is curl's pid, its status
# goes to $WORK/held.code.
held_call() {
    curl -s -o "$WORK/held.body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' --data "{\"name\":\"$1\",\"config_src\":\"cloudflare\"}" \
        "$API/accounts/$ACCT/cfd_tunnel" >"$WORK/held.code" 2>/dev/null &
    HELD=$!
}
tunnels_named() { api GET "/accounts/$ACCT/cfd_tunnel?name=$1&is_deleted=false"; j .result_info.total_count; }
ctl POST holds '{"method":"POST","path":"/cfd_tunnel$"}'
HOLD=$(jc .result.id)
check "arm a hold: it has an id and has caught nothing" jqt "$WORK/ctl" '.result.caught == 0 and .result.count == 1'
CODE=$(curl -s -o "$WORK/ctl" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data '{"timeout_s":0.2}' "$BASE/_fake/holds/$HOLD/wait")
check "wait with nothing caught: 408 after its timeout" [ "$CODE" = 408 ]
held_call kaiden-sess-held
ctl POST "holds/$HOLD/wait" '{"timeout_s":10}'
check "wait returns once the call is held" jqt "$WORK/ctl" '.result.caught == 1 and .result.calls[0].state == "held"'
check "while held, other calls are answered and the held one has not run" [ "$(tunnels_named kaiden-sess-held)" = 0 ]
check "while held, its client has no reply" kill -0 "$HELD"
ctl POST "holds/$HOLD/release" '{}'
reap "$HELD"
ran() { [ "$(cat "$WORK/held.code")" = 200 ] && jqt "$WORK/held.body" '.result.name == "kaiden-sess-held"'; }
check "released: the held call runs and is answered" ran
ctl GET holds
check "a released hold is disarmed" jqt "$WORK/ctl" '.result == []'
api GET "/accounts/$ACCT/cfd_tunnel?name=kaiden-sess-held&is_deleted=false"
api DELETE "/accounts/$ACCT/cfd_tunnel/$(j '.result[0].id')"

ctl POST holds '{"method":"*","path":"/cfd_tunnel$"}'
HOLD=$(jc .result.id)
held_call kaiden-sess-dropped
ctl POST "holds/$HOLD/wait" '{"timeout_s":10}'
ctl POST "holds/$HOLD/release" '{"drop":true}'
reap "$HELD"
dropped() { [ "$(cat "$WORK/held.code")" = 000 ] && [ "$(tunnels_named kaiden-sess-dropped)" = 0 ]; }
check "released with drop: no reply, and the call never ran" dropped

ctl POST holds '{"method":"POST","path":"/cfd_tunnel$"}'
HOLD=$(jc .result.id)
held_call kaiden-sess-abandoned
ctl POST "holds/$HOLD/wait" '{"timeout_s":10}'
kill -KILL "$HELD"; reap "$HELD"
abandoned() { ctl GET holds; jqt "$WORK/ctl" '.result[0].calls[0].state == "abandoned"'; }
check "a held call whose client hangs up is abandoned" wait_for 5 abandoned
check "...and never run" [ "$(tunnels_named kaiden-sess-abandoned)" = 0 ]
ctl GET 'log?kind=api'
check "...logged as abandoned, naming its hold" jqt "$WORK/ctl" "[.result[] | select(.hold == $HOLD)] | length == 1 and .[0].fault == \"abandoned\""
ctl POST holds/release '{}'
check "release all disarms every hold" jqt "$WORK/ctl" '.result | length == 1'

ctl POST faults '{"latency_ms":300}'
T0=$(date +%s%N); api GET "/accounts/$ACCT/cfd_tunnel"; T1=$(date +%s%N)
check "latency_ms=300 delays the reply" [ $(((T1 - T0) / 1000000)) -ge 300 ]
ctl POST faults '{"clear":true}'

# Paging and prefix filters over 5 tunnels.
for i in 1 2 3 4 5; do api POST "/accounts/$ACCT/cfd_tunnel" "{\"name\":\"kaiden-sess-page$i\"}"; done
api GET "/accounts/$ACCT/cfd_tunnel?is_deleted=false&include_prefix=kaiden-sess-page&per_page=2&page=3"
expect "paging: page 3 of 5 by 2" 200 \
    '.result_info.page == 3 and .result_info.per_page == 2 and .result_info.count == 1 and .result_info.total_count == 5'
for id in $(curl -s -H "Authorization: Bearer $TOKEN" "$API/accounts/$ACCT/cfd_tunnel?is_deleted=false&name_prefix=kaiden-sess-page" | jq -r '.result[].id'); do
    api DELETE "/accounts/$ACCT/cfd_tunnel/$id"
done

# Access lists are capped below what a client may ask (50 by default; faults' max_per_page
# lowers it): result_info says the page size used, so a client that pages by "a page
# shorter than my per_page is the last" stops early. 3 apps, capped at 2, asked 100.
for i in 1 2 3; do
    api POST "/accounts/$ACCT/access/apps" "{\"name\":\"kaiden-sess-cap$i\",\"type\":\"self_hosted\",\"domain\":\"cap$i.example.com\"}"
done
api GET "/accounts/$ACCT/access/apps?per_page=100"
expect "Access list: per_page 100 is capped at 50" 200 \
    '.result_info == {"page":1,"per_page":50,"count":3,"total_count":3,"total_pages":1}'
ctl POST faults '{"max_per_page":{"access":2}}'
api GET "/accounts/$ACCT/access/apps?per_page=100"
expect "Access list capped at 2: page 1 has 2 of 3, result_info says so" 200 \
    '.result_info == {"page":1,"per_page":2,"count":2,"total_count":3,"total_pages":2}'
api GET "/accounts/$ACCT/access/apps?per_page=100&page=2"
expect "...and page 2 has the third" 200 '.result_info.count == 1 and (.result | length) == 1'
ctl POST faults '{"clear":true}'
for id in $(curl -s -H "Authorization: Bearer $TOKEN" "$API/accounts/$ACCT/access/apps?search=kaiden-sess-cap" | jq -r '.result[].id'); do
    api DELETE "/accounts/$ACCT/access/apps/$id"
done

# --- nothing left behind, nothing leaked -----------------------------------------------------
ctl GET counts
check "counts all zero at the end" \
    jqt "$WORK/ctl" '.result | .live_tunnels == 0 and .dns_records == 0 and .access_apps == 0 and .access_policies == 0 and .connectors == 0 and .leftover == 0'
ctl GET log
check "request log has entries, with auth yes/no" jqt "$WORK/ctl" '[.result[] | select(.kind == "api") | .auth] | (index("yes") != null) and (index("no") != null)'
check "request log never holds the API token" bash -c "! grep -qF -- '$TOKEN' '$WORK/ctl'"
ctl POST reset
ctl GET state
check "reset empties the state" jqt "$WORK/ctl" '.result.tunnels == [] and .result.dns_records == []'

# --- the fake DNS server (issue 13: a custom domain's CNAME) ----------------------------------
# dnsq PORT NAME TYPE: "RCODE ANSWER-TYPES CNAME-TARGET" from a query made with python's stdlib.
dnsq() {
    python3 - "$@" <<'PY'
import socket, struct, sys
port, name, qtype = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", qtype, 1), ("127.0.0.1", port))
d = s.recv(4096)
rid, flags, qd, an = struct.unpack(">HHHH", d[:8])
def name_at(i):
    out = []
    while d[i]:
        if d[i] & 0xC0:
            out.append(name_at(((d[i] & 0x3F) << 8) | d[i + 1])); return ".".join(out)
        out.append(d[i + 1:i + 1 + d[i]].decode()); i += 1 + d[i]
    return ".".join(out)
def skip(i):
    while d[i]:
        if d[i] & 0xC0: return i + 2
        i += 1 + d[i]
    return i + 1
i = skip(12) + 4
types, target = [], "-"
for _ in range(an):
    i = skip(i); t, c, ttl, n = struct.unpack(">HHIH", d[i:i + 10]); i += 10
    types.append({1: "A", 5: "CNAME"}.get(t, str(t)))
    if t == 5: target = name_at(i)
    if t == 1: target = target if target != "-" else socket.inet_ntoa(d[i:i + 4])
    i += n
print("%s %d %s %s %s" % ("id-ok" if rid == 0x4242 else "id-bad", flags & 0xF, ",".join(types) or "-", target, "aa" if flags & 0x0400 else "-"))
PY
}
DNS_REC="$WORK/dns.json"
python3 "$HERE/fake_dns.py" --port-file "$WORK/dns.port" --records "$DNS_REC" \
    --cname Shop.Example.COM.=web.apps.kaiden.test --a web.apps.kaiden.test=192.0.2.7 \
    --a plain.example.com=192.0.2.8 2>"$WORK/dns.log" &
DNS_PID=$!
CFD_PIDS+=("$DNS_PID")
wait_for 5 test -s "$WORK/dns.port" || true
DNS_PORT=$(cat "$WORK/dns.port" 2>/dev/null || echo 0)
check "fake_dns: binds a free port and says it in --port-file" test "$DNS_PORT" -gt 0
check "fake_dns: a CNAME from argv, any case, the A of its target after it" \
    test "$(dnsq "$DNS_PORT" shop.example.com 1)" = "id-ok 0 CNAME,A web.apps.kaiden.test aa"
check "fake_dns: a CNAME question gets the CNAME alone" \
    test "$(dnsq "$DNS_PORT" SHOP.example.com 5)" = "id-ok 0 CNAME web.apps.kaiden.test aa"
check "fake_dns: an A from argv" test "$(dnsq "$DNS_PORT" plain.example.com 1)" = "id-ok 0 A 192.0.2.8 aa"
check "fake_dns: a known name without that type is NODATA" \
    test "$(dnsq "$DNS_PORT" plain.example.com 5)" = "id-ok 0 - - aa"
check "fake_dns: an unknown name is NXDOMAIN (the control file is missing: no records from it)" \
    test "$(dnsq "$DNS_PORT" new.example.com 5)" = "id-ok 3 - - aa"
printf '{"cname": {"new.example.com": "db.apps.kaiden.test."}, "a": {"db.apps.kaiden.test": "192.0.2.9"}}' >"$DNS_REC.tmp"
mv "$DNS_REC.tmp" "$DNS_REC"
check "fake_dns: a CNAME added to the control file is answered at once" \
    test "$(dnsq "$DNS_PORT" new.example.com 1)" = "id-ok 0 CNAME,A db.apps.kaiden.test aa"
printf '{"cname": {"shop.example.com": "elsewhere.example.net"}}' >"$DNS_REC.tmp"
mv "$DNS_REC.tmp" "$DNS_REC"
check "fake_dns: the file's record wins over argv's for the same name" \
    test "$(dnsq "$DNS_PORT" shop.example.com 5)" = "id-ok 0 CNAME elsewhere.example.net aa"
check "... new.example.com is gone" test "$(dnsq "$DNS_PORT" new.example.com 5)" = "id-ok 3 - - aa"
check "fake_dns: logs one line per question" grep -q 'fake_dns: new.example.com type 5: NXDOMAIN' "$WORK/dns.log"
kill -TERM "$DNS_PID" 2>/dev/null || true
reap "$DNS_PID"
check "fake_dns: SIGTERM ends it with status 0" test "$RC" -eq 0

# --- the fake helm over the fake Kubernetes API (issue 13): its own script and count ------
if bash "$HERE/test_fake_helm.sh"; then ok "test_fake_helm.sh"; else ko "test_fake_helm.sh" "see its FAIL lines above"; fi

SUMMARY_DONE=1
echo "$PASS passed, $FAIL failed"
echo "time: fakes self-test: $SECONDS s"
[ "$FAIL" -eq 0 ]
