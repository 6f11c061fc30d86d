# shellcheck shell=sh
# Clusters (issue 12): create answers the secret and the install snippet once (the
# Secret manifest and the kubectl line), never again (get, list, logs, audit); every
# validation error names its field; a live name is unique per tenant; list, q, pages;
# rename; rotate-secret replaces the hash; the max_clusters quota and usage's clusters;
# a customer reads but may not change; nodes (GET /clusters/{id}/nodes, GET
# /devices?cluster_id=, the node facts in the device JSON, status and node_count derived
# from them); sessions by {cluster_id, node_name}: node_not_found (no such cluster, no
# such node), node_offline, and on a node whose real kaiden-agent is online a session
# that goes active; delete ends that session (helperd ends it), removes the nodes (their
# agent is dropped) and frees the name.
#
# Nodes are devices made here with SQL (through dbq): an agent's enrolment by its
# cluster's secret (helperd's hello in cluster mode) is not built yet. The online node is
# a device registered with POST /devices and turned into a node with SQL, so that a real
# kaiden-agent can connect as it with the device's own secret.
#
# Self-contained, in a tenant of its own ("kc", made by a platform admin, deleted at the
# end with everything in it), acting with its service token (staff's rights in it) on
# both databases. Starts helperd if no case left it running (and stops it again), and an
# agent of its own, stopped at the end.

