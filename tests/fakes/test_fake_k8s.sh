#!/usr/bin/env bash
# test_fake_k8s.sh: self-test of fake_k8s.py (the Kubernetes API server the agent's node
# reader talks to). Starts it on a free port, checks a node as the real server serves it,
# the 401/403/404 Status bodies of shared/ref/k8s-api.md section 7, the control API
# (labels, Ready, cordon, capacity), faults (500/503, dropped and garbled replies), holds
# (a request kept at the gate while others pass), the request log and counts, and https
# with the fake's test CA. Needs bash, curl, jq, python3, openssl.
# Prints "test_fake_k8s: N passed, N failed" (VERBOSE=1: every check) and exits 1 on any
# failure.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../scripts/lib.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-fake-k8s.XXXXXX")
TOKEN="k8s-selftest-token-$$-do-not-log"
PIDS=()

SUMMARY_DONE=
cleanup() {
    local rc=$? pid
    if [ -z "$SUMMARY_DONE" ]; then
        bad "the self-test ran to its end" "aborted (status $rc) after the last check"
        summary || rc=1
    fi
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# api METHOD PATH: one API call with the token (AUTH=none: no header; AUTH=x: "Bearer x";
# HDR overrides the whole Authorization header). STATUS, $WORK/body, $WORK/headers;
# CURLRC is curl's exit status (52: the server closed without a reply).
api() {
    local args=(-s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$1"
                -H 'Accept: application/json')
    if [ -n "${HDR-}" ]; then args+=(-H "Authorization: $HDR")
    elif [ "${AUTH-}" != none ]; then args+=(-H "Authorization: Bearer ${AUTH-$TOKEN}"); fi
    : >"$WORK/body"
    CURLRC=0
    STATUS=$(curl "${args[@]}" "$BASE$2") || CURLRC=$?
}
ctl() { # ctl METHOD PATH [JSON]: the control API; body in $WORK/ctl, status in CTL
    CTL=$(curl -s -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} \
        -o "$WORK/ctl" -w '%{http_code}' "$BASE/_fake/$2") || CTL=000
}
jqt() { jq -e "$2" "$1" >/dev/null 2>&1; }
expect() { # expect DESC HTTP_STATUS JQ_FILTER
    if [ "$STATUS" = "$2" ] && jqt "$WORK/body" "$3"; then ok "$1"
    else bad "$1" "status=$STATUS body=$(head -c 300 "$WORK/body")"; fi
}
header() { tr -d '\r' <"$WORK/headers" | awk -v h="$(echo "$1" | tr A-Z a-z)" \
    'BEGIN{FS=": "} tolower($1)==h {print $2}'; }

# start NAME [ARGS...]: runs the fake, waits for its port file, sets BASE (http).
start() {
    local name=$1 i=0; shift
    python3 "$HERE/fake_k8s.py" --port-file "$WORK/$name.port" "$@" >/dev/null \
        2>"$WORK/$name.err" &
    PIDS+=($!)
    until [ -s "$WORK/$name.port" ]; do
        i=$((i + 1)); [ $i -lt 150 ] || { cat "$WORK/$name.err"; return 1; }
        sleep 0.1
    done
    PORT=$(cat "$WORK/$name.port")
}

printf '%s\n' "$TOKEN" >"$WORK/token"
start plain --token-file "$WORK/token" --node worker-1 \
    --user system:serviceaccount:kaiden-system:kaiden-agent
BASE="http://127.0.0.1:$PORT"

[ -z "${VERBOSE:-}" ] || echo "# a node, as the API server serves it"
api GET /api/v1/nodes/worker-1
expect "GET node: 200 Node worker-1" 200 '.kind == "Node" and .apiVersion == "v1"
    and .metadata.name == "worker-1" and (.metadata.resourceVersion | test("^[0-9]+$"))
    and (.metadata.uid | test("^[0-9a-f-]{36}$"))
    and .metadata.labels["kubernetes.io/hostname"] == "worker-1"
    and .metadata.labels["node-role.kubernetes.io/worker"] == ""'
check "GET node: JSON with Audit-Id" [ "$(header content-type)" = application/json ] 
check "GET node: an Audit-Id header" [ -n "$(header audit-id)" ]
expect "GET node: Ready True among the kubelet's conditions" 200 \
    '[.status.conditions[] | select(.type == "Ready")] == [.status.conditions[] |
      select(.type == "Ready" and .status == "True" and .reason == "KubeletReady")]
     and ([.status.conditions[].type] | sort) == ["DiskPressure","MemoryPressure","PIDPressure","Ready"]'
