# shellcheck shell=sh
# The services API (issue 13, h_services.c) without helperd: what kaiden-api answers and
# what it writes (rows and jobs, asserted with SQL, as case-110 does); helperd's moves are
# made with SQL where a route needs a status only helperd sets (running, deleted), and its
# real runs are case-124's.
#   - 503 services_unavailable naming each missing setting (services.domain, then
#     services.key_file, then a Kubernetes API; a key file others may read), reads
#     without them;
#   - every refusal of POST names its field: name, template (unknown, disabled),
#     reference_id (not a label, a release name over 53), subdomain (not a label,
#     reserved, taken in this tenant or another), values against the template's schema
#     (unknown key, wrong type, pattern (in the template's words), enum, a required
#     secret missing, too short, null),
#     storage_size (form, bounds, a template without it), an unknown member; nothing
#     written;
#   - 202 + a service.install job + pending; GET shapes (web and urls: none for
#     PostgreSQL, which has no web address; secrets set/unset, the domain object,
#     storage_size), the list and its filters;
#   - PATCH merges, a null unsets (the default again), secrets kept unless given;
#     409 service_busy while an operation is queued; the storage size fixed once deployed;
#   - rollback refusals (no such revision, the current one, not a number) and a rollback;
#   - DELETE from pending and from upgrading, twice, and of a deleted one;
#   - the custom domain: refused for a service without a web address (PostgreSQL: 409
#     no_web_address); on an n8n service PUT (the record's text exactly), refusals (not
#     a name, the platform's, another tenant's, while pending), verify at tests/fakes/fake_dns.py (NXDOMAIN, a CNAME
#     elsewhere, the right one: verified, an upgrade queued; moving it back while that
#     upgrade waits: 409 service_busy), 429 within 10 s with Retry-After, DELETE;
#   - a customer reads and is refused every write (403); another tenant's service is 404;
#   - max_services counted in the create's transaction: quota 3, eight POSTs at once,
#     exactly 3 accepted, the others 409 quota_exceeded; without a quota the seed's 50
#     (the 51st refused, 50 rows);
#   - a posted secret value in no reply, no audit detail, no log, no database byte in
#     clear (pg_dump; the SQLite file and its WAL);
#   - the tenant archive (store_archive.c): export carries the services with their plain
#     values and secret names, the template's slug, no sealed blob, no revision; import is
#     refused naming a subdomain a live service has here; then it makes the one with
#     secrets failed ("imported: set the secret values again, then deploy") and the one
#     without pending with an install job; setting the secrets again installs it.
#
# Self-contained, in tenants of its own ("kv", "kw", "kq", made by a platform admin and
# deleted at the end), on both databases. Stops the helperd an earlier case left (its jobs
# must stay queued) and starts it again at the end; kaiden-api is restarted with and then
# without the services settings.

S122=$WORK/s122
mkdir -p "$S122"
: >"$S122/replies"
S122_SAVED_TOKEN=$STACK_TOKEN
S122_NOID=00000000-0000-7000-8000-000000000000
S122_SECRET=kv-secret-never-in-clear-9191
S122_SECRET2=kv-secret-too-never-in-clear-7373
S122_PW=kv-not-secret-pw-0000
S122_PG_VALUES="\"values\":{\"auth\":{\"postgresPassword\":\"$S122_PW\",\"password\":\"$S122_PW\"}}"
S122_N8N_VALUES="\"values\":{\"main\":{\"secret\":{\"n8n\":{\"encryption_key\":\"$S122_PW\"}}}}"

s122_as() {
	eval "STACK_TOKEN=\$$1"
}

# tt: t, and the reply kept for the check that no reply ever holds a secret.
tt() {
	t "$@"
	cat "$T/body" >>"$S122/replies"
	echo >>"$S122/replies"
}

s122_q() {
	echo "SELECT $2 FROM cloud_services WHERE id = '$1'"
}

# s122_rows: what a refused request must not move.
s122_rows() {
	dbq "SELECT (SELECT count(*) FROM cloud_services) || ' services, ' ||
	            (SELECT count(*) FROM jobs) || ' jobs, ' ||
	            (SELECT coalesce(sum(op_seq), 0) FROM cloud_services) || ' ops, ' ||
	            coalesce((SELECT CAST(max(updated_at) AS TEXT) FROM cloud_services), '-')" 2>&1
}
s122_unchanged() {
	_now=$(s122_rows)
	if [ "$_now" = "$S122_SNAP" ]; then ok "$1"; else LAST= && bad "$1" "before $S122_SNAP, after $_now"; fi
}

# s122_helperd ID STATUS REVISION: what helperd would write when an operation ends (its
# jobs done, the row's status and revision, a deleted one's deleted_at).
s122_helperd() {
	dbq "UPDATE jobs SET state = 'done' WHERE service_id = '$1' AND state = 'queued'" >/dev/null
	if [ "$2" = deleted ]; then
		dbq "UPDATE cloud_services SET status = 'deleted', deleted_at = updated_at, rollback_to = NULL WHERE id = '$1'" >/dev/null
	else
		dbq "UPDATE cloud_services SET status = '$2', revision = $3, rollback_to = NULL, pods_ready = 1, pods_total = 1 WHERE id = '$1'" >/dev/null
	fi
}

# s122_jobs ID: the service's jobs, oldest first: "kind state op_seq, ...".
s122_jobs() {
	echo "SELECT kind || ' ' || state || ' ' || op_seq FROM jobs WHERE service_id = '$1' ORDER BY created_at, id"
}

S122_HAD_HELPERD=
if [ -n "${STACK_HELPERD_PID:-}" ] && kill -0 "$STACK_HELPERD_PID" 2>/dev/null; then S122_HAD_HELPERD=1; fi
stack_helperd_stop >/dev/null 2>&1 || :

# ---- the fake DNS server ---------------------------------------------------------------
fake_dns_start "$S122"

# ---- the tenants and their people ------------------------------------------------------
printf '%s' 'kv-password-0000001' >"$T/kv.pw"
cli "a platform admin for the services API" S122_OUT user add --email kv-admin@kaiden.test \
	--name 'KV Admin' --role admin --password-file "$T/kv.pw"
cli "... with an API token" S122_ADMIN token create --user kv-admin@kaiden.test --name kv
s122_as S122_ADMIN
t "a tenant for services" POST /api/v1/admin/tenants '{"code":"kv","name":"Services API Inc"}' 201
save S122_TENANT .id
cli "its service token" S122_SVC token create --tenant kv --name 'kv svc'
cli "a customer" S122_OUT user add --email cleo@kv.test --name 'Cleo Customer' --role customer \
	--tenant kv --password-file "$T/kv.pw"
