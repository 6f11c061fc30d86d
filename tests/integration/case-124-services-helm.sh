# shellcheck shell=sh
# Cloud services through helperd (issue 13): a real kaiden-helperd runs helm
# (tests/fakes/fake_helm, through a wrapper that gives it its catalog and log) against
# tests/fakes/fake_k8s.py. Create through the API -> deploying -> running with its pods
# ready, the namespace labelled with its quota and limit range; an upgrade changes the
# values (revision 2); history lists both; a rollback to 1 makes revision 3 with 1's
# values; an install that helm refuses shows helm's Error line; a pod that cannot pull
# its image shows that in words while it deploys, and the service runs once the pod is
# ready; a secret value is in no argv of a helm child, no log and no database column in
# clear; a doctored row whose namespace is not paas-ws-* is refused by helperd (helm never
# runs for it); helperd SIGKILLed while helm holds an install (the fake's gate) resumes
# after a restart and ends running; helperd and helm both SIGKILLed mid-upgrade: the
# service fails at once in words, and the next change rolls the lock back first; delete -> helm uninstall, deleted, and the namespace
# removed once the tenant's last service is gone; a custom domain reaches the chart only
# once verified (n8n's ingress.hosts[1].host with hosts[0]'s paths, read from the
# release's record) and leaves it at DELETE .../domain, each an upgrade with the values
# unchanged; the webhooks service.deployed, .failed and .deleted are emitted.
#
# Waits are bounded polls on the database (wait_for), states are held with the fakes'
# gates, never sampled after a sleep. Services are made and changed through the API
# (POST, PATCH, rollback, DELETE /api/v1/services); the webhook through tests/fakes/webhook_seed
# (its URL need not resolve: only the outbox rows are checked). Self-contained, in a tenant of its own ("ks"),
# on both databases; runs its own helperd with the services settings, and puts back the
# one an earlier case left.

S124=$WORK/s124
mkdir -p "$S124"
S124_SAVED_TOKEN=$STACK_TOKEN
S124_K8S_PID=
S124_SECRET=pg-secret-never-in-clear-4711
S124_SECRET2=pg-secret-too-never-in-clear-0815
S124_RSECRET=redis-secret-never-in-clear-2342
S124_NSECRET=n8n-key-never-in-clear-000000001

s124_as() {
	eval "STACK_TOKEN=\$$1"
}


s124_k8s() {
	_m=$1
	_p=$2
	shift 2
	curl -sS --max-time 10 -X "$_m" "$@" "http://127.0.0.1:$S124_K8S_PORT$_p"
}

# s124_status ID: the service's status in the database.
s124_q() {
	echo "SELECT $2 FROM cloud_services WHERE id = '$1'"
}

# ---- the fakes, the key, helm's wrapper -------------------------------------------------
printf 'k8s-token-%s\n' "$$" >"$S124/k8s.token"
chmod 600 "$S124/k8s.token"
python3 tests/fakes/fake_k8s.py --port-file "$S124/k8s.port" --token-file "$S124/k8s.token" \
	</dev/null >>"$S124/k8s.log" 2>&1 &
S124_K8S_PID=$!
case_pids "$S124_K8S_PID"
_i=0
while [ ! -s "$S124/k8s.port" ] && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
S124_K8S_PORT=$(cat "$S124/k8s.port" 2>/dev/null || echo 0)
if curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$S124_K8S_PORT/_fake/health"; then
	ok "the fake Kubernetes API runs"
else
	bad "the fake Kubernetes API runs" "$(tail -n 5 "$S124/k8s.log")"
fi

# The catalog's charts and versions (catalog/catalog.yaml), as the fake helm serves them.
# PostgreSQL's pods are ready at once, Redis's cannot pull their image, and n8n's install
# fails as a hook would; PostgreSQL's install waits while the gate file exists.
cat >"$S124/charts.json" <<EOF
{
 "oci://registry-1.docker.io/bitnamicharts/postgresql": {"name": "postgresql", "versions": {
  "17.1.0": {"app_version": "17.6.0", "values": {"image": {"repository": "bitnami/postgresql"}},
   "pods": [{"name": "primary", "kind": "Deployment", "replicas": 1,
             "containers": [{"name": "postgresql", "image": "docker.io/bitnamilegacy/postgresql:17.6.0"}]}],
   "start": "ready", "gate": "$S124/pg.gate"}}},
 "oci://registry-1.docker.io/bitnamicharts/redis": {"name": "redis", "versions": {
  "23.1.1": {"app_version": "8.2.1",
   "pods": [{"name": "master", "kind": "Deployment", "replicas": 1,
             "containers": [{"name": "redis", "image": "docker.io/bitnamilegacy/redis:8.2.1"}]}],
   "start": "ImagePullBackOff"}}},
 "oci://8gears.container-registry.com/library/n8n": {"name": "n8n", "versions": {
  "1.1.0": {"app_version": "1.116.2", "fail": "failed pre-install: job n8n-migrate failed: BackoffLimitExceeded"}}}
}
EOF
# helperd gives helm an environment made from nothing: the wrapper adds the fake's own
# variables. /usr/bin/python3, not env's: a pyenv shim is slow to start.
cat >"$S124/helm" <<EOF
#!/bin/sh
FAKE_HELM_CHARTS='$S124/charts.json' FAKE_HELM_LOG='$S124/helm.log' exec /usr/bin/python3 '$STACK_ROOT/tests/fakes/fake_helm' "\$@"
EOF
chmod 755 "$S124/helm"
head -c 32 /dev/urandom >"$S124/services.key"
chmod 600 "$S124/services.key"

