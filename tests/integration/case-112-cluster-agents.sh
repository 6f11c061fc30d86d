# shellcheck shell=sh
# Agents in cluster mode (issue 12) join through helperd: two real kaiden-agents with
# --cluster-id, the cluster's secret and different --node-name, reading their nodes from
# tests/fakes/fake_k8s.py, say the version-3 hello; helperd checks the cluster secret and
# finds or makes each node's device (welcome names it). Both show in GET
# /clusters/{id}/nodes with labels, resources, versions and Ready; a label change, a
# NotReady, a cordon and a Kubernetes API error (403) at the fake reach the device within
# the refresh period (bounded polls on the database, never a sleep), and the tenant's
# live event stream (tests/scripts/ws_events.py); an agent restarted
# is the same device; a session by {cluster_id, node_name} goes active over the relay
# and ends; the wrong cluster secret and another tenant's cluster id are refused (4001);
# a deleted cluster's agents are dropped and refused (4003), and so are a suspended
# tenant's. A simulated agent (tests/bench/agent_load) shows that node reports are checked:
# another node's name, a bad label, a reading with an error, a burst, a device's agent
# sending one: each closes with 4000 and changes nothing.
#
# Self-contained, in tenants of its own ("kn", and "ko" for another tenant's cluster),
# deleted at the end with everything in them; both databases. Runs its own helperd with a
# 1 s heartbeat (and puts back what an earlier case left), its own fake Kubernetes API and agents.