expect "GET node: spec.unschedulable absent (false is omitted)" 200 '.spec | has("unschedulable") | not'
expect "GET node: quantities as strings" 200 '.status.capacity.cpu == "4"
    and .status.allocatable.cpu == "3910m" and .status.capacity.memory == "16318644Ki"
    and .status.capacity.pods == "110" and .status.allocatable["ephemeral-storage"] == "93478772582"'
expect "GET node: nodeInfo versions" 200 '.status.nodeInfo.kubeletVersion == "v1.30.2"
    and .status.nodeInfo.containerRuntimeVersion == "containerd://1.7.13"
    and .status.nodeInfo.osImage == "Debian GNU/Linux 12 (bookworm)"
    and .status.nodeInfo.kernelVersion == "6.1.0-21-amd64"
    and .status.nodeInfo.operatingSystem == "linux" and .status.nodeInfo.architecture == "amd64"
    and (.status.nodeInfo | has("machineID") and has("systemUUID") and has("bootID") and has("kubeProxyVersion"))'
rv1=$(jq -r .metadata.resourceVersion "$WORK/body")

[ -z "${VERBOSE:-}" ] || echo "# who may ask"
UNAUTH='{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}'
AUTH=none api GET /api/v1/nodes/worker-1
check "no Authorization: 401, the real body byte for byte" [ "$STATUS:$(cat "$WORK/body")" = "401:$UNAUTH" ]
AUTH=wrong-token api GET /api/v1/nodes/worker-1
expect "a token it does not know: 401 Unauthorized" 401 '.reason == "Unauthorized" and .code == 401 and (has("details") | not)'
HDR="Basic $TOKEN" api GET /api/v1/nodes/worker-1
expect "Basic instead of Bearer: 401" 401 '.reason == "Unauthorized"'
ctl POST tokens '{"token":"no-rights-token","rights":[]}'
AUTH=no-rights-token api GET /api/v1/nodes/worker-1
expect "a token without rights: 403 with the RBAC message" 403 '.kind == "Status"
    and .status == "Failure" and .reason == "Forbidden" and .code == 403
    and .message == "nodes \"worker-1\" is forbidden: User \"system:serviceaccount:kaiden-system:kaiden-agent\" cannot get resource \"nodes\" in API group \"\" at the cluster scope"
    and .details == {"name":"worker-1","kind":"nodes"}'
api GET /api/v1/nodes
expect "list nodes with get-only rights: 403 cannot list" 403 '.message | test("cannot list resource \"nodes\"")'
api PUT /api/v1/nodes/worker-1
expect "PUT with get-only rights: 403 cannot update" 403 '.message | test("cannot update resource")'
ctl POST tokens '{"token":"rotated-token"}'
AUTH=rotated-token api GET /api/v1/nodes/worker-1
expect "a token added by the control API works" 200 '.metadata.name == "worker-1"'
ctl POST tokens '{"token":"rotated-token","remove":true}'
AUTH=rotated-token api GET /api/v1/nodes/worker-1
expect "a removed token: 401" 401 '.reason == "Unauthorized"'

[ -z "${VERBOSE:-}" ] || echo "# what is not there"
api GET /api/v1/nodes/worker-9
check "unknown node: 404, the real body byte for byte" [ "$STATUS:$(cat "$WORK/body")" = \
    '404:{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodes \"worker-9\" not found","reason":"NotFound","details":{"name":"worker-9","kind":"nodes"},"code":404}' ]
api GET /apis/batch/v1/jobs
expect "another path: 404 the server could not find the requested resource" 404 \
    '.message == "the server could not find the requested resource" and .details == {}'

[ -z "${VERBOSE:-}" ] || echo "# the control API changes the node"
ctl POST nodes/worker-1 '{"labels":{"team":"db","node-role.kubernetes.io/worker":null},"ready":"False","unschedulable":true,"capacity":{"cpu":"8","memory":"32Gi"},"allocatable":{"cpu":"7800m"}}'
check "control: a change answers 200" [ "$CTL" = 200 ]
api GET /api/v1/nodes/worker-1
expect "labels merged, one removed" 200 '.metadata.labels.team == "db"
    and (.metadata.labels | has("node-role.kubernetes.io/worker") | not)'
expect "Ready False with the kubelet's reason; one Ready condition" 200 \
    '[.status.conditions[] | select(.type == "Ready")] | length == 1 and .[0].status == "False" and .[0].reason == "KubeletNotReady"'