fake_dns_start "$S124"

export KAIDEN_SERVICES_DOMAIN=apps.kaiden.test KAIDEN_SERVICES_KEY_FILE="$S124/services.key"
export KAIDEN_K8S_API="http://127.0.0.1:$S124_K8S_PORT" KAIDEN_K8S_TOKEN_FILE="$S124/k8s.token"
export KAIDEN_K8S_INSECURE=1 KAIDEN_SERVICES_DNS_SERVER="127.0.0.1:$FAKE_DNS_PORT"
api_restart "kaiden-api restarts with the services settings"
S124_HAD_HELPERD=
if [ -n "${STACK_HELPERD_PID:-}" ] && kill -0 "$STACK_HELPERD_PID" 2>/dev/null; then S124_HAD_HELPERD=1; fi
stack_helperd_stop >/dev/null 2>&1 || :
S124_HELPERD_ENV="KAIDEN_SERVICES_HELM=$S124/helm KAIDEN_SERVICES_HELM_HOME=$S124/helm-home KAIDEN_K8S_SERVICE_ACCOUNT=kaiden-system/kaiden-helperd KAIDEN_SERVICES_QUOTA_GRACE=5 KAIDEN_LOG_LEVEL=info"
s124_helperd_start() {
	if eval "$S124_HELPERD_ENV stack_helperd_start"; then
		ok "$1"
	else
		bad "$1" "see $STACK_DIR/log/kaiden-helperd.log"
	fi
}
s124_helperd_start "helperd starts with helm and the Kubernetes API"
if grep -q "cloud services: helm $S124/helm .*tenant RoleBindings for kaiden-system/kaiden-helperd" "$STACK_DIR/log/kaiden-helperd.log"; then
	ok "helperd says where helm and the API are"
else
	bad "helperd says where helm and the API are" "$(grep -i 'cloud services' "$STACK_DIR/log/kaiden-helperd.log" | tail -n 2)"
fi

# ---- the tenant ------------------------------------------------------------------------
printf '%s' 'ks-password-0000001' >"$T/ks.pw"
cli "a platform admin for services" S124_OUT user add --email ks-admin@kaiden.test \
	--name 'KS Admin' --role admin --password-file "$T/ks.pw"
raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
	'{"email":"ks-admin@kaiden.test","password":"ks-password-0000001"}'
