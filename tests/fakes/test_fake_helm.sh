#!/usr/bin/env bash
# test_fake_helm.sh: self-test of tests/fakes/fake_helm driving tests/fakes/fake_k8s.py, as
# kaiden-helperd will (issue 13): install -> status -> upgrade (revision 2) -> history ->
# rollback 1 (revision 3 with 1's values) -> uninstall; every error string of
# shared/ref/helm-cli.md section 5; an unknown flag; no cluster; a --wait timeout; pods in
# ImagePullBackOff at the fake; quota refusal without a LimitRange and acceptance with one;
# values from stdin nowhere but the release Secret; a gate and SIGTERM. Every -o json output
# is checked against tests/fakes/helm-schemas/ with python3-jsonschema (validate.py).
# Needs bash, curl, jq, python3 (Debian's, for jsonschema). Prints "test_fake_helm: N
# passed, N failed" (VERBOSE=1: every check) and exits 1 on any failure.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../scripts/lib.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-fake-helm.XXXXXX")
TOKEN="helm-selftest-token-$$-do-not-log"
SECRET="pw-from-stdin-$$-never-elsewhere"
SCHEMAS="$HERE/helm-schemas"
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

say() { [ -z "${VERBOSE:-}" ] || echo "# $*"; }
# h ARGS...: runs fake_helm as `helm`; RC, $WORK/out (stdout), $WORK/err (stderr).
# STDIN=FILE feeds it; otherwise stdin is empty.
h() {
    RC=0
    "$WORK/bin/helm" "$@" <"${STDIN:-/dev/null}" >"$WORK/out" 2>"$WORK/err" || RC=$?
}
# fails DESC EXACT-STDERR: the last helm exited 1, stdout empty, stderr exactly that
# `Error:` line (after the diagnostics real helm also writes there: OCI pulls, warnings).
fails() {
    local want="Error: $2" got
    got=$(grep -Ev '^(Pulled|Digest|WARNING): ' "$WORK/err" || true)
    if [ "$RC" = 1 ] && [ ! -s "$WORK/out" ] && [ "$got" = "$want" ]; then ok "$1"
    else bad "$1" "rc=$RC stdout=$(head -c 200 "$WORK/out") stderr=$(head -c 400 "$WORK/err") want=$want"; fi
}
succeeds() { # succeeds DESC: exit 0
    if [ "$RC" = 0 ]; then ok "$1"; else bad "$1" "rc=$RC stderr=$(head -c 400 "$WORK/err")"; fi
}
# valid DESC SCHEMA [JQ]: stdout is one compact JSON line valid against SCHEMA (and JQ holds)
valid() {
    local why
    if [ "$RC" != 0 ]; then bad "$1" "rc=$RC stderr=$(head -c 400 "$WORK/err")"; return; fi
    if ! why=$($PY "$SCHEMAS/validate.py" "$SCHEMAS/$2.schema.json" "$WORK/out" 2>&1); then
        bad "$1" "schema $2: $why"; return
    fi
    if [ -n "${3-}" ] && ! jq -e "$3" "$WORK/out" >/dev/null 2>&1; then
        bad "$1" "jq '$3' fails on $(head -c 400 "$WORK/out")"; return
    fi
    ok "$1"
}
ctl() { # ctl METHOD PATH [JSON]: the fake API's control calls; $WORK/ctl, CTL status
    CTL=$(curl -s -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} \
        -o "$WORK/ctl" -w '%{http_code}' "$API/_fake/$2") || CTL=000
}
api() { # api METHOD PATH [JSON]: the API with the token; $WORK/body, STATUS
    STATUS=$(curl -s -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} -o "$WORK/body" -w '%{http_code}' "$API$2") || STATUS=000
}
jqt() { jq -e "$2" "$1" >/dev/null 2>&1; }
expect() { # expect DESC HTTP_STATUS JQ: the last api call
    if [ "$STATUS" = "$2" ] && jqt "$WORK/body" "$3"; then ok "$1"
    else bad "$1" "status=$STATUS body=$(head -c 400 "$WORK/body")"; fi
}
pods_of() { # pods_of NS RELEASE: the PodList of a release's pods
    api GET "/api/v1/namespaces/$1/pods?labelSelector=app.kubernetes.io%2Finstance%3D$2"
}
# until_ok SECONDS CMD...: retries CMD (a cheap read) until it holds, at most SECONDS.
until_ok() {
    local limit=$(($1 * 20)) i=0; shift
    until "$@"; do i=$((i + 1)); [ $i -lt $limit ] || return 1; sleep 0.05; done
}