cli "... with an API token" S122_CUST token create --user cleo@kv.test --tenant kv --name cleo
t "another tenant" POST /api/v1/admin/tenants '{"code":"kw","name":"Other Inc"}' 201
save S122_TENANT2 .id
cli "its service token" S122_SVC2 token create --tenant kw --name 'kw svc'
# A template without secrets (and without a storage size): the archive's pending case.
tt "a test template without secrets" POST /api/v1/catalog \
	'{"slug":"kv-plain","name":"Plain","description":"A chart without secrets","icon":"icons/demo.svg","category":"Developer tools","tags":["test"],"price_label":"Free","chart_repo":"oci://registry.invalid/kaiden-test","chart_name":"plain","chart_version":"1.0.0","values_schema":{"type":"object","properties":{"replicas":{"type":"integer","minimum":1,"maximum":3,"default":1},"code":{"type":"string","pattern":"^[0-9]+$"}}},"inputs":{},"default_values":{}}' 201

# ---- 503 until the services settings are there ------------------------------------------
s122_as S122_SVC
tt "without services.domain: 503 naming it" POST /api/v1/services \
	"{\"template\":\"postgresql\",\"name\":\"x\",$S122_PG_VALUES}" 503 "$(E services_unavailable)" \
	'.error.message | test("services.domain") and test("KAIDEN_SERVICES_DOMAIN")'
tt "... reads need none of them" GET /api/v1/services '' 200 '.items == []'
# The domain routes look for the service first (404), as every service route does.
tt "... but a domain for no such service is 404 first" PUT "/api/v1/services/$S122_NOID/domain" \
	'{"domain":"shop.example.com"}' 404 "$(E not_found)"
tt "... its removal too" DELETE "/api/v1/services/$S122_NOID/domain" '' 404 "$(E not_found)"
tt "... and its look-up" POST "/api/v1/services/$S122_NOID/domain/verify" '' 404 "$(E not_found)"
tt "... and a change of its values" PATCH "/api/v1/services/$S122_NOID" '{"values":{}}' 404 "$(E not_found)"
export KAIDEN_SERVICES_DOMAIN=apps.kaiden.test
api_restart "kaiden-api restarts with services.domain only"
tt "without services.key_file: 503 naming it" POST /api/v1/services \
	"{\"template\":\"postgresql\",\"name\":\"x\",$S122_PG_VALUES}" 503 "$(E services_unavailable)" \
	'.error.message | test("services.key_file") and test("KAIDEN_SERVICES_KEY_FILE")'
head -c 32 /dev/urandom >"$S122/services.key"
chmod 644 "$S122/services.key"
export KAIDEN_SERVICES_KEY_FILE="$S122/services.key"
api_restart "kaiden-api restarts with the key file too"
tt "without a Kubernetes API: 503 naming k8s.api" POST /api/v1/services \
	"{\"template\":\"postgresql\",\"name\":\"x\",$S122_PG_VALUES}" 503 "$(E services_unavailable)" \
	'.error.message | test("k8s.api") and test("KAIDEN_K8S_API")'
# kaiden-api never calls the Kubernetes API (helperd does): a closed port will do. Debug
# logging, so that "never logged" covers everything kaiden-api can say.
export KAIDEN_K8S_API=http://127.0.0.1:9 KAIDEN_SERVICES_DNS_SERVER="127.0.0.1:$FAKE_DNS_PORT"
export KAIDEN_LOG_LEVEL=debug
api_restart "kaiden-api restarts with every services setting"
tt "a key file others may read: 503 saying chmod 600" POST /api/v1/services \
	"{\"template\":\"postgresql\",\"name\":\"x\",$S122_PG_VALUES}" 503 "$(E services_unavailable)" \
	'.error.message | test("services.key_file") and test("chmod 600")'
chmod 600 "$S122/services.key"
dbcheck "no refusal wrote a service or a job" "SELECT count(*) FROM cloud_services WHERE tenant_id = '$S122_TENANT'" 0

# ---- create --------------------------------------------------------------------------------
tt "a service is accepted: 202, pending" POST /api/v1/services \
	"{\"template\":\"postgresql\",\"name\":\"Main DB\",\"reference_id\":\"db\",\"subdomain\":\"kv-db\",\"storage_size\":\"10Gi\",\"values\":{\"auth\":{\"username\":\"first\",\"postgresPassword\":\"$S122_SECRET\",\"password\":\"$S122_SECRET\"}}}" \
	202 '.status == "pending"' '.name == "Main DB"' '.reference_id == "db"' '.subdomain == "kv-db"' \
	'.template == "postgresql"' '.template_name == "PostgreSQL"' '.chart_version == "17.1.0"' \
	'.namespace == "paas-ws-kv"' '.helm_release == "paas-ws-kv-db"' '.revision == 0' \
	'.storage_size == "10Gi"' '.web == false' '.urls == []' \
	'.secrets == {"auth.postgresPassword": "set", "auth.password": "set"}' \
	'.values == {"auth": {"username": "first", "database": "app"}, "primary": {"resourcesPreset": "micro"}}' \
	'.domain == null' '.pods == {"ready": 0, "total": 0}' '.error == null' '.deleted_at == null' \
	'has("secret_names") or has("secret_values") | not'
save S122_DB .id
header "... with its Location" "^location: /api/v1/services/$S122_DB$"
dbcheck "... its row pending at op_seq 1, the secrets sealed, their names in clear" \
	"$(s122_q "$S122_DB" "status || ' ' || op_seq || ' ' || CASE WHEN secret_values LIKE 'sv1.%' THEN 'sealed' ELSE 'NOT SEALED' END || ' ' || CASE WHEN CAST(secret_names AS TEXT) LIKE '%auth.password%' AND CAST(secret_names AS TEXT) LIKE '%auth.postgresPassword%' THEN 'named' ELSE CAST(secret_names AS TEXT) END")" \
	"pending 1 sealed named"
dbcheck "... and one service.install job, queued with op_seq 1" "$(s122_jobs "$S122_DB")" "service.install queued 1"
dbcheck "... audited with names, no value" \
	"SELECT count(*) FROM audit_log WHERE action = 'service.create' AND target_id = '$S122_DB' AND CAST(details AS TEXT) LIKE '%kv-db%'" 1
tt "a name alone: reference_id and subdomain made from it" POST /api/v1/services \
	"{\"template\":\"redis\",\"name\":\"My Cache!\",\"values\":{\"auth\":{\"password\":\"$S122_PW\"}}}" 202 \
	'.reference_id == "my-cache"' '.subdomain == "my-cache"' '.helm_release == "paas-ws-kv-my-cache"' \
	'.secrets == {"auth.password": "set"}' '.storage_size == null'