expect "... logs in" 200 '.token | type == "string"'
save S124_ADMIN .token
s124_as S124_ADMIN
t "a tenant for services" POST /api/v1/admin/tenants '{"code":"ks","name":"Services Inc"}' 201
save S124_TENANT .id
cli "its service token" S124_SVC token create --tenant ks --name 'ks svc'
s124_as S124_SVC
# Webhooks for the three service events (their rows are the outbox: no receiver needed).
case $B in /*) S124_WSEED=$B/tests/webhook_seed ;; *) S124_WSEED=$STACK_ROOT/$B/tests/webhook_seed ;; esac
if _o=$("$S124_WSEED" hook "$S124_TENANT" https://hooks.example.com/ks \
	'["service.deployed","service.failed","service.deleted"]' 2>"$T/seed.err"); then
	ok "a webhook for service events"
else
	bad "a webhook for service events" "$(head -c 200 "$T/seed.err")"
fi
S124_HOOK=${_o%% *}

# ---- install -> running ----------------------------------------------------------------
t "a PostgreSQL service is created" POST /api/v1/services \
	"{\"template\":\"postgresql\",\"name\":\"Main DB\",\"reference_id\":\"db\",\"subdomain\":\"ks-db\",\"storage_size\":\"10Gi\",\"values\":{\"auth\":{\"username\":\"first\",\"postgresPassword\":\"$S124_SECRET\",\"password\":\"$S124_SECRET\"}}}" \
	202 '.status == "pending"' '.namespace == "paas-ws-ks"' '.helm_release == "paas-ws-ks-db"' '.storage_size == "10Gi"'
save S124_PG .id
wait_for "... runs, every pod ready" 30 "$(s124_q "$S124_PG" "status || ' ' || revision || ' ' || pods_ready || '/' || pods_total")" "running 1 1/1"
# The size reached helm as the template's input (primary.persistence.size): the release's
# own record (the Secret helm stores, gzip and base64 as real helm writes it).
S124_CONFIG=$(s124_k8s GET "/_fake/objects?resource=secrets&namespace=paas-ws-ks" | python3 -c '
import base64, gzip, json, sys
for o in json.load(sys.stdin)["objects"]:
    if o["metadata"]["name"] == "sh.helm.release.v1.paas-ws-ks-db.v1":
        rel = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(o["data"]["release"]))))
        print((rel.get("config") or {}).get("primary", {}).get("persistence", {}).get("size"))
' 2>&1)
if [ "$S124_CONFIG" = 10Gi ]; then ok "... helm got storage_size as primary.persistence.size"; else bad "... helm got storage_size as primary.persistence.size" "got '$S124_CONFIG'"; fi
s124_k8s GET "/_fake/objects?resource=namespaces" >"$S124/ns.json"
if jq -e --arg t "$S124_TENANT" '[.objects[] | select(.metadata.name == "paas-ws-ks")
		| select(.metadata.labels["app.kubernetes.io/managed-by"] == "kaiden" and .metadata.labels["kaiden.dev/tenant"] == $t)
		| select(.metadata.labels["pod-security.kubernetes.io/enforce"] == "baseline")]
		| length == 1' "$S124/ns.json" >/dev/null 2>&1; then
	ok "the namespace paas-ws-ks is Kaiden's and the tenant's, Pod Security baseline"
else
	bad "the namespace paas-ws-ks is Kaiden's and the tenant's" "$(head -c 300 "$S124/ns.json")"
fi
# helperd's rights in the namespace: a RoleBinding of kaiden-helperd-tenant to its own
# account (k8s.service_account), made before the quota and helm.
s124_k8s GET "/_fake/objects?resource=rolebindings&namespace=paas-ws-ks" >"$S124/rb.json"
if jq -e '[.objects[] | select(.metadata.name == "kaiden-helperd"
		and .roleRef == {"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"kaiden-helperd-tenant"}
		and .subjects == [{"kind":"ServiceAccount","name":"kaiden-helperd","namespace":"kaiden-system"}])]
		| length == 1' "$S124/rb.json" >/dev/null 2>&1; then
	ok "... with helperd's RoleBinding to kaiden-helperd-tenant"
else
	bad "... with helperd's RoleBinding to kaiden-helperd-tenant" "$(head -c 300 "$S124/rb.json")"
fi
s124_k8s GET "/_fake/objects?resource=resourcequotas&namespace=paas-ws-ks" >"$S124/quota.json"
if grep -q kaiden-quota "$S124/quota.json"; then ok "... with its ResourceQuota"; else bad "... with its ResourceQuota" "$(head -c 300 "$S124/quota.json")"; fi
t "GET shows it running, its pods ready" GET "/api/v1/services/$S124_PG" '' 200 '.status == "running"' \
	'.revision == 1' '.pods_ready == 1' '.pods_total == 1' '.error == null or .error == ""' \
	'.deployed_at != null' '.secrets["auth.password"] == "set"'

# ---- upgrade -> revision 2; history; rollback -> revision 3 with 1's values ---------------
# The tenant's browsers hear every status change, the API's (upgrading, rolling_back:
# told when helperd claims the job) and helperd's, each once: the live event stream, read
# as a script reads it (tests/scripts/ws_events.py), until the Redis service's running
# event below.
(umask 077 && printf '%s\n' "$S124_SVC" >"$S124/svc.token")
python3 "$STACK_ROOT/tests/scripts/ws_events.py" --url "ws://127.0.0.1:$STACK_PORT/api/v1/ws/events" \
	--token-file "$S124/svc.token" --timeout 180 --match '"status":"running","error":null,"pods_ready":1,"pods_total":1,"revision":1}' \
	>"$S124/events.out" 2>&1 &
S124_EVENTS_PID=$!
_i=0
until grep -q '^connected$' "$S124/events.out" 2>/dev/null || [ "$_i" -ge 100 ]; do sleep 0.1; _i=$((_i + 1)); done
t "an upgrade changes a value" PATCH "/api/v1/services/$S124_PG" \
	"{\"values\":{\"auth\":{\"username\":\"second\",\"password\":\"$S124_SECRET2\"}}}" 202 '.status == "upgrading"'
wait_for "... runs revision 2" 30 "$(s124_q "$S124_PG" "status || ' ' || revision")" "running 2"
s124_revs() {
	dbq "SELECT revision || ':' || status || ':' || CAST(plain_values AS TEXT) FROM service_revisions WHERE service_id = '$1' ORDER BY revision" |
		sed 's/:{.*"username": *"\([a-z]*\)".*/:\1/' | tr '\n' ' '
}
S124_REVS=$(s124_revs "$S124_PG")
if [ "$S124_REVS" = "1:superseded:first 2:deployed:second " ]; then ok "the revisions list both, each with its values"; else bad "the revisions list both, each with its values" "got '$S124_REVS'"; fi
t "GET .../revisions lists both" GET "/api/v1/services/$S124_PG/revisions" '' 200 \
	'[.items[] | .revision] == [2, 1]' '[.items[] | .status] == ["deployed", "superseded"]' \
	'[.items[] | .values.auth.username] == ["second", "first"]' '.items[0].chart_version == "17.1.0"'
t "a rollback to 1" POST "/api/v1/services/$S124_PG/rollback" '{"revision":1}' 202 '.status == "rolling_back"'
wait_for "... runs revision 3" 30 "$(s124_q "$S124_PG" "status || ' ' || revision")" "running 3"
t "... with revision 1's values" GET "/api/v1/services/$S124_PG" '' 200 '.values.auth.username == "first"' \
	'.revision == 3' '.rollback_to == null' '.web == false' '.urls == []'
S124_REVS=$(s124_revs "$S124_PG")
if [ "$S124_REVS" = "1:superseded:first 2:superseded:second 3:deployed:first " ]; then ok "the revisions list three, 3 with 1's values"; else bad "the revisions list three, 3 with 1's values" "got '$S124_REVS'"; fi

# ---- an install helm refuses; a pod that cannot pull ---------------------------------------
t "an n8n service is created" POST /api/v1/services \
	'{"template":"n8n","name":"Flows","reference_id":"flows","subdomain":"ks-flows","values":{"main":{"secret":{"n8n":{"encryption_key":"'"$S124_NSECRET"'"}}}}}' 202
save S124_N8N .id
wait_for "... fails" 30 "$(s124_q "$S124_N8N" "status")" "failed"
dbcheck "... with helm's Error line in its error" \
	"$(s124_q "$S124_N8N" "CASE WHEN error LIKE '%BackoffLimitExceeded%' THEN 'yes' ELSE error END")" yes