# --- the fake API and the catalog ------------------------------------------------------------
printf '%s\n' "$TOKEN" >"$WORK/token"
python3 "$HERE/fake_k8s.py" --port-file "$WORK/k8s.port" --token-file "$WORK/token" \
    --user system:serviceaccount:kaiden-system:kaiden-helperd >/dev/null 2>"$WORK/k8s.err" &
PIDS+=($!)
until_ok 15 test -s "$WORK/k8s.port" || { cat "$WORK/k8s.err"; exit 1; }
API="http://127.0.0.1:$(cat "$WORK/k8s.port")"
mkdir -p "$WORK/bin" "$WORK/helm/cache" "$WORK/helm/config" "$WORK/helm/data"
# `helm` runs the fake under Debian's python3 (a pyenv shim costs half a second a call);
# the executable itself is run once below.
printf '#!/bin/sh\nexec %s %s "$@"\n' "$PY" "$HERE/fake_helm" >"$WORK/bin/helm"
chmod +x "$WORK/bin/helm"
cat >"$WORK/charts.json" <<EOF
{
 "oci://registry-1.docker.io/bitnamicharts/postgresql": {"name": "postgresql", "versions": {
   "17.1.0": {"app_version": "17.6.0", "description": "PostgreSQL <relational> & open",
     "values": {"auth": {"postgresPassword": "", "database": "postgres"},
                "primary": {"persistence": {"size": "8Gi"}, "resources": {}}},
     "notes": "PostgreSQL can be accessed via port 5432",
     "pods": [{"name": "primary", "containers": [{"name": "postgresql",
       "image": "docker.io/bitnami/postgresql:17.6.0", "resources_value": "primary.resources"}]}]},
   "16.7.27": {"app_version": "16.9.0", "values": {"auth": {"database": "postgres"}},
     "pods": [{"name": "primary", "containers": [{"name": "postgresql", "image": "pg:16"}]}]}}},
 "https://charts.example/": {"charts": {
   "redis": {"name": "redis", "versions": {"23.1.1": {"app_version": "8.2.1",
     "values": {"architecture": "replication", "auth": {"enabled": true}}, "start": "ready",
     "pods": [{"name": "master", "containers": [{"name": "redis", "image": "redis:8"}]}]}}},
   "broken": {"name": "broken", "versions": {"1.0.0": {"app_version": "1",
     "fail": "failed pre-install: job failed: BackoffLimitExceeded", "pods": []}}},
   "slow": {"name": "slow", "versions": {"1.0.0": {"app_version": "1", "gate": "$WORK/gate",
     "start": "ready", "pods": [{"containers": [{"name": "slow", "image": "slow:1"}]}]}}}}},
 "oci://8gears.container-registry.com/library/n8n": {"name": "n8n", "versions": {
   "1.1.0": {"app_version": "1.116.2", "values": {"main": {"resources": {}}},
     "pods": [{"containers": [{"name": "n8n", "image": "n8nio/n8n:1.116.2",
                               "resources_value": "main.resources"}]}]}}}
}
EOF
export PATH="$WORK/bin:$PATH" FAKE_HELM_CHARTS="$WORK/charts.json" FAKE_HELM_LOG="$WORK/helm.log"
export FAKE_HELM_POLL_MS=50
export HELM_CACHE_HOME="$WORK/helm/cache" HELM_CONFIG_HOME="$WORK/helm/config" HELM_DATA_HOME="$WORK/helm/data"
unset KUBECONFIG HELM_KUBEAPISERVER HELM_KUBETOKEN HELM_NAMESPACE KUBERNETES_SERVICE_HOST || true
export HOME="$WORK/home"
PG=oci://registry-1.docker.io/bitnamicharts/postgresql
NS=paas-ws-t1

