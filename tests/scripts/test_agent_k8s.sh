#!/usr/bin/env bash
# test_agent_k8s.sh: kaiden-agent in cluster mode (issue 12) against
# tests/fakes/fake_k8s.py. Checks: the flags' combinations are refused with clear errors
# (exit 2); two agents of one cluster (--node-name, and NODE_NAME as the downward API sets
# it) each read their own node at start; a label change, NotReady, a cordon and a new
# capacity at the fake are logged within the refresh period, and readings without a
# change are not; a rotated token (401), no rights (403), a deleted node (404) and a 500
# are logged once each as a reason and the agent goes on; the token file is re-read, so
# the agent recovers once the token works again; a request held at the fake's gate does
# not keep SIGTERM from stopping the agent at once; in a pod (KUBERNETES_SERVICE_HOST
# and _PORT) https with --k8s-ca-file works, and without it fails verification; the
# token never reaches a log.
#   B=build bash tests/scripts/test_agent_k8s.sh
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/scripts/lib.sh
B=${B:-build}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-agent-k8s.XXXXXX")
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

AGENT=$B/bin/kaiden-agent
if [ ! -x "$AGENT" ]; then
	bad "kaiden-agent is built" "$AGENT is missing (make)"
	summary
	exit 1
fi
TOKEN="agent-k8s-token-$$-never-logged"
printf '%s\n' "$TOKEN" >"$WORK/token"
cp "$WORK/token" "$WORK/token2"  # agent 2's: a rotation of agent 1's does not touch it
printf 'cluster-secret-x\n' >"$WORK/secret" && chmod 600 "$WORK/secret"
SERVER=ws://127.0.0.1:1/api/v1/ws/agent
unset NODE_NAME KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT

# refused DESC PATTERN ARGS...: the agent exits 2 at start-up saying PATTERN.
refused() {
	local desc=$1 pattern=$2 rc
	shift 2
	timeout 10 "$AGENT" --server "$SERVER" --insecure --secret-file "$WORK/secret" "$@" \
		>"$WORK/refused.out" 2>&1
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q -- "$pattern" "$WORK/refused.out"; then ok "$desc"
	else bad "$desc" "exit $rc: $(head -c 400 "$WORK/refused.out")"; fi
}