save S122_CACHE .id
s122_as S122_SVC2
tt "another tenant's service" POST /api/v1/services \
	"{\"template\":\"n8n\",\"name\":\"Their app\",\"reference_id\":\"app\",\"subdomain\":\"kw-app\",$S122_N8N_VALUES}" 202 \
	'.web == true' '.urls == ["https://kw-app.apps.kaiden.test"]' 
save S122_THEIRS .id
s122_as S122_SVC

# ---- refusals: each names its field, nothing written -----------------------------------------
S122_SNAP=$(s122_rows)
s122_post() { # s122_post NAME BODY-MEMBERS STATUS JQ...: a PostgreSQL service with these members
	_n=$1
	_b=$2
	_s=$3
	shift 3
	tt "$_n" POST /api/v1/services "{\"template\":\"postgresql\",$_b}" "$_s" "$@"
}
tt "no name" POST /api/v1/services "{\"template\":\"postgresql\",$S122_PG_VALUES}" 400 "$(E missing_field name)"
s122_post "an empty name" "\"name\":\"\",$S122_PG_VALUES" 400 "$(E invalid_field name)"
s122_post "a 101-character name" "\"name\":\"$(repeat 101 n)\",$S122_PG_VALUES" 400 "$(E invalid_field name)"
tt "no template" POST /api/v1/services "{\"name\":\"x\",$S122_PG_VALUES}" 400 "$(E missing_field template)"
tt "an unknown template" POST /api/v1/services "{\"template\":\"nope\",\"name\":\"x\"}" 400 "$(E invalid_field template)"
tt "a template id nobody has" POST /api/v1/services "{\"template\":\"$S122_NOID\",\"name\":\"x\"}" 400 "$(E invalid_field template)"
tt "a disabled template" POST /api/v1/services '{"template":"anythingllm","name":"x"}' 400 "$(E invalid_field template)"
s122_post "a reference_id that is no DNS label" "\"name\":\"x\",\"reference_id\":\"Bad_Ref\",$S122_PG_VALUES" 400 "$(E invalid_field reference_id)"
s122_post "a reference_id starting with -" "\"name\":\"x\",\"reference_id\":\"-db\",$S122_PG_VALUES" 400 "$(E invalid_field reference_id)"
s122_post "a 64-character reference_id" "\"name\":\"x\",\"reference_id\":\"$(repeat 64 r)\",$S122_PG_VALUES" 400 "$(E invalid_field reference_id)"
# paas-ws-kv- is 11 characters: 42 more make 53, 43 one too many.
s122_post "a reference_id making the release 54 characters" \
	"\"name\":\"x\",\"reference_id\":\"$(repeat 43 r)\",\"subdomain\":\"kv-long\",$S122_PG_VALUES" 400 \
	"$(E invalid_field reference_id)" '.error.message | test("53") and test("42")'
s122_post "a subdomain that is no DNS label" "\"name\":\"x\",\"subdomain\":\"Kv_DB\",$S122_PG_VALUES" 400 "$(E invalid_field subdomain)"
s122_post "a reserved subdomain (www)" "\"name\":\"x\",\"subdomain\":\"www\",$S122_PG_VALUES" 400 \
	"$(E invalid_field subdomain)" '.error.message | test("reserved")'
s122_post "a reserved subdomain (api)" "\"name\":\"x\",\"subdomain\":\"api\",$S122_PG_VALUES" 400 "$(E invalid_field subdomain)"
s122_post "a subdomain this tenant's service has" "\"name\":\"x\",\"reference_id\":\"db2\",\"subdomain\":\"kv-db\",$S122_PG_VALUES" 409 "$(E name_taken subdomain)"
s122_post "a subdomain another tenant's service has" "\"name\":\"x\",\"reference_id\":\"db2\",\"subdomain\":\"kw-app\",$S122_PG_VALUES" 409 "$(E name_taken subdomain)"
s122_post "a reference_id this tenant's service has" "\"name\":\"x\",\"reference_id\":\"db\",\"subdomain\":\"kv-db2\",$S122_PG_VALUES" 409 "$(E name_taken reference_id)"
s122_post "an unknown setting" "\"name\":\"x\",\"values\":{\"auth\":{\"postgresPassword\":\"$S122_PW\",\"password\":\"$S122_PW\"},\"nope\":1}" 400 "$(E unknown_field values.nope)"
s122_post "an unknown setting, nested" "\"name\":\"x\",\"values\":{\"auth\":{\"postgresPassword\":\"$S122_PW\",\"password\":\"$S122_PW\",\"nope\":1}}" 400 "$(E unknown_field values.auth.nope)"
s122_post "a setting of the wrong type" "\"name\":\"x\",\"values\":{\"auth\":{\"postgresPassword\":\"$S122_PW\",\"password\":\"$S122_PW\"},\"primary\":{\"resourcesPreset\":5}}" 400 "$(E invalid_field values.primary.resourcesPreset)"
s122_post "a setting outside its enum" "\"name\":\"x\",\"values\":{\"auth\":{\"postgresPassword\":\"$S122_PW\",\"password\":\"$S122_PW\"},\"primary\":{\"resourcesPreset\":\"huge\"}}" 400 "$(E invalid_field values.primary.resourcesPreset)"
# The template's pattern_message in words, never the regular expression.
s122_post "a setting against its pattern, said in the template's words" "\"name\":\"x\",\"values\":{\"auth\":{\"postgresPassword\":\"$S122_PW\",\"password\":\"$S122_PW\",\"username\":\"Bad-Name\"}}" 400 "$(E invalid_field values.auth.username)" \
	'.error.message | startswith("values.auth.username: Use lower-case letters, digits and underscores")' \
	'.error.message | contains("[a-z") | not'
s122_post "a required secret missing" "\"name\":\"x\",\"values\":{\"auth\":{\"postgresPassword\":\"$S122_PW\"}}" 400 \
	"$(E invalid_field values.auth.password)" '.error.message | test("required")'
# The first problem in the schema's order, the template's on both databases (0020).
s122_post "no values at all (the secrets are required)" "\"name\":\"x\"" 400 \
	"$(E invalid_field values.auth.postgresPassword)"
s122_post "a secret too short" "\"name\":\"x\",\"values\":{\"auth\":{\"postgresPassword\":\"$S122_PW\",\"password\":\"short\"}}" 400 "$(E invalid_field values.auth.password)"
s122_post "a null setting" "\"name\":\"x\",\"values\":{\"auth\":{\"postgresPassword\":\"$S122_PW\",\"password\":\"$S122_PW\",\"username\":null}}" 400 "$(E invalid_field values.auth.username)"
s122_post "values that are no object" "\"name\":\"x\",\"values\":[]" 400 "$(E invalid_field values)"
s122_post "a storage size that is no quantity" "\"name\":\"x\",\"storage_size\":\"8G\",$S122_PG_VALUES" 400 "$(E invalid_field storage_size)"
s122_post "a storage size under 1Gi" "\"name\":\"x\",\"storage_size\":\"512Mi\",$S122_PG_VALUES" 400 \
	"$(E invalid_field storage_size)" '.error.message | test("1Gi")'