say "version; the cluster must be given"
check "the executable itself runs: version" bash -c "'$HERE/fake_helm' version | grep -q '^version.BuildInfo{Version:\"v3.21.4\"'"
h version --short
check "version --short: v3.21.4+g813176c" [ "$RC:$(cat "$WORK/out")" = "0:v3.21.4+g813176c" ]
h status pg -n "$NS"
fails "no cluster given: status refuses" \
    'Kubernetes cluster unreachable: Get "http://localhost:8080/version": dial tcp 127.0.0.1:8080: connect: connection refused'
h install pg "$PG" --version 17.1.0 -n "$NS"
fails "no cluster given: install refuses (wrapped)" \
    'INSTALLATION FAILED: Kubernetes cluster unreachable: Get "http://localhost:8080/version": dial tcp 127.0.0.1:8080: connect: connection refused'
check "...and nothing was stored" [ "$(curl -s "$API/_fake/objects?resource=secrets" | jq '.objects | length')" = 0 ]
export HELM_KUBEAPISERVER="$API" HELM_KUBETOKEN=wrong-token
h list -n "$NS"
fails "a token the API refuses: unreachable, as client-go words a 401" \
    'Kubernetes cluster unreachable: the server has asked for the client to provide credentials'
export HELM_KUBETOKEN="$TOKEN"

say "flags helm does not have, and bad values"
h install pg "$PG" --bogus
fails "unknown flag" "unknown flag: --bogus"
h status pg -z
fails "unknown shorthand flag" "unknown shorthand flag: 'z' in -z"
h install pg "$PG" -n "$NS" --timeout 300
fails "--timeout without a unit" 'invalid argument "300" for "--timeout" flag: time: missing unit in duration "300"'
h status pg -n "$NS" -o xml
fails "-o xml" 'invalid argument "xml" for "-o, --output" flag: invalid format type'
h status
fails "status without its argument: the usage line" "\"helm status\" requires 1 argument

Usage:  helm status RELEASE_NAME [flags]"
h rollback pg x -n "$NS"
fails "rollback to a revision that is not a number" \
    'could not convert revision to a number: strconv.Atoi: parsing "x": invalid syntax'

say "install: namespace, chart and name errors"
h install pg "$PG" --version 17.1.0 -n "$NS"
fails "a namespace that does not exist, without --create-namespace" \
    "INSTALLATION FAILED: create: failed to create: namespaces \"$NS\" not found"
h install pg redis --repo https://charts.example/ --version 99.0.0 -n "$NS" --create-namespace
fails "--repo: no such version" 'INSTALLATION FAILED: chart "redis" version "99.0.0" not found in https://charts.example/ repository'
h install pg postgresql --repo https://charts.example/ -n "$NS"
fails "--repo: no such chart" 'INSTALLATION FAILED: chart "postgresql" not found in https://charts.example/ repository'
h install pg postgresql --repo https://nowhere.example/ -n "$NS"
fails "--repo: not a repository" 'INSTALLATION FAILED: looks like "https://nowhere.example/" is not a valid chart repository or cannot be reached: failed to fetch https://nowhere.example/index.yaml : 404 Not Found'
h install pg bitnami/postgresql -n "$NS"
fails "repo/chart, repo never added" "INSTALLATION FAILED: repo bitnami not found"
h install pg ./charts/pg -n "$NS"
fails "a local path that is not there" 'INSTALLATION FAILED: path "./charts/pg" not found'
h install pg "$PG" --version 99.0.0 -n "$NS"
fails "OCI: no tag matches" "INSTALLATION FAILED: Could not locate a version matching provided version string 99.0.0"
h install Bad_Name "$PG" --version 17.1.0 -n "$NS" --create-namespace
fails "an invalid release name" 'INSTALLATION FAILED: release name "Bad_Name": invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53'
h install pg "$PG" --version 17.1.0 -n "$NS" --set 'auth.postgresPassword=a,b'
fails "--set with a comma in a value" 'INSTALLATION FAILED: failed parsing --set data: key "b" has no value'