KN=$WORK/kn
mkdir -p "$KN"
case $B in /*) KN_BIN=$B/bin ;; *) KN_BIN=$STACK_ROOT/$B/bin ;; esac
KN_PIDS=

KN_SAVED_TOKEN=$STACK_TOKEN
KN_SERVER="ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent"

kn_as() {
	eval "STACK_TOKEN=\$$1"
}

# kn_agent NAME CLUSTER SECRET-FILE NODE: a cluster-mode agent in the background, its log
# $KN/NAME.log, reading NODE at the fake every second.
kn_agent() {
	KAIDEN_LOG_LEVEL=info "$KN_BIN/kaiden-agent" --server "$KN_SERVER" --insecure --cluster-id "$2" \
		--secret-file "$3" --node-name "$4" --k8s-api "http://127.0.0.1:$KN_K8S_PORT" \
		--k8s-token-file "$KN/k8s.token" --node-refresh 1 \
		</dev/null >>"$KN/$1.log" 2>&1 &
	eval "KN_PID_$1=\$!"
	KN_PIDS="$KN_PIDS $!"
	case_pids "$!"
}

kn_stop() {
	eval "_p=\${KN_PID_$1:-}"
	[ -n "$_p" ] || return 0
	kill -TERM "$_p" 2>/dev/null || :
	wait "$_p" 2>/dev/null || :
}

# kn_log DESC NAME EXTENDED-REGEX: within 15 s a line of NAME's log matches.
kn_log() {
	_i=0
	until grep -Eq -- "$3" "$KN/$2.log" 2>/dev/null; do
		_i=$((_i + 1))
		if [ "$_i" -ge 150 ]; then
			bad "$1" "no line /$3/ in $2's log: $(tail -n 5 "$KN/$2.log" 2>/dev/null)"
			return 0
		fi
		sleep 0.1
	done
	ok "$1"
}

# kn_fake METHOD PATH [JSON]: the fake's control API.
kn_fake() {
	curl -s -o /dev/null -w '%{http_code}' -X "$1" ${3:+--data "$3"} \
		"http://127.0.0.1:$KN_K8S_PORT/_fake/$2"
}

# ---- the tenants, their clusters, the fake Kubernetes API -----------------------------------
printf '%s' 'kn-password-0000001' >"$T/kn.pw"
cli "a platform admin" KN_OUT user add --email kn-admin@kaiden.test --name 'KN Admin' \
	--role admin --password-file "$T/kn.pw"
raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
	'{"email":"kn-admin@kaiden.test","password":"kn-password-0000001"}'
expect "... logs in" 200 '.token | type == "string"'
save KN_ADMIN .token
kn_as KN_ADMIN
t "a tenant for nodes" POST /api/v1/admin/tenants '{"code":"kn","name":"Nodes Inc"}' 201
save KN_TENANT .id
t "another tenant" POST /api/v1/admin/tenants '{"code":"ko","name":"Others Inc"}' 201
save KO_TENANT .id
cli "the first one's service token" KN_SVC token create --tenant kn --name 'kn svc'
cli "the other's" KO_SVC token create --tenant ko --name 'ko svc'
kn_as KO_SVC
t "the other tenant's cluster" POST /api/v1/clusters '{"name":"theirs"}' 201
save KO_CL .id
(umask 077 && jq -r .secret "$T/body" >"$KN/ko.secret")
kn_as KN_SVC
t "a cluster is enrolled" POST /api/v1/clusters '{"name":"prod"}' 201 '.node_count == 0'
save KN_CL .id
(umask 077 && jq -r .secret "$T/body" >"$KN/cluster.secret" && printf 'not-the-secret\n' >"$KN/wrong.secret")
t "a second cluster of ours, to delete" POST /api/v1/clusters '{"name":"gone"}' 201
save KN_CL2 .id
(umask 077 && jq -r .secret "$T/body" >"$KN/gone.secret")

printf 'kn-k8s-token-%s\n' "$$" >"$KN/k8s.token"
python3 "$STACK_ROOT/tests/fakes/fake_k8s.py" --port-file "$KN/k8s.port" \
	--token-file "$KN/k8s.token" --node worker-1 --node worker-2 \
	>/dev/null 2>"$KN/fake_k8s.err" &
KN_FAKE_PID=$!
case_pids "$KN_FAKE_PID"
_i=0
until [ -s "$KN/k8s.port" ] || [ "$_i" -ge 100 ]; do sleep 0.1; _i=$((_i + 1)); done
KN_K8S_PORT=$(cat "$KN/k8s.port" 2>/dev/null)
if [ -n "$KN_K8S_PORT" ] && [ "$(kn_fake GET health)" = 200 ]; then
	ok "the fake Kubernetes API serves worker-1 and worker-2"
else
	bad "the fake Kubernetes API serves worker-1 and worker-2" "$(cat "$KN/fake_k8s.err")"
fi

# helperd with a heartbeat of a second, whatever an earlier case left running (its
# defaults beat every 20 s): the drops below wait for a heartbeat plus a flush.
KN_HAD_HELPERD=
if [ -n "${STACK_HELPERD_PID:-}" ] && kill -0 "$STACK_HELPERD_PID" 2>/dev/null; then
	KN_HAD_HELPERD=1
	stack_helperd_stop >/dev/null 2>&1 || :
fi
if KAIDEN_HELPERD_HEARTBEAT=1 KAIDEN_HELPERD_AGENT_TIMEOUT=3 stack_helperd_start; then
	ok "helperd starts (heartbeat 1 s)"
else
	bad "helperd starts (heartbeat 1 s)" "see its log"
fi

# ---- two nodes join -------------------------------------------------------------------------
kn_agent w1 "$KN_CL" "$KN/cluster.secret" worker-1
kn_agent w2 "$KN_CL" "$KN/cluster.secret" worker-2
wait_for "both nodes' agents join and are online" 20 \
	"SELECT count(*) FROM devices WHERE cluster_id = '$KN_CL' AND status = 'online' AND deleted_at IS NULL" 2
KN_D1=$(dbq "SELECT id FROM devices WHERE cluster_id = '$KN_CL' AND node_name = 'worker-1' AND deleted_at IS NULL")
KN_D2=$(dbq "SELECT id FROM devices WHERE cluster_id = '$KN_CL' AND node_name = 'worker-2' AND deleted_at IS NULL")
kn_log "welcome names worker-1's device to its agent" w1 "device=$KN_D1 cluster=$KN_CL node=worker-1 online"
wait_for "worker-1's first reading is stored" 10 \
	"SELECT node_status FROM devices WHERE id = '$KN_D1'" Ready
wait_for "... and worker-2's" 10 "SELECT node_status FROM devices WHERE id = '$KN_D2'" Ready
t "the cluster is online with two nodes" GET "/api/v1/clusters/$KN_CL" '' 200 \
	'.status == "online"' '.node_count == 2'
t "both are its nodes, with labels, resources, versions and Ready" \
	GET "/api/v1/clusters/$KN_CL/nodes" '' 200 \
	'[.items[].node_name] | sort == ["worker-1", "worker-2"]' \
	'[.items[] | .status == "online" and .node_status == "Ready" and .unschedulable == false] | all' \
	'[.items[] | .labels["kubernetes.io/hostname"] == .node_name] | all' \
	'[.items[] | .resources.cpu_capacity_m > 0 and .resources.memory_capacity > 0] | all' \
	'[.items[] | (.resources.capacity.cpu | type) == "string"] | all' \
	'[.items[] | (.versions.kubelet | test("^v1\\."))] | all' \
	'[.items[] | .os == .versions.os_image + "; Linux " + .versions.kernel] | all' \
	'[.items[] | .node_reason == null and .node_updated_at != null] | all' \
	'[.items[] | .name == .node_name and .cluster_id != null] | all'
dbcheck "a node's device has no secret of its own" \
	"SELECT count(*) FROM devices WHERE id = '$KN_D1' AND secret_hash NOT LIKE '\$argon2id\$%'" 1

# ---- changes at the fake reach the device ------------------------------------------------------
if [ "$(kn_fake POST nodes/worker-1 '{"labels":{"zone":"kn-b"}}')" = 200 ]; then
	ok "a label is added to worker-1 at the fake"
else
	bad "a label is added to worker-1 at the fake" "control API refused"
fi
wait_for "... and shows on its device within the refresh period" 10 \
	"SELECT CASE WHEN CAST(labels AS TEXT) LIKE '%kn-b%' THEN 'yes' ELSE 'no' END FROM devices WHERE id = '$KN_D1'" yes
# The browsers hear it too: the tenant's live event stream (as a script reads it).
(umask 077 && printf '%s\n' "$KN_SVC" >"$KN/svc.token")
python3 "$STACK_ROOT/tests/scripts/ws_events.py" --url "ws://127.0.0.1:$STACK_PORT/api/v1/ws/events" \
	--token-file "$KN/svc.token" --timeout 20 \
	--match "\"id\":\"$KN_D2\",\"node_name\":\"worker-2\",\"node_status\":\"NotReady\",\"unschedulable\":true" \
	>"$KN/events.out" 2>&1 &
KN_EVENTS_PID=$!
_i=0
until grep -q '^connected$' "$KN/events.out" 2>/dev/null || [ "$_i" -ge 100 ]; do sleep 0.1; _i=$((_i + 1)); done
kn_fake POST nodes/worker-2 '{"ready":"False","unschedulable":true}' >/dev/null
wait_for "worker-2 NotReady at the fake shows on its device" 10 \
	"SELECT node_status FROM devices WHERE id = '$KN_D2'" NotReady
if wait "$KN_EVENTS_PID"; then
	ok "... and as a node event on the tenant's live stream"
else
	bad "... and as a node event on the tenant's live stream" "$(tail -c 600 "$KN/events.out")"
fi
t "... cordoned too, in the API" GET "/api/v1/devices/$KN_D2" '' 200 \
	'.node_status == "NotReady"' '.unschedulable == true' '.node_reason == null'
t "worker-1 is unchanged by it" GET "/api/v1/devices/$KN_D1" '' 200 \
	'.node_status == "Ready"' '.labels.zone == "kn-b"'
kn_fake POST tokens "{\"token\":\"$(cat "$KN/k8s.token")\",\"rights\":[]}" >/dev/null
wait_for "the Kubernetes API's 403 is the nodes' reason" 10 \
	"SELECT CASE WHEN node_reason LIKE '403%forbidden%' THEN 'yes' ELSE 'no' END FROM devices WHERE id = '$KN_D1'" yes
t "... beside the last good values" GET "/api/v1/devices/$KN_D1" '' 200 \
	'.node_reason | test("^403")' '.node_status == "Ready"' '.labels.zone == "kn-b"'
kn_fake POST tokens "{\"token\":\"$(cat "$KN/k8s.token")\",\"rights\":[\"get\"]}" >/dev/null
wait_for "... and gone once the API answers again" 10 \
	"SELECT CASE WHEN node_reason IS NULL THEN 'yes' ELSE 'no' END FROM devices WHERE id = '$KN_D1'" yes
if grep -qF -- "$(cat "$KN/cluster.secret")" "$KN/w1.log" "$KN/w2.log" "$WORK/log/"*; then
	bad "no log holds the cluster secret" "found"
else
	ok "no log holds the cluster secret"
fi

# ---- a restart is the same device ------------------------------------------------------------------
kn_stop w1
wait_for "worker-1's agent stopped: offline" 10 "SELECT status FROM devices WHERE id = '$KN_D1'" offline
kn_agent w1 "$KN_CL" "$KN/cluster.secret" worker-1
wait_for "... restarted, the same device is online again" 20 \
	"SELECT status FROM devices WHERE id = '$KN_D1'" online
dbcheck "... and no second device for worker-1" \
	"SELECT count(*) FROM devices WHERE cluster_id = '$KN_CL' AND node_name = 'worker-1'" 1

# ---- a helperd restart: the real agents come back on their tickets (protocol 4) -------------------
kn_ticket_base=$(metric 'kaiden_agent_resumes_total{result="ok"}')
stack_helperd_stop >/dev/null 2>&1 || :
if KAIDEN_HELPERD_HEARTBEAT=1 KAIDEN_HELPERD_AGENT_TIMEOUT=3 stack_helperd_start; then
	ok "helperd restarts under the two nodes' agents"
else
	bad "helperd restarts under the two nodes' agents" "see its log"
fi
wait_for "... both are back online" 20 \
	"SELECT count(*) FROM devices WHERE cluster_id = '$KN_CL' AND status = 'online' AND deleted_at IS NULL" 2
_i=0
until [ "$(metric 'kaiden_agent_resumes_total{result="ok"}')" = 2 ] || [ "$_i" -ge 50 ]; do sleep 0.1; _i=$((_i + 1)); done
if [ "$(metric 'kaiden_agent_resumes_total{result="ok"}')" = 2 ]; then
	ok "... both resumed on their cluster tickets, without argon2id"
else
	bad "... both resumed on their cluster tickets, without argon2id" "resumes ok: '$(metric 'kaiden_agent_resumes_total{result="ok"}')' (before the restart: '$kn_ticket_base')"
fi

# ---- a session on a node, by its name ----------------------------------------------------------------
t "a session on worker-1 by {cluster_id, node_name}" POST /api/v1/sessions \
	"{\"cluster_id\":\"$KN_CL\",\"node_name\":\"worker-1\",\"engineer_name\":\"Kai Node\"}" 201 \
	".device_id == \"$KN_D1\""
save KN_S1 .id
wait_for "... goes active" 20 "SELECT status FROM sessions WHERE id = '$KN_S1'" active
t "... and ends" DELETE "/api/v1/sessions/$KN_S1" '' 202
wait_for "... ended by helperd" 20 "SELECT status FROM sessions WHERE id = '$KN_S1'" ended

# ---- node reports are checked (a simulated agent: tests/bench/agent_load) ------------------------------
case $B in /*) KN_LOAD=$B/tests/agent_load ;; *) KN_LOAD=$STACK_ROOT/$B/tests/agent_load ;; esac
KN_WS="ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent"
# kn_sim NAME WANT ARGS...: one simulated agent; WANT is "welcome" or a close code.
kn_sim() {
	_name=$1
	_want=$2
	shift 2
	if [ "$_want" = welcome ]; then
		set -- --expect-welcome --hold 1 "$@"
	else
		set -- --expect-close "$_want" --hold 10 "$@"
	fi
	if _out=$("$KN_LOAD" --url "$KN_WS" --timeout 20 "$@" 2>&1); then
		ok "$_name"
	else
		bad "$_name" "want $_want: $_out"
	fi
}
KN_SIM="--cluster $KN_CL --node sim-1 --secret $(cat "$KN/cluster.secret")"
KN_READING='{"type":"node","node_name":"sim-1","node_status":"NotReady","unschedulable":true,"labels":{"example.com/sim":"yes"},"resources":{"cpu_capacity_m":2000,"cpu_allocatable_m":null,"memory_capacity":null,"memory_allocatable":null,"capacity":{"cpu":"2","memory":null,"pods":null},"allocatable":{"cpu":null,"memory":null,"pods":null}},"versions":{"kubelet":"v1.31.0","os_image":null,"kernel":null,"container_runtime":null,"architecture":null}}'
# shellcheck disable=SC2086
kn_sim "a simulated node's reading is welcome" welcome $KN_SIM --after-text "$KN_READING"
KN_SIM_D=$(dbq "SELECT id FROM devices WHERE cluster_id = '$KN_CL' AND node_name = 'sim-1' AND deleted_at IS NULL")
wait_for "... and stored as it said" 10 \
	"SELECT node_status || ' ' || CASE WHEN CAST(labels AS TEXT) LIKE '%example.com/sim%' THEN 'labelled' ELSE 'no' END FROM devices WHERE id = '$KN_SIM_D'" \
	"NotReady labelled"
t "... in the API" GET "/api/v1/devices/$KN_SIM_D" '' 200 '.unschedulable == true' \
	'.resources.cpu_capacity_m == 2000' '.resources.memory_capacity == null' \
	'.versions.kubelet == "v1.31.0"'
# shellcheck disable=SC2086
kn_sim "a report naming another node: 4000" 4000 $KN_SIM \
	--after-text '{"type":"node","node_name":"worker-1","error":"forged"}'
dbcheck "... stored nowhere" "SELECT count(*) FROM devices WHERE node_reason = 'forged'" 0
# shellcheck disable=SC2086
kn_sim "a label that is no Kubernetes label: 4000" 4000 $KN_SIM \
	--after-text "$(printf '%s' "$KN_READING" | sed 's|"example.com/sim":"yes"|"a b":"c"|')"
# shellcheck disable=SC2086
kn_sim "a reading and an error at once: 4000" 4000 $KN_SIM \
	--after-text "$(printf '%s' "$KN_READING" | sed 's|}$|,"error":"x"}|')"
dbcheck "... neither changed the node" \
	"SELECT count(*) FROM devices WHERE id = '$KN_SIM_D' AND node_reason IS NULL AND CAST(labels AS TEXT) LIKE '%example.com/sim%'" 1
# shellcheck disable=SC2086
kn_sim "31 reports in a minute: 4000" 4000 $KN_SIM \
	--after-text '{"type":"node","node_name":"sim-1","error":"burst"}' --after-count 31
t "a device's agent"  POST /api/v1/devices '{"name":"kn-plain"}' 201
save KN_PLAIN .id
save KN_PLAIN_SECRET .secret
kn_sim "a node report from a device's agent: 4000" 4000 --device "$KN_PLAIN" \
	--secret "$KN_PLAIN_SECRET" --after-text '{"type":"node","node_name":"sim-1","error":"x"}'
t "... which stays a plain device" GET "/api/v1/devices/$KN_PLAIN" '' 200 \
	'.node_reason == null' '.cluster_id == null'

# ---- cluster tickets: bound to the cluster and its secret's version ----------------------------------
# (agent_sock, lib.sh: through helperd's socket, each from an address of its own.)
KN_OLD2=$(cat "$KN/gone.secret")
agent_sock "a node of the second cluster gets a ticket" welcome 198.51.100.60 --cluster "$KN_CL2" \
	--node sim-2 --secret "$KN_OLD2" --tickets --ticket-out "$KN/cl2.ticket"
KN_T2=$(cat "$KN/cl2.ticket" 2>/dev/null || true)
agent_sock "... which admits it beside a wrong secret" welcome 198.51.100.61 --cluster "$KN_CL2" \
	--node sim-2 --secret wrong --ticket "$KN_T2"
agent_sock "... not another cluster's node (4001 with a wrong secret)" 4001 198.51.100.62 \
	--cluster "$KN_CL" --node sim-1 --secret wrong --ticket "$KN_T2"
kn_as KN_SVC
t "the second cluster's secret is rotated" POST "/api/v1/clusters/$KN_CL2/rotate-secret" '' 200
(umask 077 && jq -r .secret "$T/body" >"$KN/gone.secret")
dbcheck "... its secret is version 2" "SELECT secret_version FROM clusters WHERE id = '$KN_CL2'" 2
agent_sock "rotated: the old ticket and the old secret are refused (4001)" 4001 198.51.100.63 \
	--cluster "$KN_CL2" --node sim-2 --secret "$KN_OLD2" --ticket "$KN_T2"
agent_sock "rotated: the old ticket with the new secret logs in" welcome 198.51.100.64 \
	--cluster "$KN_CL2" --node sim-2 --secret "$(cat "$KN/gone.secret")" --ticket "$KN_T2"

# ---- refusals ------------------------------------------------------------------------------------------
kn_agent bad1 "$KN_CL" "$KN/wrong.secret" worker-3
kn_log "the wrong cluster secret is refused (4001)" bad1 "code=4001"
kn_agent bad2 "$KO_CL" "$KN/cluster.secret" worker-3
kn_log "another tenant's cluster id with our secret is refused (4001)" bad2 "code=4001"
kn_as KN_SVC
kn_fake POST nodes/worker-5 '{}' >/dev/null
kn_agent w5 "$KN_CL2" "$KN/gone.secret" worker-5
wait_for "worker-5 joins the second cluster" 20 \
	"SELECT count(*) FROM devices WHERE cluster_id = '$KN_CL2' AND node_name = 'worker-5' AND status = 'online'" 1
t "that cluster is deleted" DELETE "/api/v1/clusters/$KN_CL2" '' 204
wait_for "... its node's agent is dropped" 20 \
	"SELECT status FROM devices WHERE cluster_id = '$KN_CL2' AND node_name = 'worker-5'" offline
kn_log "... with 4003" w5 "code=4003"
kn_stop w5
kn_agent bad3 "$KN_CL2" "$KN/gone.secret" worker-3
kn_log "... and a new hello for it is refused (4003)" bad3 "code=4003"
dbcheck "no refused hello made a device" \
	"SELECT count(*) FROM devices WHERE node_name = 'worker-3'" 0
kn_stop bad1
kn_stop bad2
kn_stop bad3
kn_as KN_ADMIN
t "the tenant is suspended" PATCH "/api/v1/admin/tenants/$KN_TENANT" '{"status":"suspended"}' 200
wait_for "... its nodes' agents are dropped" 20 \
	"SELECT count(*) FROM devices WHERE cluster_id = '$KN_CL' AND status = 'online'" 0
kn_log "... with 4003" w2 "code=4003"
kn_agent bad4 "$KN_CL" "$KN/cluster.secret" worker-4
kn_log "... and a new hello is refused (4003)" bad4 "code=4003"
dbcheck "... without making a device" "SELECT count(*) FROM devices WHERE node_name = 'worker-4'" 0

# ---- the end ---------------------------------------------------------------------------------------------
for _n in w1 w2 bad4; do kn_stop "$_n"; done
kill -TERM "$KN_FAKE_PID" 2>/dev/null || :
wait "$KN_FAKE_PID" 2>/dev/null || :
kn_as KN_ADMIN
t "the tenants are deleted" DELETE "/api/v1/admin/tenants/$KN_TENANT" '' 204
t "... both" DELETE "/api/v1/admin/tenants/$KO_TENANT" '' 204
dbcheck "... their clusters and devices with them" \
	"SELECT (SELECT count(*) FROM clusters WHERE tenant_id IN ('$KN_TENANT', '$KO_TENANT')) + (SELECT count(*) FROM devices WHERE tenant_id IN ('$KN_TENANT', '$KO_TENANT'))" 0
STACK_TOKEN=$KN_SAVED_TOKEN
# As it was: the helperd an earlier case left, with the defaults, or none.
stack_helperd_stop >/dev/null 2>&1 || :
if [ -n "$KN_HAD_HELPERD" ]; then
	if stack_helperd_start; then ok "helperd back with the defaults"; else bad "helperd back with the defaults" "see its log"; fi
fi