t "a Redis service is created" POST /api/v1/services \
	"{\"template\":\"redis\",\"name\":\"Cache\",\"reference_id\":\"cache\",\"subdomain\":\"ks-cache\",\"values\":{\"auth\":{\"password\":\"$S124_RSECRET\"}}}" 202
save S124_REDIS .id
wait_for "... deploys, its pod's image cannot be pulled, in words" 30 \
	"$(s124_q "$S124_REDIS" "status || ' ' || CASE WHEN error LIKE '%image cannot be pulled%ImagePullBackOff%' THEN 'words' ELSE coalesce(error, '-') END")" \
	"deploying words"
# Held there (the pod never pulls) for two more of helperd's polls: each finds what the
# last found. Counted on helm's log: a poll begins with `helm status`, so once two more
# have begun the one before has written (or not) all it had.
s124_polls() {
	jq -c 'select(.event == "start" and .argv[0] == "status" and (.argv | index("paas-ws-ks-cache")))' \
		"$S124/helm.log" 2>/dev/null | wc -l
}
S124_POLLS=$(s124_polls)
_i=0
until [ "$(s124_polls)" -ge $((S124_POLLS + 2)) ] || [ "$_i" -ge 300 ]; do sleep 0.1; _i=$((_i + 1)); done
if [ "$_i" -lt 300 ]; then ok "... polled twice more while stuck"; else bad "... polled twice more while stuck" "$(s124_polls) status calls, from $S124_POLLS"; fi
s124_k8s POST /_fake/pods -d '{"namespace":"paas-ws-ks","instance":"paas-ws-ks-cache","state":"ready"}' >/dev/null
wait_for "... runs once the pod is ready, the error gone" 30 \
	"$(s124_q "$S124_REDIS" "status || ' ' || coalesce(nullif(error, ''), '-')")" "running -"
if wait "$S124_EVENTS_PID" && grep -q "\"type\":\"service\",\"id\":\"$S124_REDIS\",\"status\":\"running\"" "$S124/events.out"; then
	ok "... and its service events on the tenant's live stream, running last"
else
	bad "... and its service events on the tenant's live stream, running last" "$(tail -c 600 "$S124/events.out")"
fi
S124_STUCK_EVENTS=$(grep "\"id\":\"$S124_REDIS\"" "$S124/events.out" | grep -c '"status":"deploying","error":"pod .*the image cannot be pulled (ImagePullBackOff).*","pods_ready":0,"pods_total":1,"revision":0}')
if [ "$S124_STUCK_EVENTS" = 1 ]; then
	ok "... deploying with its pod's trouble in words before that, told once over three polls"
else
	bad "... deploying with its pod's trouble in words before that, told once over three polls" \
		"$S124_STUCK_EVENTS such events: $(grep "$S124_REDIS" "$S124/events.out" | head -c 600)"
fi
# Every status change once, in order: the API's (upgrading, rolling_back) and helperd's.
s124_statuses() {
	grep "\"id\":\"$1\"" "$S124/events.out" | jq -r .status 2>/dev/null | uniq | tr '\n' ' '
}
S124_PG_EVENTS=$(s124_statuses "$S124_PG")
if [ "$S124_PG_EVENTS" = "upgrading running rolling_back running " ]; then
	ok "the upgrade and the rollback: upgrading, running, rolling_back, running on the stream"
else
	bad "the upgrade and the rollback: upgrading, running, rolling_back, running on the stream" "got '$S124_PG_EVENTS'"
fi
S124_N8N_EVENTS=$(s124_statuses "$S124_N8N")
if [ "$S124_N8N_EVENTS" = "deploying failed " ]; then
	ok "the failing install: deploying, failed"
else
	bad "the failing install: deploying, failed" "got '$S124_N8N_EVENTS'"
fi
# ... and no event that says what the one before it said (of the same service).
S124_DUPS=$(grep '"type":"service"' "$S124/events.out" | jq -r .id | sort -u | while read -r _id; do
	grep "\"id\":\"$_id\"" "$S124/events.out" | uniq -d
done)
if [ -z "$S124_DUPS" ]; then
	ok "... never the same event twice in a row"
else
	bad "... never the same event twice in a row" "$(printf '%s' "$S124_DUPS" | head -c 400)"
fi
if grep -q -e "$S124_RSECRET" -e '"values"' "$S124/events.out"; then
	bad "... never a value" "$(grep -e "$S124_RSECRET" -e '"values"' "$S124/events.out" | head -c 300)"
else
	ok "... never a value"
fi

# ---- a doctored namespace is refused -----------------------------------------------------
# The database's CHECK holds namespaces to 'paas-ws-%'; helperd's guard holds them to
# paas-ws- + a DNS label, so a row doctored past the CHECK reaches neither helm nor the API.
t "a service to doctor" POST /api/v1/services \
	"{\"template\":\"postgresql\",\"name\":\"Doctored\",\"reference_id\":\"evil\",\"subdomain\":\"ks-evil\",\"values\":{\"auth\":{\"postgresPassword\":\"$S124_SECRET\",\"password\":\"$S124_SECRET\"}}}" 202
save S124_EVIL .id
wait_for "... runs" 30 "$(s124_q "$S124_EVIL" "status")" "running"
stack_helperd_stop >/dev/null 2>&1 || :
dbq "UPDATE cloud_services SET namespace = 'paas-ws-x/../../kube-system' WHERE id = '$S124_EVIL'" >/dev/null
S124_HELM_LINES=$(wc -l <"$S124/helm.log" 2>/dev/null || echo 0)
t "... and upgraded through the API" PATCH "/api/v1/services/$S124_EVIL" \
	'{"values":{"auth":{"username":"other"}}}' 202 '.status == "upgrading"'