say "install with values on stdin"
printf 'auth:\n  postgresPassword: "%s"  # from stdin\n  database: app\nprimary:\n  persistence:\n    size: 2Gi\n' \
    "$SECRET" >"$WORK/values1.yaml"
STDIN="$WORK/values1.yaml" h install pg "$PG" --version '^17.0.0' -n "$NS" --create-namespace \
    -f - --set primary.persistence.size=4Gi -o json
valid "install -o json: the release with its chart" release-full '.version == 1
    and .info.status == "deployed" and .info.description == "Install complete"
    and .chart.metadata.version == "17.1.0" and .config.primary.persistence.size == "4Gi"'
check "OCI pull reported on stderr" grep -q '^Pulled: registry-1.docker.io/bitnamicharts/postgresql:17.1.0$' "$WORK/err"
check "install -o json escapes <, > and & as Go does" grep -qF 'PostgreSQL \u003crelational\u003e \u0026 open' "$WORK/out"
api GET "/api/v1/namespaces/$NS"
expect "--create-namespace made the namespace, labelled name=$NS" 200 ".metadata.labels.name == \"$NS\""
api GET "/api/v1/namespaces/$NS/secrets?labelSelector=owner%3Dhelm%2Cname%3Dpg"
expect "one release Secret per revision, Helm's name, type and labels" 200 \
    '.items | length == 1 and .[0].metadata.name == "sh.helm.release.v1.pg.v1"
     and .[0].type == "helm.sh/release.v1" and .[0].metadata.labels.owner == "helm"
     and .[0].metadata.labels.status == "deployed" and .[0].metadata.labels.version == "1"
     and .[0].metadata.labels.name == "pg"'
decoded() { jq -r '.items[0].data.release' "$WORK/body" | base64 -d | base64 -d | gzip -dc; }
check "data.release = base64(gzip(release JSON)), the values inside" \
    bash -c "$(declare -f decoded); WORK='$WORK' decoded | jq -e '.config.auth.postgresPassword == \"$SECRET\"' >/dev/null"
pods_of "$NS" pg
expect "the release's pods exist, labelled instance/name, not ready yet" 200 \
    '.kind == "PodList" and (.items | length) == 1
     and .items[0].metadata.labels["app.kubernetes.io/name"] == "postgresql"
     and (.items[0] | has("kind") | not) and .items[0].status.phase == "Pending"
     and (.items[0].status.conditions[] | select(.type == "Ready") | .status) == "False"
     and .items[0].status.containerStatuses[0].state.waiting.reason == "ContainerCreating"'

h status pg -n "$NS" -o json
valid "status -o json: chart absent, deleted \"\"" release-status '.info.deleted == "" and .version == 1
    and .namespace == "'"$NS"'" and .info.notes == "PostgreSQL can be accessed via port 5432"'
h status pg -n default
fails "right name, wrong namespace" "release: not found"
h status nope -n "$NS"
fails "status of an unknown release" "release: not found"
h history nope -n "$NS"
fails "history of an unknown release" "release: not found"
h install pg "$PG" --version 17.1.0 -n "$NS"
fails "install over a name in use" "INSTALLATION FAILED: cannot re-use a name that is still in use"
h get values pg -n "$NS" -o json
valid "get values -o json: the user-supplied values only" get-values \
    '. == {"auth":{"database":"app","postgresPassword":"'"$SECRET"'"},"primary":{"persistence":{"size":"4Gi"}}}'
h get values pg -n "$NS" -a -o json
valid "get values -a: chart defaults under them" get-values '.primary.resources == {} and .auth.database == "app"'