K8S=(--k8s-api http://127.0.0.1:9 --k8s-token-file "$WORK/token")
refused "a device id and a cluster id together" "both a device id and a cluster id" \
	--device-id d --cluster-id c1 --node-name worker-1 "${K8S[@]}"
refused "cluster mode without a node name" "no node name: --node-name, KAIDEN_NODE_NAME or NODE_NAME" \
	--cluster-id c1 "${K8S[@]}"
refused "--node-name without a cluster id" "agent.node_name is set (command line) but there is no cluster id" \
	--device-id d --node-name worker-1
KAIDEN_NODE_REFRESH=5 refused "KAIDEN_NODE_REFRESH without a cluster id" \
	"agent.node_refresh is set (environment) but there is no cluster id" --device-id d
refused "--k8s-api without a cluster id" "k8s.api is set" --device-id d --k8s-api https://x
refused "--node-refresh 0" "agent.node_refresh" --cluster-id c1 --node-name worker-1 \
	"${K8S[@]}" --node-refresh 0
refused "an invalid node name (a path in the URL)" "not a Kubernetes node name" \
	--cluster-id c1 --node-name ../secrets "${K8S[@]}"
refused "an invalid cluster id" "the cluster id must be 1 to 64" --cluster-id 'c 1' \
	--node-name worker-1 "${K8S[@]}"
timeout 10 "$AGENT" --server "$SERVER" --secret-file "$WORK/secret" --cluster-id c1 \
	--node-name worker-1 --k8s-api http://127.0.0.1:9 >"$WORK/refused.out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q "http:// is not encrypted" "$WORK/refused.out"; then
	ok "an http:// Kubernetes API without --insecure"
else
	bad "an http:// Kubernetes API without --insecure" "exit $rc: $(cat "$WORK/refused.out")"
fi
refused "not in a pod and no --k8s-api" "not in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT" \
	--cluster-id c1 --node-name worker-1
refused "an unreadable --k8s-ca-file" "k8s_ca_file=/nonexistent/ca.crt cannot be read" \
	--cluster-id c1 --node-name worker-1 --k8s-api https://127.0.0.1:9 --k8s-ca-file /nonexistent/ca.crt
refused "credentials in --k8s-api (and not echoed)" "credentials in the Kubernetes API URL" \
	--cluster-id c1 --node-name worker-1 --k8s-api https://u:hunter2@127.0.0.1:9
check "the URL's password is not echoed" bash -c "! grep -q hunter2 '$WORK/refused.out'"

# start_fake NAME ARGS...: the fake on a free port; sets API.
start_fake() {
	local name=$1 i=0
	shift
	python3 tests/fakes/fake_k8s.py --port-file "$WORK/$name.port" --token-file "$WORK/token" \
		"$@" >/dev/null 2>"$WORK/$name.err" &
	PIDS+=($!)
	until [ -s "$WORK/$name.port" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || return 1
		sleep 0.1
	done
	PORT=$(cat "$WORK/$name.port")
}
ctl() { # ctl METHOD PATH [JSON]: the fake's control API; CTL is the HTTP status
	CTL=$(curl -s -X "$1" ${3:+--data "$3"} -o "$WORK/ctl" -w '%{http_code}' \
		"$API/_fake/$2") || CTL=000
}
# wait_log FILE EXTENDED-REGEX [SECONDS]: until a line of FILE matches (the agent logs a
# reading as soon as it has it; this waits for that line, it does not sample).
wait_log() {
	local limit=$((${3:-15} * 10)) i=0
	until grep -Eq -- "$2" "$1"; do
		i=$((i + 1))
		[ $i -lt $limit ] || return 1
		sleep 0.1
	done
}
# answered N PATH: blocks until the fake has answered N reads of PATH.
answered() {
	ctl GET "wait?count=$1&path=$2&timeout=20"
	[ "$CTL" = 200 ]
}
jqt() { jq -e "$1" "$WORK/ctl" >/dev/null; }  # jqt FILTER: it holds for the last control reply
reads_of() { ctl GET counts; jq -r --arg n "$1" '.by_node[$n] // 0' "$WORK/ctl"; }

if ! start_fake plain --node worker-1 --node worker-2; then
	bad "fake_k8s.py starts" "$(cat "$WORK/plain.err")"
	summary
	exit 1
fi
API="http://127.0.0.1:$PORT"

# Two agents of one cluster, one node each, reading every second.
"$AGENT" --server "$SERVER" --insecure --secret-file "$WORK/secret" --cluster-id c1 \
	--node-name worker-1 --k8s-api "$API" --k8s-token-file "$WORK/token" --node-refresh 1 \
	>"$WORK/a1.log" 2>&1 &
A1=$!
PIDS+=($A1)
NODE_NAME=worker-2 KAIDEN_CLUSTER_ID=c1 KAIDEN_K8S_API=$API KAIDEN_K8S_TOKEN_FILE=$WORK/token2 \
	KAIDEN_NODE_REFRESH=1 "$AGENT" --server "$SERVER" --insecure --secret-file "$WORK/secret" \
	>"$WORK/a2.log" 2>&1 &
A2=$!
PIDS+=($A2)
check "agent 1 reads worker-1 at start" wait_log "$WORK/a1.log" \
	'node=worker-1 Ready changed=first cpu=3910m/4 memory=15601844Ki/16318644Ki kubelet=v1.30.2 runtime=containerd://1.7.13 labels=\{.*"kubernetes.io/hostname":"worker-1"'
check "agent 2 (NODE_NAME from the environment) reads worker-2" wait_log "$WORK/a2.log" \
	'node=worker-2 Ready changed=first'
# The server link is tried (nobody listens there: the hello itself is case-112's) and
# its failure does not stop the node reads.
check "agent 1 tries the server and goes on reading" wait_log "$WORK/a1.log" \
	"server=$SERVER cannot connect"
ctl GET log
check "each agent asks only for its own node, with Accept and its User-Agent" \
	jqt '[.requests[] | .path] | unique == ["/api/v1/nodes/worker-1","/api/v1/nodes/worker-2"]'
check "requests carry Accept: application/json and User-Agent kaiden-agent/" \
	jqt 'all(.requests[]; .accept == "application/json" and (.user_agent | startswith("kaiden-agent/")) and .auth == "yes")'

# Changes at the fake show up within the refresh period.
ctl POST nodes/worker-1 '{"labels":{"team":"db"}}'
check "a label change is logged" wait_log "$WORK/a1.log" \
	'node=worker-1 Ready changed=labels .*labels=\{.*"team":"db"'
ctl POST nodes/worker-1 '{"ready":"False"}'
check "NotReady is logged" wait_log "$WORK/a1.log" 'node=worker-1 NotReady changed=ready '
ctl POST nodes/worker-1 '{"ready":"True","unschedulable":true,"capacity":{"memory":"32Gi"}}'
check "a cordon and a new capacity are logged" wait_log "$WORK/a1.log" \
	'node=worker-1 Ready,unschedulable changed=ready,unschedulable,resources cpu=3910m/4 memory=15601844Ki/32Gi'
# Readings without a change are not logged: after three more answered reads (so two
# were surely handled), the count of node lines is the same.
lines=$(grep -c 'node=worker-1 ' "$WORK/a1.log")
n=$(reads_of worker-1)
check "three more reads of worker-1 answered" answered $((n + 3)) /api/v1/nodes/worker-1
check "readings without a change log nothing" [ "$(grep -c 'node=worker-1 ' "$WORK/a1.log")" = "$lines" ]
check "agent 2 saw none of worker-1's changes" [ "$(grep -c 'changed=' "$WORK/a2.log")" = 1 ]

# Failures are reasons, logged once each; the agent goes on and recovers.
printf 'rotated-token\n' >"$WORK/token.new" && mv "$WORK/token.new" "$WORK/token"
check "a token the API refuses: 401 logged" wait_log "$WORK/a1.log" \
	'node=worker-1 cannot read the node: 401 Unauthorized: the Kubernetes API refused the service account token'
ctl POST tokens '{"token":"rotated-token"}'
check "the rotated token is read again and works: readable, nothing changed" wait_log "$WORK/a1.log" \
	'node=worker-1 Ready,unschedulable changed=none'
ctl POST tokens '{"token":"rotated-token","rights":[]}'
check "no rights: 403 logged with the RBAC message" wait_log "$WORK/a1.log" \
	'cannot read the node: 403 Forbidden: nodes "worker-1" is forbidden: User "system:serviceaccount:kaiden-system:kaiden-agent" cannot get resource "nodes"'
ctl POST tokens '{"token":"rotated-token","rights":["get"]}'
ctl DELETE nodes/worker-2
check "a deleted node: 404 logged" wait_log "$WORK/a2.log" \
	'node=worker-2 cannot read the node: 404 NotFound: nodes "worker-2" not found'
n=$(reads_of worker-2)
check "three more reads of worker-2 answered" answered $((n + 3)) /api/v1/nodes/worker-2
check "the same reason is logged once" [ "$(grep -c '404 NotFound' "$WORK/a2.log")" = 1 ]
ctl POST faults '{"fail":[{"status":500,"path":"worker-2$","count":-1}]}'
check "a 500 after the 404: a new reason, logged" wait_log "$WORK/a2.log" \
	'node=worker-2 cannot read the node: 500 InternalError'
ctl POST faults '{"clear":true}'
check "agent 2 was never unreadable-then-readable before" [ "$(grep -c 'changed=none' "$WORK/a2.log")" = 0 ]
ctl POST nodes/worker-2 '{}'
check "the node is back: readable again, nothing changed" wait_log "$WORK/a2.log" \
	'node=worker-2 Ready changed=none'
check "both agents still run" kill -0 "$A1" "$A2"

# A read held at the fake's gate does not hold up SIGTERM.
ctl POST holds '{"path":"worker-1$"}'
hold=$(jq -r .id "$WORK/ctl")
ctl POST "holds/$hold/wait" '{"timeout_s":10}'
check "a read of worker-1 is held at the gate" [ "$CTL" = 200 ]
kill -TERM "$A1"
stopped=0
for _ in $(seq 50); do kill -0 "$A1" 2>/dev/null || { stopped=1; break; }; sleep 0.1; done
check "SIGTERM stops agent 1 within 5 s while its read is held" [ "$stopped" = 1 ]
rc=0
wait "$A1" || rc=$?
check "agent 1 exits 0" [ "$rc" = 0 ]
check "agent 1 logged stopped" grep -q 'msg="stopped"' "$WORK/a1.log"
ctl POST holds/release '{"drop":true}'
kill -TERM "$A2"
rc=0
wait "$A2" || rc=$?
check "agent 2 exits 0 on SIGTERM" [ "$rc" = 0 ]

# https: verified with the cluster's CA, refused without it.
printf '%s\n' "$TOKEN" >"$WORK/token"
if start_fake tls --node worker-3 --tls-dir "$WORK/tls"; then
	# In a pod: the API from KUBERNETES_SERVICE_HOST/_PORT (https), our CA and token files.
	KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$PORT "$AGENT" --server "$SERVER" \
		--insecure --secret-file "$WORK/secret" --cluster-id c1 --node-name worker-3 \
		--k8s-token-file "$WORK/token" --k8s-ca-file "$WORK/tls/ca.crt" --node-refresh 1 \
		>"$WORK/a3.log" 2>&1 &
	A3=$!
	PIDS+=($A3)
	check "in a pod: https://\$KUBERNETES_SERVICE_HOST:\$KUBERNETES_SERVICE_PORT with --k8s-ca-file" \
		wait_log "$WORK/a3.log" "k8s_api=https://127.0.0.1:$PORT "
	check "https with --k8s-ca-file: the node is read" wait_log "$WORK/a3.log" 'node=worker-3 Ready changed=first'
	"$AGENT" --server wss://127.0.0.1:1/api/v1/ws/agent --secret-file "$WORK/secret" \
		--cluster-id c1 --node-name worker-3 --k8s-api "https://127.0.0.1:$PORT" --k8s-token-file "$WORK/token" \
		--node-refresh 1 >"$WORK/a4.log" 2>&1 &
	A4=$!
	PIDS+=($A4)
	check "https without the cluster's CA: verification fails, as a reason" wait_log "$WORK/a4.log" \
		'node=worker-3 cannot read the node: TLS with the Kubernetes API failed'
	kill -TERM "$A3" "$A4"
	wait "$A3" "$A4" 2>/dev/null
else
	bad "fake_k8s.py starts with --tls-dir" "$(cat "$WORK/tls.err")"
fi

check "the token is in no agent log" bash -c "! grep -q -e '$TOKEN' -e rotated-token '$WORK'/a*.log"
summary