s124_helperd_start "helperd starts again"
wait_for "a doctored namespace is refused: the service fails saying so" 30 \
	"$(s124_q "$S124_EVIL" "status || ' ' || CASE WHEN error LIKE '%paas-ws-%' THEN 'refused' ELSE coalesce(error, '-') END")" \
	"failed refused"
if tail -n +"$((S124_HELM_LINES + 1))" "$S124/helm.log" 2>/dev/null | grep -q 'kube-system'; then
	bad "... and helm never ran in it" "$(grep kube-system "$S124/helm.log" | head -n 2)"
else
	ok "... and helm never ran in it"
fi
if s124_k8s GET "/_fake/log" | grep -q 'kube-system'; then
	bad "... nor was the Kubernetes API asked about it" "the fake's log has it"
else
	ok "... nor was the Kubernetes API asked about it"
fi
dbq "UPDATE cloud_services SET namespace = 'paas-ws-ks' WHERE id = '$S124_EVIL'" >/dev/null

# ---- helperd SIGKILLed mid-install resumes ---------------------------------------------
: >"$S124/pg.gate"
t "a second PostgreSQL service" POST /api/v1/services \
	"{\"template\":\"postgresql\",\"name\":\"Reports\",\"reference_id\":\"reports\",\"subdomain\":\"ks-reports\",\"values\":{\"auth\":{\"postgresPassword\":\"$S124_SECRET\",\"password\":\"$S124_SECRET\"}}}" 202
save S124_REP .id
# The fake helm stores the pending-install revision, then waits at the gate.
wait_for "... deploys, helm held at the gate" 30 \
	"SELECT count(*) FROM cloud_services WHERE id = '$S124_REP' AND status = 'deploying'" 1