say "upgrade: revision 2, new values replace old ones"
h upgrade pg "$PG" --version 17.1.0 -n "$NS" --set auth.database=two -o json
valid "upgrade with --set only: revision 2, old user values dropped" release-full \
    '.version == 2 and .config == {"auth":{"database":"two"}} and .info.description == "Upgrade complete"'
h upgrade pg "$PG" --version 17.1.0 -n "$NS" --reuse-values --set primary.persistence.size=9Gi -o json
valid "--reuse-values keeps the old ones: revision 3" release-full \
    '.version == 3 and .config == {"auth":{"database":"two"},"primary":{"persistence":{"size":"9Gi"}}}'
h upgrade pg "$PG" --version 17.1.0 -n "$NS" --reset-values --reuse-values -o json
valid "--reset-values wins: chart defaults only, revision 4" release-full '.version == 4 and (has("config") | not)'
h get values pg -n "$NS" -o json
valid "get values of a release without user values: null" get-values '. == null'
h history pg -n "$NS" -o json
valid "history -o json: four revisions, numbers, one deployed" history \
    '[.[].revision] == [1,2,3,4] and [.[].status] == ["superseded","superseded","superseded","deployed"]
     and .[0].chart == "postgresql-17.1.0" and .[0].app_version == "17.6.0"'
h list -n "$NS" -o json
valid "list -o json: revision a string" list '. | length == 1 and .[0].revision == "4"
    and .[0].chart == "postgresql-17.1.0" and .[0].status == "deployed"'
h rollback pg 1 -n "$NS"
check "rollback 1: the success line" [ "$RC:$(cat "$WORK/out")" = "0:Rollback was a success! Happy Helming!" ]
h status pg -n "$NS" -o json
valid "rollback made revision 5, described Rollback to 1" release-status \
    '.version == 5 and .info.description == "Rollback to 1" and .info.status == "deployed"'
h get values pg -n "$NS" -o json
valid "...with revision 1's values" get-values '.auth.postgresPassword == "'"$SECRET"'" and .primary.persistence.size == "4Gi"'
h rollback pg 42 -n "$NS"
fails "rollback to a revision that does not exist" "release has no 42 version"
h rollback nope -n "$NS"
fails "rollback of an unknown release" "release: not found"
h upgrade nope "$PG" -n "$NS"
fails "upgrade of an unknown release" 'UPGRADE FAILED: "nope" has no deployed releases'
h list -q -o json -n "$NS"
valid "list -q -o json: names" list-short '. == ["pg"]'
h list -n empty-ns -o json
valid "list with nothing: []" list '. == []'

say "a second helm process sees the same state (pending lock)"
: >"$WORK/gate"
h install slow slow --repo https://charts.example/ -n "$NS" &
SLOW=$!
until_ok 10 bash -c "curl -s '$API/_fake/objects?resource=secrets' | jq -e '.objects[] | select(.metadata.labels.name == \"slow\" and .metadata.labels.status == \"pending-install\")' >/dev/null"
check "a gated install stores its pending-install revision first" [ $? = 0 ]
h upgrade slow slow --repo https://charts.example/ -n "$NS"
fails "another helm meanwhile: the pending lock" "UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress"
rm -f "$WORK/gate"
wait "$SLOW" && RC=0 || RC=$?
check "the gate removed: the install ends well" [ "$RC" = 0 ]

say "SIGTERM during an install"
: >"$WORK/gate"
"$WORK/bin/helm" install slow2 slow --repo https://charts.example/ -n "$NS" >"$WORK/term.out" 2>"$WORK/term.err" &
TERM_PID=$!
until_ok 10 bash -c "curl -s '$API/_fake/objects?resource=secrets' | jq -e '.objects[] | select(.metadata.labels.name == \"slow2\")' >/dev/null" || true
kill -TERM "$TERM_PID"
RC=0; wait "$TERM_PID" || RC=$?
check "SIGTERM: 'Release slow2 has been cancelled.' on stdout, exit 1" \
    [ "$RC:$(cat "$WORK/term.out")" = "1:Release slow2 has been cancelled." ]