KC_NOID=00000000-0000-7000-8000-000000000000
KC_NODE2=0190a0b0-c0d0-7e0f-8000-0000000000c2
KC=$WORK/kc
mkdir -p "$KC"
case $B in /*) KC_BIN=$B/bin ;; *) KC_BIN=$STACK_ROOT/$B/bin ;; esac
KC_AGENT_PID=
KC_HAD_HELPERD=
KC_SAVED_TOKEN=$STACK_TOKEN

kc_as() {
	eval "STACK_TOKEN=\$$1"
}

# ---- the tenant and its people ----------------------------------------------------------
platform_admin kc KC_ADMIN
kc_as KC_ADMIN
t "a tenant for clusters" POST /api/v1/admin/tenants '{"code":"kc","name":"Clusters Inc"}' 201
save KC_TENANT .id
cli "its service token" KC_SVC token create --tenant kc --name 'kc svc'
cli "a customer" KC_OUT user add --email cleo@kc.test --name 'Cleo Customer' --role customer \
	--tenant kc --password-file "$T/kc.pw"
cli "... with an API token" KC_CUST token create --user cleo@kc.test --tenant kc --name cleo
kc_as KC_SVC

# ---- create: the secret and the snippet, once ---------------------------------------------
t "a cluster is enrolled" POST /api/v1/clusters '{"name":"prod"}' 201 \
	'.name == "prod"' '.status == "offline"' '.node_count == 0' \
	'.secret | test("^[A-Za-z0-9_-]{43}$")' \
	'.install_command == "kubectl apply -f kaiden-credentials.yaml"' \
	'.install | test("\nkind: Secret\n")' \
	'.install | test("\n  name: kaiden-credentials\n  namespace: kaiden-system\n")' \
	'. as $c | $c.install | contains("\n  cluster_id: \"" + $c.id + "\"\n")' \
	'. as $c | $c.install | contains("\n  secret: \"" + $c.secret + "\"\n")' \
	'.install | test("\n  server: \"https?://[^\"]+\"\n$")' \
	'.install | test("kubectl apply -f kaiden-credentials.yaml")' \
	'keys == ["created_at", "id", "install", "install_command", "name", "node_count", "secret", "status", "updated_at"]'
save KC_CL .id
save KC_SECRET .secret
header "... with its Location" "^location: /api/v1/clusters/$KC_CL$"
jq -r .install "$T/body" >"$KC/kaiden-credentials.yaml"
if awk 'NR == 1 && /^#/ { c = 1 } END { exit !c }' "$KC/kaiden-credentials.yaml" &&
	grep -qx 'apiVersion: v1' "$KC/kaiden-credentials.yaml" &&
	grep -qx 'stringData:' "$KC/kaiden-credentials.yaml"; then
	ok "the snippet is a manifest to save and apply (its first line a comment)"
else
	bad "the snippet is a manifest to save and apply (its first line a comment)" "$(head -c 400 "$KC/kaiden-credentials.yaml")"
fi
dbcheck "only an argon2id hash is stored" \
	"SELECT count(*) FROM clusters WHERE id = '$KC_CL' AND secret_hash LIKE '\$argon2id\$%' AND secret_hash NOT LIKE '%$KC_SECRET%'" 1
dbcheck "the audit entry holds no secret" \
	"SELECT count(*) FROM audit_log WHERE action = 'cluster.create' AND target_id = '$KC_CL' AND coalesce(CAST(details AS TEXT), '') NOT LIKE '%$KC_SECRET%'" 1
if grep -rqF -- "$KC_SECRET" "$WORK/log"; then
	bad "no log holds the secret" "found in $(grep -rlF -- "$KC_SECRET" "$WORK/log" | tr '\n' ' ')"
else
	ok "no log holds the secret"
fi
t "a get never shows the secret again" GET "/api/v1/clusters/$KC_CL" '' 200 \
	'has("secret") == false' 'has("install") == false' '.name == "prod"' \
	'keys == ["created_at", "id", "name", "node_count", "status", "updated_at"]'
t "nor does a list" GET /api/v1/clusters '' 200 \
	"[.items[] | select(.id == \"$KC_CL\")] | length == 1" \
	'[.items[] | has("secret") or has("install")] | any | not'
if grep -rqF -- "$KC_SECRET" "$WORK/log"; then
	bad "no log holds the secret afterwards" "found"
else
	ok "no log holds the secret afterwards"
fi

# ---- refusals: each names its field, nothing written ----------------------------------------
snap
t "no name" POST /api/v1/clusters '{}' 400 "$(E missing_field name)"
t "an empty name" POST /api/v1/clusters '{"name":""}' 400 "$(E invalid_field name)"
t "a name that is no string" POST /api/v1/clusters '{"name":5}' 400 "$(E invalid_field name)"
t "a 129-character name" POST /api/v1/clusters \
	"{\"name\":\"$(printf '%0129d' 0)\"}" 400 "$(E invalid_field name)"
t "an unknown field" POST /api/v1/clusters '{"name":"x","secret":"mine"}' 400 "$(E unknown_field secret)"
t "not JSON" POST /api/v1/clusters '{"name":' 400 "$(E invalid_json)"
t "a live name twice" POST /api/v1/clusters '{"name":"prod"}' 409 "$(E name_taken name)"
t "a rename to nothing" PATCH "/api/v1/clusters/$KC_CL" '{"name":""}' 400 "$(E invalid_field name)"
t "a rename of no cluster" PATCH "/api/v1/clusters/$KC_NOID" '{"name":"x"}' 404 "$(E not_found)"
t "a get of no cluster" GET "/api/v1/clusters/$KC_NOID" '' 404 "$(E not_found)"
t "a malformed id" GET /api/v1/clusters/nope '' 404 "$(E not_found)"
t "a rotation of no cluster" POST "/api/v1/clusters/$KC_NOID/rotate-secret" '' 404 "$(E not_found)"
t "a delete of no cluster" DELETE "/api/v1/clusters/$KC_NOID" '' 404 "$(E not_found)"
t "the nodes of no cluster" GET "/api/v1/clusters/$KC_NOID/nodes" '' 404 "$(E not_found)"
t "a bad q" GET '/api/v1/clusters?q=%01' '' 400 "$(E invalid_query q)"
t "a bad limit" GET '/api/v1/clusters?limit=0' '' 400 "$(E invalid_query limit)"
kc_as KC_CUST
t "a customer reads clusters" GET /api/v1/clusters '' 200 '.items | length == 1'
t "... and one" GET "/api/v1/clusters/$KC_CL" '' 200 '.name == "prod"'
t "... and its nodes" GET "/api/v1/clusters/$KC_CL/nodes" '' 200 '.items == []'
t "but may not enrol one" POST /api/v1/clusters '{"name":"mine"}' 403 "$(E forbidden)"
t "nor rename it" PATCH "/api/v1/clusters/$KC_CL" '{"name":"mine"}' 403 "$(E forbidden)"
t "nor rotate its secret" POST "/api/v1/clusters/$KC_CL/rotate-secret" '' 403 "$(E forbidden)"
t "nor delete it" DELETE "/api/v1/clusters/$KC_CL" '' 403 "$(E forbidden)"
kc_as KC_SVC
unchanged "no refusal wrote a row"

# ---- list, rename, rotate --------------------------------------------------------------------
t "a second cluster" POST /api/v1/clusters '{"name":"staging"}' 201
save KC_CL2 .id
t "newest first" GET /api/v1/clusters '' 200 "[.items[].id] == [\"$KC_CL2\", \"$KC_CL\"]"
t "q finds by name, in any case" GET '/api/v1/clusters?q=PRO' '' 200 "[.items[].id] == [\"$KC_CL\"]"
t "a page of one" GET '/api/v1/clusters?limit=1' '' 200 "[.items[].id] == [\"$KC_CL2\"]" \
	".next_cursor == \"$KC_CL2\""
t "... and the next" GET "/api/v1/clusters?limit=1&cursor=$KC_CL2" '' 200 \
	"[.items[].id] == [\"$KC_CL\"]" '.next_cursor == null'
t "a rename to a taken name" PATCH "/api/v1/clusters/$KC_CL2" '{"name":"prod"}' 409 "$(E name_taken name)"
t "a rename" PATCH "/api/v1/clusters/$KC_CL2" '{"name":"stage"}' 200 '.name == "stage"' \
	'has("secret") == false'
dbcheck "... audited with the name" \
	"SELECT count(*) FROM audit_log WHERE action = 'cluster.update' AND target_id = '$KC_CL2' AND CAST(details AS TEXT) LIKE '%stage%'" 1
KC_HASH=$(dbq "SELECT secret_hash FROM clusters WHERE id = '$KC_CL'")
t "rotate-secret answers a new secret" POST "/api/v1/clusters/$KC_CL/rotate-secret" '' 200 \
	".id == \"$KC_CL\"" '.secret | test("^[A-Za-z0-9_-]{43}$")' ".secret != \"$KC_SECRET\"" \
	'has("install") == false'
save KC_SECRET2 .secret
dbcheck "... and only its hash replaces the old one" \
	"SELECT count(*) FROM clusters WHERE id = '$KC_CL' AND secret_hash <> '$KC_HASH' AND secret_hash LIKE '\$argon2id\$%'" 1
dbcheck "... audited, without it" \
	"SELECT count(*) FROM audit_log WHERE action = 'cluster.rotate_secret' AND target_id = '$KC_CL' AND coalesce(CAST(details AS TEXT), '') NOT LIKE '%$KC_SECRET2%'" 1
t "a get still shows no secret" GET "/api/v1/clusters/$KC_CL" '' 200 'has("secret") == false'

# ---- the quota ----------------------------------------------------------------------------------
kc_as KC_ADMIN
t "max_clusters 0 is refused" PATCH "/api/v1/admin/tenants/$KC_TENANT" \
	'{"quotas":{"max_clusters":0}}' 400 "$(E invalid_field quotas)"
t "max_clusters is a quota" PATCH "/api/v1/admin/tenants/$KC_TENANT" \
	'{"quotas":{"max_clusters":2}}' 200 '.quotas == {"max_clusters":2}'
kc_as KC_SVC
snap
t "a third cluster is over it" POST /api/v1/clusters '{"name":"third"}' 409 \
	"$(E quota_exceeded)" '.error.message | test("max_clusters") and test("2")'
unchanged "... and wrote nothing"
t "usage counts the clusters" GET /api/v1/tenant/usage '' 200 '.clusters == 2' \
	'.quotas.max_clusters == 2'

# ---- nodes ----------------------------------------------------------------------------------------
t "a device to become node-1" POST /api/v1/devices '{"name":"node-1"}' 201
save KC_NODE1 .device_id
(umask 077 && jq -r .secret "$T/body" >"$KC/node1.secret")
dbq "UPDATE devices SET cluster_id = '$KC_CL', node_name = 'node-1', node_status = 'Ready', labels = '{\"kubernetes.io/hostname\":\"node-1\",\"zone\":\"a\"}', resources = '{\"cpu_capacity_m\":4000,\"cpu_allocatable_m\":null,\"memory_capacity\":8589934592,\"memory_allocatable\":null,\"capacity\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":null},\"allocatable\":{\"cpu\":null,\"memory\":null,\"pods\":null}}', unschedulable = (1 = 0), versions = '{\"kubelet\":\"v1.31.2\",\"os_image\":\"Debian GNU/Linux 12 (bookworm)\",\"kernel\":\"6.1.0-26-amd64\",\"container_runtime\":\"containerd://1.7.22\"}', node_updated_at = '2026-12-01T00:00:00.000Z' WHERE id = '$KC_NODE1'" >/dev/null
dbq "INSERT INTO devices (id, tenant_id, name, secret_hash, cluster_id, node_name, node_status, unschedulable, node_reason, labels) VALUES ('$KC_NODE2', '$KC_TENANT', 'node-2', '', '$KC_CL', 'node-2', 'NotReady', (1 = 1), 'nodes \"node-2\" is forbidden', '{}')" >/dev/null
t "a standalone machine" POST /api/v1/devices '{"name":"laptop"}' 201 '.cluster_id == null' \
	'.node_name == null' '.unschedulable == null' '.versions == null' '.node_reason == null' \
	'.node_updated_at == null' '.labels == null' '.resources == null'
save KC_PLAIN .device_id
t "the cluster counts its nodes" GET "/api/v1/clusters/$KC_CL" '' 200 '.node_count == 2' \
	'.status == "offline"'
t "its nodes, newest first (by id: node-2's is an old one)" GET "/api/v1/clusters/$KC_CL/nodes" '' 200 \
	"[.items[].id] == [\"$KC_NODE1\", \"$KC_NODE2\"]"
t "a node's facts in the device JSON" GET "/api/v1/devices/$KC_NODE1" '' 200 \
	".cluster_id == \"$KC_CL\"" '.node_name == "node-1"' '.node_status == "Ready"' \
	'.unschedulable == false' '.labels.zone == "a"' '.resources.cpu_capacity_m == 4000' \
	'.versions.kubelet == "v1.31.2"' '.node_reason == null' \
	'.node_updated_at == "2026-12-01T00:00:00.000Z"'
t "... a cordoned one, with why its facts are missing" GET "/api/v1/devices/$KC_NODE2" '' 200 \
	'.unschedulable == true' '.node_status == "NotReady"' '.node_reason | test("forbidden")'
t "the nodes by status" GET "/api/v1/clusters/$KC_CL/nodes?status=online" '' 200 '.items == []'
t "a bad status" GET "/api/v1/clusters/$KC_CL/nodes?status=up" '' 400 "$(E invalid_query status)"
t "GET /devices?cluster_id= lists the cluster's" GET "/api/v1/devices?cluster_id=$KC_CL" '' 200 \
	"[.items[].id] == [\"$KC_NODE1\", \"$KC_NODE2\"]"
t "... another cluster's none" GET "/api/v1/devices?cluster_id=$KC_CL2" '' 200 '.items == []'
t "... an unknown one none" GET "/api/v1/devices?cluster_id=$KC_NOID" '' 200 '.items == []'
t "... a cluster_id that is no id" GET '/api/v1/devices?cluster_id=nope' '' 400 \
	"$(E invalid_query cluster_id)"
t "GET /devices lists every device" GET /api/v1/devices '' 200 '.items | length == 3'
if [ "$SUITE_DB" = postgres ]; then
	if dbq "INSERT INTO devices (id, tenant_id, name, secret_hash, cluster_id, node_name) VALUES ('$KC_NOID', '00000000-0000-0000-0000-000000000000', 'x', '', '$KC_CL', 'x')" >/dev/null 2>&1; then
		dbq "DELETE FROM devices WHERE id = '$KC_NOID'" >/dev/null
		bad "no node of another tenant in the cluster (the foreign key)" "the row went in"
	else
		ok "no node of another tenant in the cluster (the foreign key)"
	fi
fi
if dbq "INSERT INTO devices (id, tenant_id, name, secret_hash, cluster_id, node_name) VALUES ('$KC_NOID', '$KC_TENANT', 'x', '', '$KC_CL', 'node-2')" >/dev/null 2>&1; then
	dbq "DELETE FROM devices WHERE id = '$KC_NOID'" >/dev/null
	bad "a node name is once in its cluster" "the row went in"
else
	ok "a node name is once in its cluster"
fi

# ---- sessions on a node ------------------------------------------------------------------------------
snap
t "a node of no cluster" POST /api/v1/sessions \
	"{\"cluster_id\":\"$KC_NOID\",\"node_name\":\"node-1\",\"engineer_name\":\"K\"}" 404 \
	"$(E node_not_found cluster_id)" '.error.message | test("no such cluster")'
t "a node no cluster of ours has" POST /api/v1/sessions \
	"{\"cluster_id\":\"$KC_CL\",\"node_name\":\"node-9\",\"engineer_name\":\"K\"}" 404 \
	"$(E node_not_found node_name)" '.error.message | test("node-9") and test("prod")'
t "a node of the other cluster" POST /api/v1/sessions \
	"{\"cluster_id\":\"$KC_CL2\",\"node_name\":\"node-1\",\"engineer_name\":\"K\"}" 404 \
	"$(E node_not_found node_name)"
t "an offline node" POST /api/v1/sessions \
	"{\"cluster_id\":\"$KC_CL\",\"node_name\":\"node-2\",\"engineer_name\":\"K\"}" 409 \
	"$(E node_offline node_name)" '.error.message | test("offline")'
t "a cluster without a node" POST /api/v1/sessions \
	"{\"cluster_id\":\"$KC_CL\",\"engineer_name\":\"K\"}" 400 "$(E missing_field node_name)"
t "a node without its cluster" POST /api/v1/sessions \
	'{"node_name":"node-1","engineer_name":"K"}' 400 "$(E missing_field cluster_id)"
t "a device and a node at once" POST /api/v1/sessions \
	"{\"device_id\":\"$KC_PLAIN\",\"cluster_id\":\"$KC_CL\",\"node_name\":\"node-1\",\"engineer_name\":\"K\"}" 400 \
	"$(E invalid_field device_id)"
t "a cluster_id that is no id" POST /api/v1/sessions \
	'{"cluster_id":"prod","node_name":"node-1","engineer_name":"K"}' 400 "$(E invalid_field cluster_id)"
t "an empty node name" POST /api/v1/sessions \
	"{\"cluster_id\":\"$KC_CL\",\"node_name\":\"\",\"engineer_name\":\"K\"}" 400 "$(E invalid_field node_name)"
unchanged "no refused start wrote a session or a job"

# helperd with a heartbeat of a second, whatever an earlier case left running (case-106
# leaves one with the default 20 s): "node-1's agent is dropped" below waits for a
# heartbeat plus a flush, and must not depend on where in a 20 s beat the delete falls.
if [ -n "${STACK_HELPERD_PID:-}" ] && kill -0 "$STACK_HELPERD_PID" 2>/dev/null; then
	KC_HAD_HELPERD=1
	stack_helperd_stop >/dev/null 2>&1 || :
fi
if KAIDEN_HELPERD_HEARTBEAT=1 KAIDEN_HELPERD_AGENT_TIMEOUT=3 stack_helperd_start; then
	ok "helperd starts (relay, heartbeat 1 s)"
else
	bad "helperd starts (relay, heartbeat 1 s)" "see its log"
fi
"$KC_BIN/kaiden-agent" --server "ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent" --insecure \
	--device-id "$KC_NODE1" --secret-file "$KC/node1.secret" \
	</dev/null >>"$WORK/log/kaiden-agent-kc.log" 2>&1 &
KC_AGENT_PID=$!
case_pids "$KC_AGENT_PID"
wait_for "node-1's agent is online" 15 "SELECT status FROM devices WHERE id = '$KC_NODE1'" online
t "the cluster is online with it" GET "/api/v1/clusters/$KC_CL" '' 200 '.status == "online"' \
	'.node_count == 2'
t "the nodes by status" GET "/api/v1/clusters/$KC_CL/nodes?status=online" '' 200 \
	"[.items[].id] == [\"$KC_NODE1\"]"
t "a session on node-1 by its name" POST /api/v1/sessions \
	"{\"cluster_id\":\"$KC_CL\",\"node_name\":\"node-1\",\"engineer_name\":\"Kai Moreno\"}" 201 \
	".device_id == \"$KC_NODE1\"" '.status == "pending"'
save KC_S1 .id
wait_for "... goes active" 20 "SELECT status FROM sessions WHERE id = '$KC_S1'" active
dbcheck "... audited with its cluster and node" \
	"SELECT count(*) FROM audit_log WHERE action = 'session.start' AND target_id = '$KC_S1' AND CAST(details AS TEXT) LIKE '%$KC_CL%' AND CAST(details AS TEXT) LIKE '%node-1%'" 1
t "a ticket names the cluster" POST /api/v1/tickets \
	"{\"title\":\"Node pressure\",\"cluster_id\":\"$KC_CL\"}" 201 ".cluster_id == \"$KC_CL\""
save KC_TICKET .id
t "... and moves to the other" PATCH "/api/v1/tickets/$KC_TICKET" "{\"cluster_id\":\"$KC_CL2\"}" 200 \
	".cluster_id == \"$KC_CL2\""
t "... and to none" PATCH "/api/v1/tickets/$KC_TICKET" '{"cluster_id":null}' 200 '.cluster_id == null'
t "... but not to no cluster" PATCH "/api/v1/tickets/$KC_TICKET" "{\"cluster_id\":\"$KC_NOID\"}" 422 \
	"$(E invalid_reference cluster_id)"

# ---- delete: its sessions end, its nodes go ------------------------------------------------------
t "the cluster is deleted" DELETE "/api/v1/clusters/$KC_CL" '' 204
dbcheck "... its node's session is ending or ended" \
	"SELECT count(*) FROM sessions WHERE id = '$KC_S1' AND status IN ('ending', 'ended')" 1
wait_for "... and helperd ends it" 20 "SELECT status FROM sessions WHERE id = '$KC_S1'" ended
dbcheck "... its nodes are deleted" \
	"SELECT count(*) FROM devices WHERE cluster_id = '$KC_CL' AND deleted_at IS NULL" 0
wait_for "... node-1's agent is dropped" 10 "SELECT status FROM devices WHERE id = '$KC_NODE1'" offline
dbcheck "... audited with the sessions it ended" \
	"SELECT count(*) FROM audit_log WHERE action = 'cluster.delete' AND target_id = '$KC_CL' AND CAST(details AS TEXT) LIKE '%\"sessions_ended\"%1%'" 1
t "it no longer gets" GET "/api/v1/clusters/$KC_CL" '' 404 "$(E not_found)"
t "nor lists" GET /api/v1/clusters '' 200 "[.items[].id] == [\"$KC_CL2\"]"
t "its nodes are gone" GET "/api/v1/devices/$KC_NODE1" '' 404 "$(E not_found)"
t "... from GET /devices too" GET "/api/v1/devices?cluster_id=$KC_CL" '' 200 '.items == []'
t "a session on its node now" POST /api/v1/sessions \
	"{\"cluster_id\":\"$KC_CL\",\"node_name\":\"node-1\",\"engineer_name\":\"K\"}" 404 \
	"$(E node_not_found cluster_id)"
t "a second delete" DELETE "/api/v1/clusters/$KC_CL" '' 404 "$(E not_found)"
t "the session history stays" GET "/api/v1/sessions/$KC_S1" '' 200 '.status == "ended"'
t "its name is free again" POST /api/v1/clusters '{"name":"prod"}' 201 '.node_count == 0'
t "usage counts the live ones" GET /api/v1/tenant/usage '' 200 '.clusters == 2'

# ---- the end ---------------------------------------------------------------------------------------
if [ -n "$KC_AGENT_PID" ]; then
	kill -TERM "$KC_AGENT_PID" 2>/dev/null || :
	wait "$KC_AGENT_PID" 2>/dev/null || :
fi
kc_as KC_ADMIN
t "the tenant is deleted" DELETE "/api/v1/admin/tenants/$KC_TENANT" '' 204
dbcheck "... its clusters, devices, sessions and tickets with it" \
	"SELECT (SELECT count(*) FROM clusters WHERE tenant_id = '$KC_TENANT') + (SELECT count(*) FROM devices WHERE tenant_id = '$KC_TENANT') + (SELECT count(*) FROM sessions WHERE tenant_id = '$KC_TENANT') + (SELECT count(*) FROM tickets WHERE tenant_id = '$KC_TENANT')" 0
STACK_TOKEN=$KC_SAVED_TOKEN
# As it was: the helperd an earlier case left, with the defaults, or none.
stack_helperd_stop >/dev/null 2>&1 || :
if [ -n "$KC_HAD_HELPERD" ]; then
	if stack_helperd_start; then ok "helperd back with the defaults"; else bad "helperd back with the defaults" "see its log"; fi
fi