# Held when the release's pending-install revision (a Secret) is stored.
# s124_revision_stored NAME REVISION: 0 once helm stored that revision's Secret (15 s).
s124_revision_stored() {
	_i=0
	until s124_k8s GET "/_fake/objects?resource=secrets&namespace=paas-ws-ks" |
		grep -q "sh.helm.release.v1.$1.v$2" || [ "$_i" -ge 150 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	[ "$_i" -lt 150 ]
}
if s124_revision_stored paas-ws-ks-reports 1; then ok "... its pending-install revision stored"; else bad "... its pending-install revision stored" "no release Secret in 15 s"; fi
kill -KILL "$STACK_HELPERD_PID" 2>/dev/null || :
wait "$STACK_HELPERD_PID" 2>/dev/null || :
STACK_HELPERD_PID=
s124_helperd_start "helperd SIGKILLed mid-install starts again"
# The helm it started still runs (its own process group), holding the release's lock.
_i=0
until grep -q 'paas-ws-ks-reports is pending-install: waiting' "$STACK_DIR/log/kaiden-helperd.log" || [ "$_i" -ge 150 ]; do
	sleep 0.1
	_i=$((_i + 1))
done
if [ "$_i" -lt 150 ]; then ok "... and waits out the pending-install lock"; else bad "... and waits out the pending-install lock" "no such line in helperd's log"; fi
rm -f "$S124/pg.gate"
wait_for "... and the install resumes to running" 40 "$(s124_q "$S124_REP" "status || ' ' || revision")" "running 1"

# ---- helm killed mid-upgrade: the lock it leaves is said in words, then undone ------------
# helperd and its helm both SIGKILLed while helm holds an upgrade's pending-upgrade lock:
# the restarted helperd finds helm's process gone (its mark, helm_run_orphan) and fails
# the service at once saying what happened and what to do; the next change first rolls
# the release back to its last deployed revision (a killed helm's lock, helm-cli.md 2),
# then upgrades.
: >"$S124/pg.gate"
t "the resumed service is upgraded" PATCH "/api/v1/services/$S124_REP" \
	'{"values":{"auth":{"username":"third"}}}' 202 '.status == "upgrading"'
if s124_revision_stored paas-ws-ks-reports 2; then ok "... its pending-upgrade revision stored, helm held at the gate"; else bad "... its pending-upgrade revision stored" "no v2 release Secret in 15 s"; fi
S124_HELM_PID=$(jq -r 'select(.event == "start" and .argv[0] == "upgrade" and (.argv | index("paas-ws-ks-reports"))) | .pid' "$S124/helm.log" | tail -n 1)
kill -KILL "$STACK_HELPERD_PID" 2>/dev/null || :
wait "$STACK_HELPERD_PID" 2>/dev/null || :
STACK_HELPERD_PID=
if [ -n "$S124_HELM_PID" ] && kill -KILL "$S124_HELM_PID" 2>/dev/null; then ok "... helperd and its helm are killed"; else bad "... helperd and its helm are killed" "no helm pid ($S124_HELM_PID)"; fi
rm -f "$S124/pg.gate"
s124_helperd_start "helperd starts again"
wait_for "... the service fails at once, saying helm was stopped and what to do" 30 \
	"$(s124_q "$S124_REP" "status || ' ' || CASE WHEN error LIKE 'helm was stopped in the middle of this operation%pending-upgrade%Change the service or roll it back to try again%rolls the release back to its last deployed revision' THEN 'words' ELSE coalesce(error, '-') END")" \
	"failed words"
t "the next change is accepted" PATCH "/api/v1/services/$S124_REP" \
	'{"values":{"auth":{"username":"fourth"}}}' 202 '.status == "upgrading"'
wait_for "... rolls back to revision 1 first, then upgrades: running revision 4" 40 \
	"$(s124_q "$S124_REP" "status || ' ' || revision || ' ' || coalesce(error, '-')")" "running 4 -"
if jq -c 'select(.event == "start" and .argv[0] == "rollback")' "$S124/helm.log" | grep -q '"paas-ws-ks-reports","1"'; then
	ok "... by helm rollback paas-ws-ks-reports 1"
else
	bad "... by helm rollback paas-ws-ks-reports 1" "$(grep rollback "$S124/helm.log" | tail -n 2)"
fi
t "... with the new values" GET "/api/v1/services/$S124_REP" '' 200 '.values.auth.username == "fourth"' \
	'.revision == 4' '.error == null'

# ---- secrets: no argv, no log, no column in clear ------------------------------------------
if grep -q -e "$S124_SECRET" -e "$S124_SECRET2" -e "$S124_RSECRET" -e "$S124_NSECRET" "$S124/helm.log"; then
	bad "no secret in any helm child's argv or environment" "$(grep -c -e "$S124_SECRET" "$S124/helm.log") lines"
else
	ok "no secret in any helm child's argv or environment"
fi
if jq -e -s '[.[] | select(.stdin_bytes? > 0)] | length > 0' "$S124/helm.log" >/dev/null 2>&1; then
	ok "... the values went on stdin"
else
	bad "... the values went on stdin" "no start line with stdin_bytes > 0"
fi
if grep -rq -e "$S124_SECRET" -e "$S124_SECRET2" -e "$S124_RSECRET" -e "$S124_NSECRET" "$STACK_DIR/log"; then
	bad "no secret in the logs" "$(grep -rl -e "$S124_SECRET" "$STACK_DIR/log")"
else
	ok "no secret in the logs"
fi
if [ "$SUITE_DB" = sqlite ]; then
	sqlite3 "$STACK_DB_PATH" .dump >"$S124/dump.sql" 2>/dev/null
else
	pg_dump -d "${KAIDEN_DATABASE_OWNER_DSN:-$KAIDEN_DATABASE_DSN}" >"$S124/dump.sql" 2>/dev/null
fi
if [ -s "$S124/dump.sql" ] && ! grep -q -e "$S124_SECRET" -e "$S124_SECRET2" -e "$S124_RSECRET" -e "$S124_NSECRET" "$S124/dump.sql"; then
	ok "no secret in the database in clear"
else
	bad "no secret in the database in clear" "the dump has one (or is empty)"
fi
rm -f "$S124/dump.sql"

# ---- delete; the namespace goes with the last service ----------------------------------------
t "the first PostgreSQL service is deleted" DELETE "/api/v1/services/$S124_PG" '' 202 '.status == "deleting"'
wait_for "... deleted" 30 "$(s124_q "$S124_PG" "status")" "deleted"
if grep '"uninstall"' "$S124/helm.log" | grep -q '"paas-ws-ks-db"'; then ok "... by helm uninstall"; else bad "... by helm uninstall" "no uninstall of paas-ws-ks-db in the helm log"; fi
S124_NS=$(s124_k8s GET "/_fake/objects?resource=namespaces" | jq '[.objects[] | select(.metadata.name == "paas-ws-ks")] | length' 2>/dev/null)
if [ "$S124_NS" = 1 ]; then ok "... the namespace stays while the tenant has services"; else bad "... the namespace stays while the tenant has services" "got $S124_NS"; fi
# ---- a DELETE supersedes a deploy under way ---------------------------------------------
# (Here, once the first service is gone: the trial plan's namespace quota, 2 CPUs of
# limits at the LimitRange's 500m a container, holds four pods.)
t "a Redis service that will not start" POST /api/v1/services \
	"{\"template\":\"redis\",\"name\":\"Stuck\",\"reference_id\":\"stuck\",\"subdomain\":\"ks-stuck\",\"values\":{\"auth\":{\"password\":\"$S124_RSECRET\"}}}" 202
save S124_STUCK .id
wait_for "... deploys, waiting for its pods" 30 \
	"$(s124_q "$S124_STUCK" "status || ' ' || CASE WHEN error LIKE '%ImagePullBackOff%' THEN 'stuck' ELSE coalesce(error, '-') END")" \
	"deploying stuck"
t "... is deleted while it deploys" DELETE "/api/v1/services/$S124_STUCK" '' 202 '.status == "deleting"'
wait_for "... the deploy stops at its next poll and the uninstall runs" 30 "$(s124_q "$S124_STUCK" "status")" "deleted"
if grep -q "service=$S124_STUCK install superseded" "$STACK_DIR/log/kaiden-helperd.log"; then
	ok "... helperd says the install was superseded"
else
	bad "... helperd says the install was superseded" "no such line in its log"
fi
dbcheck "... its two jobs (install, uninstall) done" \
	"SELECT count(*) || ' ' || sum(CASE WHEN state = 'done' THEN 1 ELSE 0 END) FROM jobs WHERE service_id = '$S124_STUCK'" \
	"2 2"

for _s in "$S124_N8N" "$S124_REDIS" "$S124_EVIL" "$S124_REP"; do
	call DELETE "/api/v1/services/$_s"
done
wait_for "the tenant's other services are deleted" 40 \
	"SELECT count(*) FROM cloud_services WHERE tenant_id = '$S124_TENANT' AND status <> 'deleted'" 0
_i=0
while [ "$_i" -lt 100 ]; do
	S124_NS=$(s124_k8s GET "/_fake/objects?resource=namespaces" | jq '[.objects[] | select(.metadata.name == "paas-ws-ks")] | length' 2>/dev/null)
	[ "$S124_NS" = 0 ] && break
	sleep 0.1
	_i=$((_i + 1))
done
if [ "$S124_NS" = 0 ]; then ok "the namespace is deleted with the tenant's last service"; else bad "the namespace is deleted with the tenant's last service" "still there ($S124_NS)"; fi

# ---- a verified custom domain reaches the chart -----------------------------------------
# n8n's chart installs from here on (the fake's catalog rewritten: helm reads it at each
# run). Its template maps the custom domain to ingress.hosts[1].host: what helm got is
# read from the release's own record (s124_ingress NAME REVISION: the values' ingress).
jq '.["oci://8gears.container-registry.com/library/n8n"].versions["1.1.0"] |= (del(.fail) + {"start": "ready",
	"pods": [{"name": "main", "kind": "Deployment", "replicas": 1, "containers": [{"name": "n8n", "image": "docker.io/n8nio/n8n:1.116.2"}]}]})' \
	"$S124/charts.json" >"$S124/charts.json.tmp" && mv "$S124/charts.json.tmp" "$S124/charts.json"