s122_post "a storage size over the quota" "\"name\":\"x\",\"storage_size\":\"9999Gi\",$S122_PG_VALUES" 400 \
	"$(E invalid_field storage_size)" '.error.message | test("services_storage")'
tt "a pattern without words: the message says so in words, naming the pattern" POST /api/v1/services \
	'{"template":"kv-plain","name":"x","values":{"code":"12a"}}' 400 "$(E invalid_field values.code)" \
	'.error.message == "values.code: not in the form this setting takes (the pattern ^[0-9]+$)"'
tt "a storage size for a template without one" POST /api/v1/services \
	'{"template":"kv-plain","name":"x","storage_size":"2Gi"}' 400 "$(E invalid_field storage_size)"
s122_post "an unknown member" "\"name\":\"x\",\"size\":1,$S122_PG_VALUES" 400 "$(E unknown_field size)"
tt "not JSON" POST /api/v1/services '{"name":' 400 "$(E invalid_json)"
s122_unchanged "no refusal wrote a row or a job"

# ---- reading -------------------------------------------------------------------------------------
tt "the list: this tenant's, newest first, each shown as GET shows it" GET /api/v1/services '' 200 \
	"[.items[].id] == [\"$S122_CACHE\", \"$S122_DB\"]" \
	'[.items[] | has("urls") and has("secrets") and has("domain") and (has("secret_names") | not)] | all' \
	'.items[1].secrets == {"auth.postgresPassword": "set", "auth.password": "set"}'
tt "... by template" GET '/api/v1/services?template=redis' '' 200 "[.items[].id] == [\"$S122_CACHE\"]"
tt "... by q (name, any case)" GET '/api/v1/services?q=MAIN' '' 200 "[.items[].id] == [\"$S122_DB\"]"
tt "... by status" GET '/api/v1/services?status=running' '' 200 '.items == []'
tt "... a bad status" GET '/api/v1/services?status=happy' '' 400 "$(E invalid_query status)"
tt "one service" GET "/api/v1/services/$S122_DB" '' 200 ".id == \"$S122_DB\"" '.storage_size == "10Gi"' \
	'.secrets == {"auth.postgresPassword": "set", "auth.password": "set"}' '.values.auth.username == "first"'
tt "no such service" GET "/api/v1/services/$S122_NOID" '' 404 "$(E not_found)"
tt "a malformed id" GET /api/v1/services/nope '' 404 "$(E not_found)"
tt "no revisions yet" GET "/api/v1/services/$S122_DB/revisions" '' 200 '.items == []'

# ---- PATCH ---------------------------------------------------------------------------------------
S122_SNAP=$(s122_rows)
tt "a change while pending: 409 service_busy naming the status" PATCH "/api/v1/services/$S122_DB" \
	'{"values":{"auth":{"username":"second"}}}' 409 "$(E service_busy status)" '.error.message | test("pending")'
tt "a rollback while pending" POST "/api/v1/services/$S122_DB/rollback" '{"revision":1}' 409 "$(E service_busy status)"
tt "nothing to change" PATCH "/api/v1/services/$S122_DB" '{}' 400 "$(E missing_field)"
tt "an unknown member" PATCH "/api/v1/services/$S122_DB" '{"template":"redis"}' 400 "$(E unknown_field template)"
s122_unchanged "... nothing written"
tt "a rename works in any status, without a job" PATCH "/api/v1/services/$S122_DB" '{"name":"Main database"}' 200 \
	'.name == "Main database"' '.status == "pending"'
dbcheck "... still its one job" "$(s122_jobs "$S122_DB")" "service.install queued 1"
# helperd installed it: revision 1.
s122_helperd "$S122_DB" running 1
dbq "INSERT INTO service_revisions (tenant_id, service_id, revision, status, chart_version) VALUES ('$S122_TENANT', '$S122_DB', 1, 'deployed', '17.1.0')" >/dev/null
S122_SEALED=$(dbq "$(s122_q "$S122_DB" secret_values)")
tt "a change merges: a value set, a null unsets (the default again), secrets kept" PATCH "/api/v1/services/$S122_DB" \
	'{"values":{"auth":{"username":"second","database":null},"primary":{"resourcesPreset":"small"}}}' 202 \
	'.status == "upgrading"' \
	'.values == {"auth": {"username": "second", "database": "app"}, "primary": {"resourcesPreset": "small"}}' \
	'.secrets == {"auth.postgresPassword": "set", "auth.password": "set"}'
dbcheck "... an upgrade job at op_seq 2" "$(s122_jobs "$S122_DB")" "service.install done 1
service.upgrade queued 2"
dbcheck "... the secrets sealed again (a new nonce), both still named" \
	"$(s122_q "$S122_DB" "CASE WHEN secret_values LIKE 'sv1.%' AND secret_values <> '$S122_SEALED' THEN 'resealed' ELSE 'no' END || ' ' || CASE WHEN CAST(secret_names AS TEXT) LIKE '%auth.password%' AND CAST(secret_names AS TEXT) LIKE '%auth.postgresPassword%' THEN 'named' ELSE CAST(secret_names AS TEXT) END")" \
	"resealed named"
tt "a second change while the first is queued: 409 service_busy" PATCH "/api/v1/services/$S122_DB" \
	'{"values":{"auth":{"username":"third"}}}' 409 "$(E service_busy status)" '.error.message | test("upgrading")'
s122_helperd "$S122_DB" running 2
dbq "INSERT INTO service_revisions (tenant_id, service_id, revision, status, chart_version) VALUES ('$S122_TENANT', '$S122_DB', 2, 'deployed', '17.1.0')" >/dev/null
tt "a required secret unset is refused" PATCH "/api/v1/services/$S122_DB" \
	'{"values":{"auth":{"password":null}}}' 400 "$(E invalid_field values.auth.password)"
tt "a change to the storage size once deployed is refused" PATCH "/api/v1/services/$S122_DB" \
	'{"storage_size":"20Gi"}' 400 "$(E invalid_field storage_size)" '.error.message | test("deployed")'
tt "a chart version neither its nor its template's" PATCH "/api/v1/services/$S122_DB" \
	'{"chart_version":"9.9.9"}' 400 "$(E invalid_field chart_version)"