expect "cordoned: spec.unschedulable true" 200 '.spec.unschedulable == true'
expect "capacity and allocatable merged" 200 '.status.capacity.cpu == "8"
    and .status.capacity.memory == "32Gi" and .status.allocatable.cpu == "7800m"
    and .status.allocatable.memory == "15601844Ki"'
rv2=$(jq -r .metadata.resourceVersion "$WORK/body")
check "resourceVersion moved on ($rv1 -> $rv2)" [ "$rv2" -gt "$rv1" ]
ctl POST nodes/worker-1 '{"ready":"Unknown","unschedulable":false}'
api GET /api/v1/nodes/worker-1
expect "Ready Unknown (NodeStatusUnknown); uncordoned drops the field" 200 \
    '(.status.conditions[] | select(.type == "Ready") | .status == "Unknown" and .reason == "NodeStatusUnknown")
     and (.spec | has("unschedulable") | not)'
ctl POST nodes/worker-1 '{"ready":null}'
api GET /api/v1/nodes/worker-1
expect "ready null: no Ready condition at all" 200 '[.status.conditions[] | select(.type == "Ready")] == []'
ctl POST nodes/worker-1 '{"ready":"Maybe"}'
check "control: a bad ready value is refused (400)" [ "$CTL" = 400 ]
ctl POST nodes/worker-2 '{"replace_labels":{"only":"this"},"nodeInfo":{"kubeletVersion":"v1.35.0"}}'
api GET /api/v1/nodes/worker-2
expect "control: a new node from the template, labels replaced" 200 '.metadata.name == "worker-2"
    and .metadata.labels == {"only":"this"} and .status.nodeInfo.kubeletVersion == "v1.35.0"'
ctl PUT nodes/odd '{"kind":"Node","apiVersion":"v1","metadata":{"name":"x"},"status":{}}'
api GET /api/v1/nodes/odd
expect "control: PUT stores a node as given (name forced)" 200 '.metadata.name == "odd" and .status == {}'
ctl DELETE nodes/odd
api GET /api/v1/nodes/odd
expect "control: a deleted node is 404" 404 '.reason == "NotFound"'

[ -z "${VERBOSE:-}" ] || echo "# faults"
ctl POST faults '{"fail":[{"status":500,"path":"/nodes/worker-1$"}]}'
api GET /api/v1/nodes/worker-1
expect "fail 500: an InternalError Status" 500 '.kind == "Status" and .reason == "InternalError" and .code == 500'
api GET /api/v1/nodes/worker-1
expect "a fail rule with count 1 is used up" 200 '.kind == "Node"'
ctl POST faults '{"fail":[{"status":503,"retry_after":7,"count":2}]}'
api GET /api/v1/nodes/worker-1
expect "fail 503: ServiceUnavailable" 503 '.reason == "ServiceUnavailable"'
check "fail 503: Retry-After 7" [ "$(header retry-after)" = 7 ]
ctl POST faults '{"clear":true}'
api GET /api/v1/nodes/worker-1
expect "clear removes what was left of a rule" 200 '.kind == "Node"'
AUTH=none api GET /api/v1/nodes/worker-1
ctl POST faults '{"fail":[{"status":500}]}'
AUTH=none api GET /api/v1/nodes/worker-1
expect "auth is checked before faults (401, rule kept)" 401 '.reason == "Unauthorized"'
ctl POST faults '{"clear":true,"drop":[{"count":1}]}'
api GET /api/v1/nodes/worker-1
check "drop: closed with no reply (curl 52)" [ "$CURLRC" = 52 ]
ctl POST faults '{"garbage":[{}]}'
api GET /api/v1/nodes/worker-1
check "garbage: 200 that is not JSON" [ "$STATUS" = 200 ] 
check "garbage: the body does not parse" bash -c "! jq . '$WORK/body' >/dev/null 2>&1"
ctl POST faults '{"garbage":[{"body":"{\"kind\":\"Node\",\"metadata\":[]}"}]}'
api GET /api/v1/nodes/worker-1
check "garbage with a body: served as given" [ "$(cat "$WORK/body")" = '{"kind":"Node","metadata":[]}' ]