s124_ingress() {
	s124_k8s GET "/_fake/objects?resource=secrets&namespace=paas-ws-ks" | python3 -c '
import base64, gzip, json, sys
for o in json.load(sys.stdin)["objects"]:
    if o["metadata"]["name"] == "sh.helm.release.v1.%s.v%s" % (sys.argv[1], sys.argv[2]):
        rel = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(o["data"]["release"]))))
        c = rel.get("config") or {}
        print(json.dumps([c.get("ingress", {}).get("hosts"), c.get("main", {}).get("config", {}).get("n8n", {}).get("host")], sort_keys=True))
' "$1" "$2" 2>&1
}
s124_ingress_is() {
	_got=$(s124_ingress "$1" "$2")
	if [ "$_got" = "$3" ]; then ok "$4"; else bad "$4" "got '$_got'"; fi
}
S124_ONE='[[{"host": "ks-web.apps.kaiden.test", "paths": ["/"]}], "ks-web.apps.kaiden.test"]'
S124_TWO='[[{"host": "ks-web.apps.kaiden.test", "paths": ["/"]}, {"host": "shop-ks.example.com", "paths": ["/"]}], "ks-web.apps.kaiden.test"]'
t "an n8n service that runs" POST /api/v1/services \
	'{"template":"n8n","name":"Web","reference_id":"web","subdomain":"ks-web","values":{"main":{"secret":{"n8n":{"encryption_key":"'"$S124_NSECRET"'"}}}}}' 202
save S124_WEB .id
wait_for "... runs" 30 "$(s124_q "$S124_WEB" "status || ' ' || revision")" "running 1"
s124_ingress_is paas-ws-ks-web 1 "$S124_ONE" "... helm got its host at ingress.hosts[0].host, one host"
t "a custom domain: an upgrade" PUT "/api/v1/services/$S124_WEB/domain" '{"domain":"shop-ks.example.com"}' 202 \
	'.status == "upgrading"' '.domain.status == "unverified"'
wait_for "... runs revision 2" 30 "$(s124_q "$S124_WEB" "status || ' ' || revision")" "running 2"
s124_ingress_is paas-ws-ks-web 2 "$S124_ONE" "... unverified: not in the ingress (a name the tenant may not own)"
fake_dns_cname "$S124" shop-ks.example.com ks-web.apps.kaiden.test
t "verified: an upgrade puts it into the chart" POST "/api/v1/services/$S124_WEB/domain/verify" '' 200 \
	'.domain.status == "verified"' '.status == "upgrading"'
wait_for "... runs revision 3" 30 "$(s124_q "$S124_WEB" "status || ' ' || revision || ' ' || domain_status")" "running 3 verified"
s124_ingress_is paas-ws-ks-web 3 "$S124_TWO" "... helm got it at ingress.hosts[1].host with hosts[0]'s paths"
t "... the revisions show it" GET "/api/v1/services/$S124_WEB/revisions" '' 200 \
	'[.items[].revision] == [3, 2, 1]' '.items[0].status == "deployed"' \
	'.items[0].values == .items[1].values'
dbq "UPDATE cloud_services SET domain_checked_at = '2026-01-01T00:00:00.000Z' WHERE id = '$S124_WEB'" >/dev/null
t "verified again: nothing moves, no upgrade" POST "/api/v1/services/$S124_WEB/domain/verify" '' 200 \
	'.domain.status == "verified"' '.status == "running"' '.revision == 3'
t "the domain removed: an upgrade" DELETE "/api/v1/services/$S124_WEB/domain" '' 202 '.status == "upgrading"' '.domain == null'
wait_for "... runs revision 4" 30 "$(s124_q "$S124_WEB" "status || ' ' || revision")" "running 4"
s124_ingress_is paas-ws-ks-web 4 "$S124_ONE" "... helm got one host again"
dbcheck "... four operations, each a job done" \
	"SELECT count(*) || ' ' || sum(CASE WHEN state = 'done' THEN 1 ELSE 0 END) FROM jobs WHERE service_id = '$S124_WEB'" "4 4"
call DELETE "/api/v1/services/$S124_WEB"
wait_for "... deleted" 30 "$(s124_q "$S124_WEB" "status")" "deleted"