tt "a secret replaced, the other kept" PATCH "/api/v1/services/$S122_DB" \
	"{\"values\":{\"auth\":{\"password\":\"$S122_SECRET2\"}}}" 202 '.status == "upgrading"' \
	'.secrets == {"auth.postgresPassword": "set", "auth.password": "set"}' '.values.auth.username == "second"'
s122_helperd "$S122_DB" running 3
dbq "INSERT INTO service_revisions (tenant_id, service_id, revision, status, chart_version) VALUES ('$S122_TENANT', '$S122_DB', 3, 'deployed', '17.1.0')" >/dev/null
tt "the same storage size is no change" PATCH "/api/v1/services/$S122_DB" \
	'{"storage_size":"10Gi","name":"Main DB"}' 202 '.storage_size == "10Gi"' '.name == "Main DB"'
s122_helperd "$S122_DB" running 3

# ---- rollback ---------------------------------------------------------------------------------
S122_SNAP=$(s122_rows)
tt "a rollback to a revision it never had" POST "/api/v1/services/$S122_DB/rollback" '{"revision":7}' 400 \
	"$(E invalid_field revision)" '.error.message | test("7")'
tt "a rollback to the current revision" POST "/api/v1/services/$S122_DB/rollback" '{"revision":3}' 400 \
	"$(E invalid_field revision)"
tt "a rollback to revision 0" POST "/api/v1/services/$S122_DB/rollback" '{"revision":0}' 400 "$(E invalid_field revision)"
tt "a revision that is no number" POST "/api/v1/services/$S122_DB/rollback" '{"revision":"1"}' 400 "$(E invalid_field revision)"
tt "no revision" POST "/api/v1/services/$S122_DB/rollback" '{}' 400 "$(E missing_field revision)"
tt "a rollback of no service" POST "/api/v1/services/$S122_NOID/rollback" '{"revision":1}' 404 "$(E not_found)"
s122_unchanged "... nothing written"
tt "the revisions, newest first" GET "/api/v1/services/$S122_DB/revisions" '' 200 '[.items[].revision] == [3, 2, 1]'
tt "a rollback to 1: 202 rolling_back" POST "/api/v1/services/$S122_DB/rollback" '{"revision":1}' 202 \
	'.status == "rolling_back"' '.rollback_to == 1'
dbcheck "... a rollback job at the next op_seq" \
	"SELECT kind || ' ' || state || ' ' || op_seq FROM jobs WHERE service_id = '$S122_DB' AND kind = 'service.rollback'" \
	"service.rollback queued 5"
tt "... a second one meanwhile: 409 service_busy" POST "/api/v1/services/$S122_DB/rollback" '{"revision":2}' 409 "$(E service_busy status)"
s122_helperd "$S122_DB" running 4

# ---- the custom domain ----------------------------------------------------------------------------
# PostgreSQL has no web address (its template maps no host): no custom domain for it.
S122_SNAP=$(s122_rows)
tt "no custom domain for a service without a web address: 409 saying why" PUT "/api/v1/services/$S122_DB/domain" \
	'{"domain":"shop.example.com"}' 409 "$(E no_web_address domain)" \
	'.error.message | test("PostgreSQL has no web address") and test("paas-ws-kv")'
s122_unchanged "... nothing written"
# n8n has one: the domain's moves on an n8n service.
tt "a service with a web address (n8n)" POST /api/v1/services \
	"{\"template\":\"n8n\",\"name\":\"Flows\",\"reference_id\":\"web\",\"subdomain\":\"kv-web\",$S122_N8N_VALUES}" 202 \
	'.web == true' '.urls == ["https://kv-web.apps.kaiden.test"]' '.domain == null'
save S122_WEB .id
tt "a domain while pending" PUT "/api/v1/services/$S122_WEB/domain" '{"domain":"shop.example.com"}' 409 "$(E service_busy status)"
s122_helperd "$S122_WEB" running 1
S122_SNAP=$(s122_rows)
tt "a domain that is no host name" PUT "/api/v1/services/$S122_WEB/domain" '{"domain":"Not A Domain"}' 400 "$(E invalid_field domain)"
tt "a domain under the platform's" PUT "/api/v1/services/$S122_WEB/domain" '{"domain":"shop.apps.kaiden.test"}' 400 \
	"$(E invalid_field domain)" '.error.message | test("apps.kaiden.test")'
tt "the platform's domain itself" PUT "/api/v1/services/$S122_WEB/domain" '{"domain":"apps.kaiden.test"}' 400 "$(E invalid_field domain)"
tt "no domain given" PUT "/api/v1/services/$S122_WEB/domain" '{}' 400 "$(E missing_field domain)"
tt "a verify without a custom domain: 409 no_domain" POST "/api/v1/services/$S122_WEB/domain/verify" '' 409 "$(E no_domain domain)"
s122_unchanged "... nothing written"
tt "a custom domain: 202, the CNAME target and the record, exactly" PUT "/api/v1/services/$S122_WEB/domain" \
	'{"domain":"shop.example.com"}' 202 '.status == "upgrading"' \
	'.domain == {"name": "shop.example.com", "status": "unverified", "checked_at": null, "cname_target": "kv-web.apps.kaiden.test", "record": "shop.example.com. CNAME kv-web.apps.kaiden.test."}' \
	'.urls == ["https://kv-web.apps.kaiden.test", "https://shop.example.com"]'
dbcheck "... an upgrade job (the chart's ingress hosts follow)" \
	"SELECT count(*) FROM jobs WHERE service_id = '$S122_WEB' AND kind = 'service.upgrade' AND state = 'queued'" 1
tt "GET shows the domain object" GET "/api/v1/services/$S122_WEB" '' 200 \
	'.domain.record == "shop.example.com. CNAME kv-web.apps.kaiden.test."' '.domain.status == "unverified"'
s122_helperd "$S122_WEB" running 2
s122_as S122_SVC2
s122_helperd "$S122_THEIRS" running 1
tt "another tenant may not take the domain" PUT "/api/v1/services/$S122_THEIRS/domain" '{"domain":"shop.example.com"}' 409 \
	"$(E name_taken domain)"
s122_as S122_SVC
tt "verify: no such name yet (NXDOMAIN): unverified" POST "/api/v1/services/$S122_WEB/domain/verify" '' 200 \
	'.domain.status == "unverified"' '.domain.cname_found == null' '.domain.checked_at != null'
tt "verify again at once: 429" POST "/api/v1/services/$S122_WEB/domain/verify" '' 429 "$(E too_many_requests)" \
	'.error.message | test("10")'