[ -z "${VERBOSE:-}" ] || echo "# holds: a request kept at the gate"
ctl POST holds '{"path":"/nodes/worker-1$"}'
hold=$(jq -r .id "$WORK/ctl")
curl -s -o "$WORK/held.body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "$BASE/api/v1/nodes/worker-1" >"$WORK/held.status" &
held_pid=$!
ctl POST "holds/$hold/wait" '{"timeout_s":10}'
check "hold: the request was caught" [ "$CTL" = 200 ]
check "hold: caught 1, held 1" jqt "$WORK/ctl" '.caught == 1 and .held == 1'
ctl GET counts
check "counts: one request held" jqt "$WORK/ctl" '.held == 1'
api GET /api/v1/nodes/worker-2
expect "hold: another request goes on meanwhile" 200 '.metadata.name == "worker-2"'
check "hold: the held request has no answer yet" kill -0 "$held_pid"
ctl POST "holds/$hold/release" '{}'
wait "$held_pid" || true
check "hold: released, it is answered 200" [ "$(cat "$WORK/held.status")" = 200 ]
check "hold: with the node" jqt "$WORK/held.body" '.metadata.name == "worker-1"'
ctl POST holds '{}'
hold=$(jq -r .id "$WORK/ctl")
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/nodes/worker-1" &
held_pid=$!
ctl POST "holds/$hold/wait" '{"timeout_s":10}'
ctl POST holds/release '{"drop":true}'
rc=0; wait "$held_pid" || rc=$?
check "hold released with drop: closed unanswered (curl 52)" [ "$rc" = 52 ]
ctl POST holds '{"path":"never-matches"}'
ctl POST "holds/$(jq -r .id "$WORK/ctl")/wait" '{"timeout_s":0.2}'
check "hold wait: 408 when nothing came" [ "$CTL" = 408 ]
ctl POST holds/release '{}'

[ -z "${VERBOSE:-}" ] || echo "# log, counts, wait"
ctl GET log
check "log: every API call, in order" jqt "$WORK/ctl" '[.requests[].seq] == [range(1; (.requests | length) + 1)]'
check "log: auth yes/no, Accept recorded" jqt "$WORK/ctl" '.requests[0].auth == "yes"
    and .requests[0].accept == "application/json" and ([.requests[].auth] | index("no") != null)'
check "log: a dropped reply has status null and its fault" jqt "$WORK/ctl" \
    '[.requests[] | select(.fault == "drop" or .fault == "hold_drop") | .status] == [null, null]'
check "log: the token is never recorded" bash -c "! grep -q '$TOKEN' '$WORK/ctl'"
ctl GET counts
check "counts: by status and by node" jqt "$WORK/ctl" '.by_status["401"] >= 4 and .by_node["worker-1"] >= 10 and .held == 0'
n=$(jq '.by_status["200"]' "$WORK/ctl")
ctl GET "wait?count=$((n + 1))&path=/api/v1/nodes/worker-2&timeout=0.3"
check "wait: 408 while the count is not reached" [ "$CTL" = 408 ]
(sleep 0.3; curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/nodes/worker-2") &
ctl GET "wait?count=2&path=/api/v1/nodes/worker-2&status=200&timeout=10"
check "wait: returns once a matching request was answered" [ "$CTL" = 200 ]
check "wait: lists the matching requests" jqt "$WORK/ctl" '.requests | length == 2 and all(.path == "/api/v1/nodes/worker-2")'
ctl POST reset '{}'
api GET /api/v1/nodes/worker-2
expect "reset: back to the start (worker-2 gone)" 404 '.reason == "NotFound"'
api GET /api/v1/nodes/worker-1
expect "reset: the --node node is back, Ready" 200 '.status.conditions[] | select(.type == "Ready") | .status == "True"'
check "the token is not in the fake's stderr" bash -c "! grep -q '$TOKEN' '$WORK/plain.err'"

[ -z "${VERBOSE:-}" ] || echo "# https with the test CA"
start tls --token-file "$WORK/token" --node worker-1 --tls-dir "$WORK/tls"
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --cacert "$WORK/tls/ca.crt" \
    -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/api/v1/nodes/worker-1") || code=000
check "https: verified with ca.crt, 200" [ "$code" = 200 ]
check "https: the node" jqt "$WORK/body" '.metadata.name == "worker-1"'
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/tls/ca.crt" \
    "https://localhost:$PORT/_fake/health") || code=000
check "https: the certificate names localhost too" [ "$code" = 200 ]
rc=0; curl -s -o /dev/null "https://127.0.0.1:$PORT/_fake/health" || rc=$?
check "https: refused without the test CA (curl 60)" [ "$rc" = 60 ]

SUMMARY_DONE=1
summary