check "...and the context error on stderr" [ "$(cat "$WORK/term.err")" = "Error: INSTALLATION FAILED: context canceled" ]
rm -f "$WORK/gate"
h history slow2 -n "$NS" -o json
valid "...the revision is failed" history '.[0].status == "failed" and .[0].description == "Release \"slow2\" failed: context canceled"'

say "--wait: readiness from the fake's pods"
h install cache redis --repo https://charts.example/ -n "$NS" --wait --timeout 10s -o json
valid "a chart whose pods start ready: --wait succeeds" release-full '.info.status == "deployed"'
h install pg2 "$PG" --version 17.1.0 -n "$NS" --wait --timeout 300ms
fails "--wait on pods that never get ready: context deadline exceeded" "INSTALLATION FAILED: context deadline exceeded"
h status pg2 -n "$NS" -o json
valid "...the release is failed, with helm's description" release-status \
    '.info.status == "failed" and .info.description == "Release \"pg2\" failed: context deadline exceeded"'
h list -n "$NS" -o json
valid "list shows deployed and failed by default" list '[.[].name] == ["cache","pg","pg2","slow","slow2"] and (map(select(.name == "pg2"))[0].status == "failed")'
h install pg3 "$PG" --version 17.1.0 -n "$NS" --atomic --timeout 200ms
fails "--atomic timeout: uninstalled" "INSTALLATION FAILED: release pg3 failed, and has been uninstalled due to atomic being set: context deadline exceeded"
h status pg3 -n "$NS"
fails "...nothing left of it" "release: not found"
ctl POST pods "{\"namespace\":\"$NS\",\"instance\":\"pg2\",\"state\":\"ImagePullBackOff\"}"
check "control: the release's pods set (200)" [ "$CTL" = 200 ]
pods_of "$NS" pg2
expect "pods in ImagePullBackOff, as kubelet reports them" 200 \
    '.items[0].status.containerStatuses[0].state.waiting.reason == "ImagePullBackOff"
     and (.items[0].status.containerStatuses[0].state.waiting.message | startswith("Back-off pulling image"))
     and .items[0].status.phase == "Pending"'
ctl POST pods "{\"namespace\":\"$NS\",\"instance\":\"pg2\",\"state\":\"CrashLoopBackOff\"}"
pods_of "$NS" pg2
expect "pods in CrashLoopBackOff: Running, restarts, last state Error" 200 \
    '.items[0].status.phase == "Running" and .items[0].status.containerStatuses[0].state.waiting.reason == "CrashLoopBackOff"
     and .items[0].status.containerStatuses[0].restartCount > 0'
ctl POST pods "{\"namespace\":\"$NS\",\"instance\":\"pg2\",\"state\":\"ready\"}"
h upgrade pg2 "$PG" --version 17.1.0 -n "$NS" --wait --timeout 10s -o json
valid "upgrade of a failed release, pods made ready by the test: deployed" release-full \
    '.version == 2 and .info.status == "deployed"'
h install bad broken --repo https://charts.example/ -n "$NS"
fails "a chart that fails on install: its message" "INSTALLATION FAILED: failed pre-install: job failed: BackoffLimitExceeded"
h upgrade --install bad broken --repo https://charts.example/ -n "$NS" -o json
fails "upgrade --install over a failed release: UPGRADE FAILED" "UPGRADE FAILED: failed pre-install: job failed: BackoffLimitExceeded"
h upgrade --install fresh broken --repo https://charts.example/ -n "$NS" -o json
fails "upgrade --install of a new release: the install's error, unprefixed" "failed pre-install: job failed: BackoffLimitExceeded"