header "... with Retry-After" '^retry-after: ([1-9]|10)$'
# The look-ups' clock moved back instead of a 10 s sleep (each database's own time text).
s122_back() {
	dbq "UPDATE cloud_services SET domain_checked_at = '2026-01-01T00:00:00.000Z' WHERE id = '$S122_WEB'" >/dev/null
}
s122_back
fake_dns_cname "$S122" shop.example.com elsewhere.example.net
tt "verify: a CNAME to somewhere else: unverified, saying where it points" POST "/api/v1/services/$S122_WEB/domain/verify" '' 200 \
	'.domain.status == "unverified"' '.domain.cname_found | test("^elsewhere\\.example\\.net\\.?$")'
s122_back
fake_dns_cname "$S122" shop.example.com kv-web.apps.kaiden.test
tt "verify: the CNAME to the service: verified, and an upgrade puts it into the chart" POST "/api/v1/services/$S122_WEB/domain/verify" '' 200 \
	'.domain.status == "verified"' '.domain.cname_found | test("^kv-web\\.apps\\.kaiden\\.test\\.?$")' \
	'.status == "upgrading"'
dbcheck "... its upgrade job queued" \
	"SELECT count(*) FROM jobs WHERE service_id = '$S122_WEB' AND kind = 'service.upgrade' AND state = 'queued'" 1
# A look-up that would take it out again while that upgrade waits: refused like any
# change while an operation runs, nothing stored.
s122_back
fake_dns_cname "$S122" shop.example.com elsewhere.example.net
tt "verify while the upgrade waits, the CNAME gone: 409 service_busy" POST "/api/v1/services/$S122_WEB/domain/verify" '' 409 \
	"$(E service_busy status)"
s122_helperd "$S122_WEB" running 3
dbcheck "... still verified (the refusal stored nothing), three look-ups audited" \
	"SELECT (SELECT domain_status FROM cloud_services WHERE id = '$S122_WEB') || ' ' || (SELECT count(*) FROM audit_log WHERE action = 'service.domain.verify' AND target_id = '$S122_WEB')" \
	"verified 3"
if grep -q 'shop.example.com type 5' "$S122/dns.log"; then ok "... looked up at the DNS server services.dns_server names"; else bad "... looked up at the DNS server services.dns_server names" "$(tail -n 3 "$S122/dns.log")"; fi
tt "the domain removed: 202, an upgrade" DELETE "/api/v1/services/$S122_WEB/domain" '' 202 \
	'.domain == null' '.urls == ["https://kv-web.apps.kaiden.test"]' '.status == "upgrading"'

# ---- a customer reads; another tenant sees nothing -------------------------------------------------
s122_as S122_CUST
tt "a customer lists the services" GET /api/v1/services '' 200 '.items | length == 3'
tt "... reads one" GET "/api/v1/services/$S122_DB" '' 200 '.secrets["auth.password"] == "set"'
tt "... and its revisions" GET "/api/v1/services/$S122_DB/revisions" '' 200 '.items | length == 3'
S122_SNAP=$(s122_rows)
tt "but may not launch one" POST /api/v1/services "{\"template\":\"postgresql\",\"name\":\"mine\",$S122_PG_VALUES}" 403 "$(E forbidden)"
tt "nor change one" PATCH "/api/v1/services/$S122_DB" '{"name":"mine"}' 403 "$(E forbidden)"
tt "nor roll one back" POST "/api/v1/services/$S122_DB/rollback" '{"revision":1}' 403 "$(E forbidden)"
tt "nor give it a domain" PUT "/api/v1/services/$S122_DB/domain" '{"domain":"c.example.com"}' 403 "$(E forbidden)"
tt "nor remove it" DELETE "/api/v1/services/$S122_DB/domain" '' 403 "$(E forbidden)"
tt "nor verify it" POST "/api/v1/services/$S122_DB/domain/verify" '' 403 "$(E forbidden)"
tt "nor delete one" DELETE "/api/v1/services/$S122_DB" '' 403 "$(E forbidden)"
s122_as S122_SVC2
tt "another tenant's list leaves them out" GET /api/v1/services '' 200 "[.items[].id] == [\"$S122_THEIRS\"]"
tt "another tenant's service is 404" GET "/api/v1/services/$S122_DB" '' 404 "$(E not_found)"
tt "... its revisions too" GET "/api/v1/services/$S122_DB/revisions" '' 404 "$(E not_found)"
tt "... a change" PATCH "/api/v1/services/$S122_DB" '{"name":"mine"}' 404 "$(E not_found)"
tt "... a rollback" POST "/api/v1/services/$S122_DB/rollback" '{"revision":1}' 404 "$(E not_found)"
tt "... a domain" PUT "/api/v1/services/$S122_DB/domain" '{"domain":"c.example.com"}' 404 "$(E not_found)"
tt "... a verify" POST "/api/v1/services/$S122_DB/domain/verify" '' 404 "$(E not_found)"
tt "... a delete" DELETE "/api/v1/services/$S122_DB" '' 404 "$(E not_found)"
s122_unchanged "... nothing written by either"
s122_as S122_SVC

# ---- DELETE from any state ---------------------------------------------------------------------
tt "a pending service is deleted: 202 deleting" DELETE "/api/v1/services/$S122_CACHE" '' 202 '.status == "deleting"'
dbcheck "... its install superseded by an uninstall job at op_seq 2" "$(s122_jobs "$S122_CACHE")" "service.install queued 1
service.uninstall queued 2"
tt "... a second delete: 409 service_busy" DELETE "/api/v1/services/$S122_CACHE" '' 409 "$(E service_busy status)"
tt "an upgrading service is deleted (the upgrade superseded)" DELETE "/api/v1/services/$S122_WEB" '' 202 '.status == "deleting"'
tt "a running one too" DELETE "/api/v1/services/$S122_DB" '' 202 '.status == "deleting"'
s122_helperd "$S122_CACHE" deleted
s122_helperd "$S122_WEB" deleted
s122_helperd "$S122_DB" deleted
tt "a deleted service still reads (history)" GET "/api/v1/services/$S122_DB" '' 200 '.status == "deleted"' '.deleted_at != null'
tt "... the list leaves it out" GET /api/v1/services '' 200 '.items == []'
tt "... unless asked for" GET '/api/v1/services?status=deleted' '' 200 '.items | length == 3'
tt "... a delete of it is 404" DELETE "/api/v1/services/$S122_DB" '' 404 "$(E not_found)"
tt "... a change too" PATCH "/api/v1/services/$S122_DB" '{"values":{}}' 404 "$(E not_found)"
tt "its reference_id and subdomain are free again" POST /api/v1/services \
	"{\"template\":\"postgresql\",\"name\":\"Main DB\",\"reference_id\":\"db\",\"subdomain\":\"kv-db\",\"values\":{\"auth\":{\"postgresPassword\":\"$S122_SECRET\",\"password\":\"$S122_SECRET2\"}}}" 202 \
	'.status == "pending"'