# ---- the namespace's quota: counted before helm runs; a refusal in words, failing early ----
# A tenant whose plan holds one pod's CPU (500m: the LimitRange's default limit). The
# fake's quota controller is held first: helperd must wait for the quota's status.hard
# (k8s-api.md 5) and run no helm meanwhile. Then a second service's pod is refused by
# the quota (a FailedCreate event on its ReplicaSet, no pod): its error says the
# quota's words while it deploys, and it fails after services.quota_grace (5 s here),
# not after services.deploy_timeout (600 s).
s124_as S124_ADMIN
t "a tenant with a tiny services quota" POST /api/v1/admin/tenants \
	'{"code":"kq","name":"Tiny Quota","quotas":{"services_cpu":500}}' 201
save S124_KQ .id
cli "... its service token" S124_KQSVC token create --tenant kq --name 'kq svc'
s124_as S124_KQSVC
s124_k8s POST /_fake/config -d '{"quota_sync":false}' >/dev/null
t "a service while the quota controller is behind" POST /api/v1/services \
	"{\"template\":\"postgresql\",\"name\":\"One\",\"reference_id\":\"one\",\"subdomain\":\"kq-one\",\"values\":{\"auth\":{\"postgresPassword\":\"$S124_SECRET\",\"password\":\"$S124_SECRET\"}}}" 202
save S124_KQ1 .id
if s124_k8s GET "/_fake/wait?count=3&path=/api/v1/namespaces/paas-ws-kq/resourcequotas/kaiden-quota&status=200&timeout=30" -o /dev/null -w '%{http_code}' | grep -q 200; then
	ok "... helperd reads the quota until its status is filled"
else
	bad "... helperd reads the quota until its status is filled" "fewer than 3 GETs of kaiden-quota in 30 s"
fi
dbcheck "... deploying meanwhile" "$(s124_q "$S124_KQ1" "status")" deploying
if grep '"upgrade"' "$S124/helm.log" | grep -q '"paas-ws-kq-one"'; then
	bad "... and helm has not run" "an upgrade of paas-ws-kq-one in the helm log"
else
	ok "... and helm has not run"
fi
s124_k8s POST /_fake/config -d '{"quota_sync":true}' >/dev/null
s124_k8s POST /_fake/quotas/sync -d '{}' >/dev/null
wait_for "... runs once the quota controller caught up" 30 "$(s124_q "$S124_KQ1" "status || ' ' || pods_ready || '/' || pods_total")" "running 1/1"
t "a second service, beyond the quota" POST /api/v1/services \
	"{\"template\":\"redis\",\"name\":\"Two\",\"reference_id\":\"two\",\"subdomain\":\"kq-two\",\"values\":{\"auth\":{\"password\":\"$S124_RSECRET\"}}}" 202
save S124_KQ2 .id
S124_KQ2_T0=$(date +%s)
wait_for "... deploys with the quota's words in its error" 30 \
	"$(s124_q "$S124_KQ2" "status || ' ' || pods_total || ' ' || CASE WHEN error LIKE 'the namespace''s quota refuses a pod: exceeded quota: kaiden-quota, requested: %limits.cpu=500m%ask for a bigger plan or delete a service' THEN 'words' ELSE coalesce(error, '-') END")" \
	"deploying 0 words"
wait_for "... and fails with them once the refusal lasts (services.quota_grace)" 30 \
	"$(s124_q "$S124_KQ2" "status || ' ' || CASE WHEN error LIKE 'the namespace''s quota refuses a pod: exceeded quota: %' THEN 'words' ELSE coalesce(error, '-') END")" \
	"failed words"
S124_KQ2_S=$(($(date +%s) - S124_KQ2_T0))
if [ "$S124_KQ2_S" -lt 60 ]; then ok "... early: in $S124_KQ2_S s, not at the deploy timeout"; else bad "... early: not at the deploy timeout" "$S124_KQ2_S s"; fi
t "... GET says so" GET "/api/v1/services/$S124_KQ2" '' 200 '.status == "failed"' \
	'.error | test("exceeded quota: kaiden-quota")' '.pods_total == 0'
call DELETE "/api/v1/services/$S124_KQ1"
call DELETE "/api/v1/services/$S124_KQ2"
wait_for "the tiny tenant's services are deleted" 40 \
	"SELECT count(*) FROM cloud_services WHERE tenant_id = '$S124_KQ' AND status <> 'deleted'" 0

# ---- webhooks --------------------------------------------------------------------------
dbcheck "the webhooks service.deployed, .failed and .deleted were emitted" \
	"SELECT count(DISTINCT e.type) FROM webhook_events e JOIN webhook_deliveries d ON d.event_id = e.id
	 WHERE d.webhook_id = '$S124_HOOK' AND e.type IN ('service.deployed', 'service.failed', 'service.deleted')" 3

# ---- put back ---------------------------------------------------------------------------
s124_as S124_ADMIN
call DELETE "/api/v1/admin/tenants/$S124_TENANT"
call DELETE "/api/v1/admin/tenants/$S124_KQ"
stack_helperd_stop >/dev/null 2>&1 || :
unset KAIDEN_SERVICES_DOMAIN KAIDEN_SERVICES_KEY_FILE KAIDEN_K8S_API KAIDEN_K8S_TOKEN_FILE KAIDEN_K8S_INSECURE
unset KAIDEN_SERVICES_DNS_SERVER
api_restart "kaiden-api back with the defaults"
if [ -n "$S124_HAD_HELPERD" ]; then
	if stack_helperd_start; then ok "helperd back with the defaults"; else bad "helperd back with the defaults" "see its log"; fi
fi
kill -TERM "$S124_K8S_PID" 2>/dev/null || :
wait "$S124_K8S_PID" 2>/dev/null || :
fake_dns_stop
STACK_TOKEN=$S124_SAVED_TOKEN