say "quota: refused without a LimitRange, accepted with one"
Q=paas-ws-q
h install n8n oci://8gears.container-registry.com/library/n8n --version 1.1.0 -n "$Q" --create-namespace
api POST "/api/v1/namespaces/$Q/resourcequotas" '{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"paas-quota"},"spec":{"hard":{"requests.cpu":"2","requests.memory":"4Gi","limits.cpu":"4","limits.memory":"8Gi","pods":"20"}}}'
expect "a ResourceQuota in the namespace: 201" 201 '.status.hard["limits.cpu"] == "4"'
h uninstall n8n -n "$Q"
h install n8n oci://8gears.container-registry.com/library/n8n --version 1.1.0 -n "$Q" --wait --timeout 300ms
fails "a chart without resources under a cpu/memory quota: --wait times out" "INSTALLATION FAILED: context deadline exceeded"
pods_of "$Q" n8n
expect "...no pod was created" 200 '.items == []'
api GET "/api/v1/namespaces/$Q/events"
expect "...a FailedCreate event with the quota's message" 200 \
    '[.items[] | select(.reason == "FailedCreate") | .message][0] | test("^Error creating: pods \".*\" is forbidden: failed quota: paas-quota: must specify limits.cpu,limits.memory,requests.cpu,requests.memory$")'
api POST "/api/v1/namespaces/$Q/pods" '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bare"},"spec":{"containers":[{"name":"c","image":"x"}]}}'
expect "a pod created directly: 403 Forbidden, the real message" 403 \
    '.reason == "Forbidden" and .message == "pods \"bare\" is forbidden: failed quota: paas-quota: must specify limits.cpu,limits.memory,requests.cpu,requests.memory" and .details == {"name":"bare","kind":"pods"}'
api POST "/api/v1/namespaces/$Q/limitranges" '{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"paas-defaults"},"spec":{"limits":[{"type":"Container","default":{"cpu":"500m","memory":"512Mi"},"defaultRequest":{"cpu":"100m","memory":"128Mi"}}]}}'
expect "a LimitRange with defaults: 201" 201 '.spec.limits[0].defaultRequest.cpu == "100m"'
pods_of "$Q" n8n
expect "with the LimitRange the pod is created, defaults filled in" 200 \
    '.items | length == 1 and .[0].spec.containers[0].resources.limits.cpu == "500m"
     and .[0].spec.containers[0].resources.requests.memory == "128Mi"'
api GET "/api/v1/namespaces/$Q/resourcequotas/paas-quota"
expect "the quota's status.used counts it" 200 '.status.used["limits.cpu"] == "500m" and .status.used.pods == "1"'
ctl POST pods "{\"namespace\":\"$Q\",\"instance\":\"n8n\",\"state\":\"ready\"}"
h upgrade n8n oci://8gears.container-registry.com/library/n8n --version 1.1.0 -n "$Q" --wait --timeout 10s -o json
valid "...and an upgrade with --wait deploys" release-full '.info.status == "deployed" and .version == 2'

say "a RoleBinding (helperd's own, rbac.authorization.k8s.io/v1)"
RBP="/apis/rbac.authorization.k8s.io/v1/namespaces/$Q/rolebindings"
RB='{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"kaiden-helperd"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"kaiden-helperd-tenant"},"subjects":[{"kind":"ServiceAccount","name":"kaiden-helperd","namespace":"kaiden-system"}]}'
api POST "$RBP" "$RB"
expect "created: 201, its group's apiVersion" 201 \
    '.apiVersion == "rbac.authorization.k8s.io/v1" and .metadata.namespace == "paas-ws-q" and .roleRef.name == "kaiden-helperd-tenant"'
api POST "$RBP" "$RB"
expect "again: 409 AlreadyExists, the group in the message and details" 409 \
    '.reason == "AlreadyExists" and .message == "rolebindings.rbac.authorization.k8s.io \"kaiden-helperd\" already exists" and .details.group == "rbac.authorization.k8s.io"'