save S122_DB2 .id
s122_helperd "$S122_DB2" running 1
tt "a service without secrets" POST /api/v1/services '{"template":"kv-plain","name":"Plain","reference_id":"plain","subdomain":"kv-plain","values":{"replicas":2}}' 202 \
	'.secrets == {}' '.values == {"replicas": 2}'
save S122_PLAIN .id
s122_helperd "$S122_PLAIN" running 1

# ---- max_services, counted atomically ------------------------------------------------------------
s122_as S122_ADMIN
t "a tenant for the quota" POST /api/v1/admin/tenants '{"code":"kq","name":"Quota Inc"}' 201
save S122_TENANT3 .id
t "max_services 3" PATCH "/api/v1/admin/tenants/$S122_TENANT3" '{"quotas":{"max_services":3}}' 200 \
	'.quotas == {"max_services":3}'
cli "its service token" S122_SVC3 token create --tenant kq --name 'kq svc'
_pids=
for _i in 1 2 3 4 5 6 7 8; do
	curl -sS --max-time 30 -o "$S122/burst-$_i.body" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $S122_SVC3" -H 'Content-Type: application/json' \
		--data-binary "{\"template\":\"redis\",\"name\":\"Burst $_i\",\"reference_id\":\"b$_i\",\"subdomain\":\"kq-b$_i\",\"values\":{\"auth\":{\"password\":\"$S122_PW\"}}}" \
		"$STACK_URL/api/v1/services" >"$S122/burst-$_i.code" 2>"$S122/burst-$_i.err" &
	_pids="$_pids $!"
done
wait $_pids
S122_CODES=$(for _i in 1 2 3 4 5 6 7 8; do cat "$S122/burst-$_i.code"; echo; done | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
if [ "$S122_CODES" = "202:3 409:5 " ]; then ok "eight POSTs at once: exactly 3 accepted, 5 refused"; else bad "eight POSTs at once: exactly 3 accepted, 5 refused" "got $S122_CODES"; fi
S122_REFUSED=$(for _i in 1 2 3 4 5 6 7 8; do
	[ "$(cat "$S122/burst-$_i.code")" = 409 ] || continue
	jq -r '.error.code + " " + (.error.message | test("max_services") and test("3") | tostring)' "$S122/burst-$_i.body"
done | sort -u)
if [ "$S122_REFUSED" = "quota_exceeded true" ]; then ok "... each refusal quota_exceeded, naming max_services and 3"; else bad "... each refusal quota_exceeded, naming max_services and 3" "got '$S122_REFUSED'"; fi
dbcheck "... 3 services and 3 install jobs in the tenant" \
	"SELECT (SELECT count(*) FROM cloud_services WHERE tenant_id = '$S122_TENANT3') || ' ' || (SELECT count(*) FROM jobs WHERE tenant_id = '$S122_TENANT3' AND kind = 'service.install')" \
	"3 3"
s122_as S122_SVC3
tt "usage counts them" GET /api/v1/tenant/usage '' 200 '.services == 3' '.quotas.max_services == 3'
# Without a max_services quota the seed's 50 holds (a tenant of its own, no helperd: only
# rows and jobs are written).
s122_as S122_ADMIN
t "a tenant without a services quota" POST /api/v1/admin/tenants '{"code":"kd","name":"Default Inc"}' 201 \
	'.quotas == {} or .quotas == null or (.quotas | has("max_services") | not)'
save S122_TENANT4 .id
cli "its service token" S122_SVC4 token create --tenant kd --name 'kd svc'
S122_FIFTY=$(_i=1; while [ "$_i" -le 50 ]; do
	curl -sS --max-time 30 -o /dev/null -w '%{http_code}\n' -X POST \
		-H "Authorization: Bearer $S122_SVC4" -H 'Content-Type: application/json' \
		--data-binary "{\"template\":\"kv-plain\",\"name\":\"P $_i\",\"reference_id\":\"p$_i\",\"subdomain\":\"kd-p$_i\",\"values\":{}}" \
		"$STACK_URL/api/v1/services"
	_i=$((_i + 1))
done | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
if [ "$S122_FIFTY" = "202:50 " ]; then ok "fifty services are accepted by default"; else bad "fifty services are accepted by default" "got $S122_FIFTY"; fi
s122_as S122_SVC4
tt "... the 51st is refused: quota_exceeded, naming max_services and 50" POST /api/v1/services \
	'{"template":"kv-plain","name":"P 51","reference_id":"p51","subdomain":"kd-p51","values":{}}' 409 \
	"$(E quota_exceeded)" '.error.message | test("max_services") and test("50")'
dbcheck "... exactly 50 services and 50 install jobs in the tenant" \
	"SELECT (SELECT count(*) FROM cloud_services WHERE tenant_id = '$S122_TENANT4') || ' ' || (SELECT count(*) FROM jobs WHERE tenant_id = '$S122_TENANT4' AND kind = 'service.install')" \
	"50 50"

# ---- no secret in clear anywhere --------------------------------------------------------------
s122_secrets_in() { # s122_secrets_in FILE...: 0 when a posted secret is in one of them
	grep -a -q -e "$S122_SECRET" -e "$S122_SECRET2" "$@" 2>/dev/null
}
if s122_secrets_in "$S122/replies"; then bad "no reply held a secret value" "$(grep -a -c -e "$S122_SECRET" "$S122/replies") replies"; else ok "no reply held a secret value"; fi
if [ "$(wc -l <"$S122/replies")" -gt 100 ]; then ok "... (the replies were kept)"; else bad "... (the replies were kept)" "$(wc -l <"$S122/replies") lines"; fi
dbcheck "no audit entry's details hold one" \
	"SELECT count(*) FROM audit_log WHERE CAST(details AS TEXT) LIKE '%never-in-clear%'" 0
dbcheck "... while the service audits are there" \
	"SELECT CASE WHEN count(*) >= 10 THEN 'yes' ELSE CAST(count(*) AS TEXT) END FROM audit_log WHERE action LIKE 'service.%' AND tenant_id = '$S122_TENANT'" yes
if s122_secrets_in -r "$STACK_DIR/log"; then bad "no log holds one (kaiden-api at debug)" "$(grep -a -r -l -e "$S122_SECRET" "$STACK_DIR/log")"; else ok "no log holds one (kaiden-api at debug)"; fi
if [ "$SUITE_DB" = sqlite ]; then
	dbq "PRAGMA wal_checkpoint(FULL)" >/dev/null 2>&1 || :
	sqlite3 "$STACK_DB_PATH" .dump >"$S122/dump.sql" 2>/dev/null
	if [ -s "$STACK_DB_PATH" ] && ! s122_secrets_in "$STACK_DB_PATH" "$STACK_DB_PATH-wal"; then
		ok "no database byte holds one (the SQLite file and its WAL)"
	else
		bad "no database byte holds one (the SQLite file and its WAL)" "found, or no file"
	fi
else
	pg_dump -d "${KAIDEN_DATABASE_OWNER_DSN:-$KAIDEN_DATABASE_DSN}" >"$S122/dump.sql" 2>/dev/null
fi
if [ -s "$S122/dump.sql" ] && grep -q 'sv1\.' "$S122/dump.sql" && ! s122_secrets_in "$S122/dump.sql"; then
	ok "no secret in the database dump, only sealed blobs"
else
	bad "no secret in the database dump, only sealed blobs" "the dump has one (or is empty)"
fi
rm -f "$S122/dump.sql"

# ---- the tenant archive ------------------------------------------------------------------------
s122_as S122_SVC
tt "the tenant's export carries its services" POST /api/v1/tenant/export '' 200 \
	'.tables.cloud_services | length == 5' \
	'[.tables.cloud_services[] | .secret_values] | all(. == null)' \
	'[.tables.cloud_services[] | .template_id] | all(. == null)' \
	'[.tables.cloud_services[] | .template] | sort == ["kv-plain", "n8n", "postgresql", "postgresql", "redis"]' \
	"[.tables.cloud_services[] | select(.id == \"$S122_DB2\") | .secret_names | fromjson | sort] == [[\"auth.password\", \"auth.postgresPassword\"]]" \
	'.tables | has("service_revisions") | not' '.tables | has("jobs") | not'
cp "$T/body" "$S122/kv-export.json"
s122_as S122_ADMIN
t "the tenant is deleted" DELETE "/api/v1/admin/tenants/$S122_TENANT" '' 204
dbcheck "... with its services and their revisions" \
	"SELECT (SELECT count(*) FROM cloud_services WHERE tenant_id = '$S122_TENANT') + (SELECT count(*) FROM service_revisions WHERE tenant_id = '$S122_TENANT')" 0
s122_as S122_SVC2
tt "meanwhile another tenant takes the subdomain kv-plain" POST /api/v1/services \
	"{\"template\":\"redis\",\"name\":\"Squatter\",\"reference_id\":\"squat\",\"subdomain\":\"kv-plain\",\"values\":{\"auth\":{\"password\":\"$S122_PW\"}}}" 202
save S122_SQUAT .id
s122_as S122_ADMIN
tt "the import is refused, naming the subdomain" POST /api/v1/tenant/import "@$S122/kv-export.json" 422 \
	"$(E invalid_reference tables.cloud_services.subdomain)" '.error.message | test("kv-plain")'
dbcheck "... nothing of it written" "SELECT count(*) FROM tenants WHERE id = '$S122_TENANT'" 0
jq '.tables.cloud_services[0].template = "no-such-template"' "$S122/kv-export.json" >"$S122/kv-bad.json"
tt "an archive naming a template this catalog lacks is refused" POST /api/v1/tenant/import "@$S122/kv-bad.json" 422 \
	"$(E invalid_reference tables.cloud_services.template)" '.error.message | test("no-such-template")'
s122_as S122_SVC2
tt "the other tenant lets it go" DELETE "/api/v1/services/$S122_SQUAT" '' 202
s122_helperd "$S122_SQUAT" deleted
s122_as S122_ADMIN
tt "the import goes through" POST /api/v1/tenant/import "@$S122/kv-export.json" 201 ".id == \"$S122_TENANT\""
dbcheck "the service with secrets: failed, saying to set them again, none set" \
	"$(s122_q "$S122_DB2" "status || '|' || error || '|' || coalesce(secret_values, 'none') || '|' || CAST(secret_names AS TEXT) || '|' || revision")" \
	"failed|imported: set the secret values again, then deploy|none|[]|0"
dbcheck "... no job" "SELECT count(*) FROM jobs WHERE service_id = '$S122_DB2'" 0
dbcheck "the one without: pending" "$(s122_q "$S122_PLAIN" "status || ' ' || revision")" "pending 0"
dbcheck "... with its install job" "$(s122_jobs "$S122_PLAIN")" "service.install queued 1"
dbcheck "the deleted ones stay history" \
	"SELECT count(*) FROM cloud_services WHERE tenant_id = '$S122_TENANT' AND status = 'deleted'" 3
dbcheck "no revision came" "SELECT count(*) FROM service_revisions WHERE tenant_id = '$S122_TENANT'" 0
dbcheck "the template is this deployment's, by slug" \
	"$(s122_q "$S122_PLAIN" "CASE WHEN template_id = (SELECT id FROM app_templates WHERE slug = 'kv-plain') THEN 'yes' ELSE 'no' END")" yes
cli "a service token for the imported tenant" S122_SVC token create --tenant kv --name 'kv svc 2'
s122_as S122_SVC
tt "GET shows the imported service's secrets unset" GET "/api/v1/services/$S122_DB2" '' 200 \
	'.status == "failed"' '.secrets == {"auth.postgresPassword": "unset", "auth.password": "unset"}' \
	'.error | test("set the secret values again")'
tt "setting them again installs it" PATCH "/api/v1/services/$S122_DB2" \
	"{\"values\":{\"auth\":{\"postgresPassword\":\"$S122_SECRET\",\"password\":\"$S122_SECRET2\"}}}" 202 \
	'.status == "deploying"' '.secrets == {"auth.postgresPassword": "set", "auth.password": "set"}' '.error == null'
dbcheck "... with an install job" "$(s122_jobs "$S122_DB2")" "service.install queued 2"

# ---- put back -----------------------------------------------------------------------------------
s122_as S122_ADMIN
t "the tenant is deleted" DELETE "/api/v1/admin/tenants/$S122_TENANT" '' 204
t "the other tenant is deleted" DELETE "/api/v1/admin/tenants/$S122_TENANT2" '' 204
t "the quota's tenant is deleted" DELETE "/api/v1/admin/tenants/$S122_TENANT3" '' 204
t "the default quota's tenant is deleted" DELETE "/api/v1/admin/tenants/$S122_TENANT4" '' 204
t "the test template goes with its services" DELETE /api/v1/catalog/kv-plain '' 204
fake_dns_stop
unset KAIDEN_SERVICES_DOMAIN KAIDEN_SERVICES_KEY_FILE KAIDEN_K8S_API KAIDEN_SERVICES_DNS_SERVER
export KAIDEN_LOG_LEVEL=warn
api_restart "kaiden-api back with the defaults"
if [ -n "$S122_HAD_HELPERD" ]; then
	if stack_helperd_start; then ok "helperd back with the defaults"; else bad "helperd back with the defaults" "see its log"; fi
fi
STACK_TOKEN=$S122_SAVED_TOKEN