api GET "$RBP/kaiden-helperd"
expect "GET it" 200 '.subjects[0].namespace == "kaiden-system"'
api PUT "$RBP/kaiden-helperd" '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"kaiden-helperd"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"admin"}}'
expect "its roleRef cannot change: 422" 422 '.reason == "Invalid" and (.message | test("cannot change roleRef"))'
api POST "$RBP" '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"x"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Foo","name":"y"}}'
expect "a roleRef of another kind: 422" 422 '.details.causes[0].field == "roleRef.kind"'
api POST "/apis/rbac.authorization.k8s.io/v1/namespaces/paas-ws-none/rolebindings" "$RB"
expect "in a namespace that does not exist: 404" 404 '.message == "namespaces \"paas-ws-none\" not found"'

say "uninstall"
h uninstall pg -n "$NS" --keep-history
check "uninstall --keep-history: the line on stdout" [ "$RC:$(cat "$WORK/out")" = '0:release "pg" uninstalled' ]
h list -n "$NS" --uninstalled -o json
valid "list --uninstalled shows it" list '[.[].name] == ["pg"] and .[0].status == "uninstalled"'
pods_of "$NS" pg
expect "its pods are gone" 200 '.items == []'
h install pg "$PG" --version 17.1.0 -n "$NS"
fails "install over a kept uninstalled release" "INSTALLATION FAILED: cannot re-use a name that is still in use"
h upgrade --install pg "$PG" --version 17.1.0 -n "$NS" -o json
valid "upgrade --install replaces it: a new revision" release-full '.info.status == "deployed" and .version > 5'
h uninstall pg -n "$NS"
check "uninstall: the line on stdout" [ "$RC:$(cat "$WORK/out")" = '0:release "pg" uninstalled' ]
api GET "/api/v1/namespaces/$NS/secrets?labelSelector=owner%3Dhelm%2Cname%3Dpg"
expect "every revision's Secret is gone" 200 '.items == []'
api GET "/api/v1/namespaces/$NS"
expect "the namespace stays" 200 '.status.phase == "Active"'
h uninstall pg -n "$NS"
fails "uninstall of an unknown release" "uninstall: Release not loaded: pg: release: not found"
h uninstall pg -n "$NS" --ignore-not-found
check "--ignore-not-found: exit 0" [ "$RC" = 0 ]

say "the fake API's own faults reach helm"
ctl POST faults '{"fail":[{"status":500,"method":"POST","resource":"secrets","count":1}]}'
h install pgf "$PG" --version 17.1.0 -n "$NS"
fails "a 500 on the Secret create: helm's storage error" \
    "INSTALLATION FAILED: create: failed to create: Internal error occurred: etcdserver: request timed out"
ctl POST faults '{"fail":[{"status":403,"method":"GET","resource":"secrets","count":1}]}'
h status cache -n "$NS"
fails "a 403 on the Secret list: the RBAC message" \
    "query: failed to query with labels: secrets is forbidden: User \"system:serviceaccount:kaiden-system:kaiden-helperd\" cannot list resource \"secrets\" in API group \"\" in the namespace \"$NS\""

say "secrets stay secret"
check "the stdin value is in no argv the fake recorded" bash -c "! grep -qF '$SECRET' '$WORK/helm.log'"
check "the token is never in the fake's log (HELM_KUBETOKEN only as \"set\")" \
    bash -c "! grep -qF '$TOKEN' '$WORK/helm.log' && grep -q '\"HELM_KUBETOKEN\": \"set\"' '$WORK/helm.log'"
check "stdin was read (its size recorded, not its content)" grep -q '"stdin_bytes": [1-9]' "$WORK/helm.log"
check "no file under the helm homes or HOME holds the value" \
    bash -c "! grep -rqF '$SECRET' '$WORK/helm' '$WORK/home' 2>/dev/null"
curl -s "$API/_fake/objects" >"$WORK/all.json"
only_secrets() {
    jq -e --arg s "$SECRET" '[.objects[] | select(.kind != "Secret") | tostring | select(contains($s))] == []' "$WORK/all.json" >/dev/null
}
check "in the cluster, no object but release Secrets holds it" only_secrets
check "the token is not in the fake API's log" bash -c "! curl -s '$API/_fake/log' | grep -qF '$TOKEN'"

SUMMARY_DONE=1
summary
