# shellcheck shell=sh
# The catalog of cloud services (issue 13): `kaiden-api migrate` gave the stack the
# built-in catalog, and `kaiden-api catalog load FILE` loads the committed file again
# (replaced by slug, nothing added) or refuses a bad one whole; every signed-in role
# browses the enabled templates, filters by category and q, and reads one with its
# values schema (PostgreSQL's user with its pattern_message, its properties in the order
# catalog.yaml writes them, on PostgreSQL too: 0020); a disabled one is for staff only.
# Platform admins add, change (a form keeps the order it is written in) and remove
# templates, each change audited; a customer, a tenant admin, an engineer and a
# service token are refused (403); a bad template is refused naming its field (the
# member, or the place in its values schema: a pattern_message without a pattern, or
# empty) with nothing written; a slug is taken once
# (409) and never changes.
#
# Users of the default tenant and platform staff of their own (cat-*), acting with API
# tokens; the test template (cat-demo) is removed again, the catalog left as loaded.

CT_SAVED_TOKEN=$STACK_TOKEN
ct_as() {
	eval "STACK_TOKEN=\$$1"
}
CT_TPL='{"slug":"cat-demo","name":"Demo DB","description":"A database for the tests","icon":"icons/demo.svg","category":"Database","tags":["demo","sql"],"price_label":"Free","chart_repo":"https://charts.example.com/stable","chart_name":"demo","chart_version":"1.2.3","values_schema":{"type":"object","required":["auth"],"properties":{"auth":{"type":"object","required":["password"],"properties":{"password":{"type":"string","secret":true,"minLength":12}}},"size":{"type":"integer","minimum":1,"maximum":3,"default":1}}},"inputs":{"host":["ingress.hosts[0].host"],"storage_size":["persistence.size"]},"default_values":{"ingress":{"enabled":true},"persistence":{"size":"1Gi"}}}'

# ---- the people ---------------------------------------------------------------------------
printf '%s' 'cat-password-00001' >"$T/cat.pw"
cli "a platform admin" CT_OUT user add --email cat-admin@kaiden.test --name 'Cat Admin' \
	--role admin --password-file "$T/cat.pw"
cli "... with an API token" CT_ADMIN token create --user cat-admin@kaiden.test --name cat
cli "an engineer" CT_OUT user add --email cat-eng@kaiden.test --name 'Cat Engineer' \
	--role engineer --password-file "$T/cat.pw"
cli "... with an API token" CT_ENG token create --user cat-eng@kaiden.test --name cat
cli "a tenant admin" CT_OUT user add --email cat-tadmin@kaiden.test --name 'Cat Tadmin' \
	--role tenant_admin --password-file "$T/cat.pw"
cli "... with an API token" CT_TADM token create --user cat-tadmin@kaiden.test --name cat
cli "a customer" CT_OUT user add --email cat-cust@kaiden.test --name 'Cat Customer' \
	--role customer --password-file "$T/cat.pw"
cli "... with an API token" CT_CUST token create --user cat-cust@kaiden.test --name cat

# ---- loaded by migrate; loaded again -------------------------------------------------------
dbcheck "migrate loaded the built-in catalog" \
	"SELECT count(*) FROM app_templates WHERE slug IN ('anythingllm', 'n8n', 'postgresql', 'redis')" 4
dbcheck "... and audited it" \
	"SELECT CASE WHEN count(*) >= 1 THEN 'yes' END FROM audit_log WHERE action = 'catalog.load'" yes
CT_PG_ID=$(dbq "SELECT id FROM app_templates WHERE slug = 'postgresql'")
cli "kaiden-api catalog load catalog/catalog.yaml" CT_OUT catalog load catalog/catalog.yaml
case $CT_OUT in
"catalog: added 0, replaced 4 template(s)") ok "... replaces the four by slug" ;;
*) bad "... replaces the four by slug" "it said: $CT_OUT" ;;
esac
dbcheck "... ids kept" "SELECT id FROM app_templates WHERE slug = 'postgresql'" "$CT_PG_ID"
sed 's/chart_version: "17.1.0"/chart_version: "^17"/' catalog/catalog.yaml >"$T/bad-catalog.yaml"
if _o=$("$STACK_BIN" catalog load "$T/bad-catalog.yaml" 2>&1); then
	bad "a catalog with a bad template is refused" "it loaded: $_o"
else
	case $_o in
	*"templates[0] (postgresql): chart_version"*) ok "a catalog with a bad template is refused, naming it and the field" ;;
	*) bad "a catalog with a bad template is refused, naming it and the field" "it said: $_o" ;;
	esac
fi
dbcheck "... nothing written" \
	"SELECT count(*) FROM app_templates WHERE chart_version = '17.1.0' AND slug = 'postgresql'" 1

# ---- browse -------------------------------------------------------------------------------
ct_as CT_CUST
t "a customer browses the catalog" GET /api/v1/catalog '' 200 \
	'[.items[].slug] == ["n8n", "redis", "postgresql"]' '.next_cursor == null' \
	'has("services_domain") and (.services_domain == null or (.services_domain | type) == "string")' \
	'.items[0] | has("values_schema") | not' \
	'.items[] | select(.slug == "postgresql") | .category == "Database" and .icon == "🐘" and .chart_version == "17.1.0" and .enabled == true'
t "... by category" GET '/api/v1/catalog?category=Database' '' 200 '[.items[].slug] == ["postgresql"]'
t "... by category AI & LLM (none enabled)" GET '/api/v1/catalog?category=AI%20%26%20LLM' '' 200 '.items == []'
t "... q on the name, any case" GET '/api/v1/catalog?q=REDIS' '' 200 '[.items[].slug] == ["redis"]'
t "... q on a tag" GET '/api/v1/catalog?q=low-code' '' 200 '[.items[].slug] == ["n8n"]'
t "... q on the description" GET '/api/v1/catalog?q=visual%20editor' '' 200 '[.items[].slug] == ["n8n"]'
t "... q and category together" GET '/api/v1/catalog?q=redis&category=Database' '' 200 '.items == []'
t "... an unknown category" GET '/api/v1/catalog?category=Games' '' 400 "$(E invalid_query category)"
t "a customer reads a template with its form" GET /api/v1/catalog/postgresql '' 200 \
	'.values_schema.properties.auth.properties.postgresPassword.secret == true' \
	'.values_schema.properties.auth.properties.username.pattern_message | test("^Use lower-case letters")' \
	'(.values_schema.properties.auth.properties | keys_unsorted) == ["postgresPassword", "username", "password", "database"]' \
	'(.values_schema.properties | keys_unsorted) == ["auth", "primary"]' \
	'.default_values.image.repository == "bitnamilegacy/postgresql"' \
	'.default_values.global.security.allowInsecureImages == true' \
	'.inputs.storage_size == ["primary.persistence.size"]'
t "... n8n's key four deep" GET /api/v1/catalog/n8n '' 200 \
	'.values_schema.properties.main.properties.secret.properties.n8n.properties.encryption_key.secret == true' \
	'.inputs.host == ["ingress.hosts[0].host", "main.config.n8n.host"]'
t "... not a disabled one" GET /api/v1/catalog/anythingllm '' 404 "$(E not_found)"
t "... nor a slug that cannot be one" GET /api/v1/catalog/Bad_Slug '' 404 "$(E not_found)"
ct_as CT_SAVED_TOKEN
t "a service token browses the enabled ones" GET /api/v1/catalog '' 200 '.items | length == 3'
ct_as CT_ENG
t "an engineer sees the disabled one too" GET /api/v1/catalog '' 200 '.items | length == 4' \
	'.items[0].slug == "anythingllm" and .items[0].enabled == false'
t "... and reads it" GET /api/v1/catalog/anythingllm '' 200 '.chart_version == "1.0.0"'

# ---- who may change it --------------------------------------------------------------------
CT_N=$(dbq "SELECT count(*) FROM app_templates")
for who in CT_CUST CT_TADM CT_ENG CT_SAVED_TOKEN; do
	ct_as "$who"
	t "$who may not add a template" POST /api/v1/catalog "$CT_TPL" 403 "$(E forbidden)"
	t "$who may not change one" PATCH /api/v1/catalog/redis '{"name":"Mine"}' 403 "$(E forbidden)"
	t "$who may not remove one" DELETE /api/v1/catalog/redis '' 403 "$(E forbidden)"
done
dbcheck "... nothing changed" "SELECT name FROM app_templates WHERE slug = 'redis'" Redis

# ---- a platform admin adds, changes, removes ------------------------------------------------
ct_as CT_ADMIN
t "a bad values schema is refused, naming the place" POST /api/v1/catalog \
	"$(echo "$CT_TPL" | jq -c '.values_schema.properties.size.type = "int"')" 400 \
	"$(E invalid_field values_schema.properties.size.type)"
t "a bad pattern is refused" POST /api/v1/catalog \
	"$(echo "$CT_TPL" | jq -c '.values_schema.properties.auth.properties.password.pattern = "([a-z"')" 400 \
	"$(E invalid_field values_schema.properties.auth.properties.password.pattern)"
t "a pattern_message without a pattern is refused" POST /api/v1/catalog \
	"$(echo "$CT_TPL" | jq -c '.values_schema.properties.auth.properties.password.pattern_message = "Letters only."')" 400 \
	"$(E invalid_field values_schema.properties.auth.properties.password.pattern_message)"
t "... and an empty one beside a pattern" POST /api/v1/catalog \
	"$(echo "$CT_TPL" | jq -c '.values_schema.properties.auth.properties.password += {"pattern": "^[a-z]+$", "pattern_message": ""}')" 400 \
	"$(E invalid_field values_schema.properties.auth.properties.password.pattern_message)"
t "a secret default is refused" POST /api/v1/catalog \
	"$(echo "$CT_TPL" | jq -c '.default_values.auth = {"password": "hunter2hunter2"}')" 400 \
	"$(E invalid_field default_values.auth.password)"
t "a version range is refused" POST /api/v1/catalog \
	"$(echo "$CT_TPL" | jq -c '.chart_version = "~1.2"')" 400 "$(E invalid_field chart_version)"
t "an unknown category is refused" POST /api/v1/catalog \
	"$(echo "$CT_TPL" | jq -c '.category = "Games"')" 400 "$(E invalid_field category)"
t "an unknown member is refused" POST /api/v1/catalog \
	"$(echo "$CT_TPL" | jq -c '.helm_flags = "--devel"')" 400 "$(E unknown_field helm_flags)"
t "a body that is not an object" POST /api/v1/catalog '[]' 400 "$(E not_an_object)"
dbcheck "... nothing written" "SELECT count(*) FROM app_templates" "$CT_N"

t "a platform admin adds a template" POST /api/v1/catalog "$CT_TPL" 201 \
	'.slug == "cat-demo"' '.enabled == true' '.tags == ["demo", "sql"]' \
	'.values_schema.properties.size.default == 1' '(.id | test("^[0-9a-f-]{36}$"))'
save CT_ID .id
header "... with its Location" '^location: /api/v1/catalog/cat-demo$'
t "... once: the slug is taken" POST /api/v1/catalog "$CT_TPL" 409 "$(E slug_taken slug)"
dbcheck "... audited" \
	"SELECT count(*) FROM audit_log WHERE action = 'catalog.create' AND target_type = 'app_template' AND target_id = '$CT_ID'" 1
t "... changes it" PATCH /api/v1/catalog/cat-demo '{"name":"Demo DB 2","enabled":false,"tags":["demo"]}' 200 \
	'.name == "Demo DB 2"' '.enabled == false' '.tags == ["demo"]' ".id == \"$CT_ID\"" \
	'.values_schema.properties.size.maximum == 3'
dbcheck "... audited with the members that changed" \
	"SELECT count(*) FROM audit_log WHERE action = 'catalog.update' AND target_id = '$CT_ID' AND CAST(details AS TEXT) LIKE '%enabled%' AND CAST(details AS TEXT) LIKE '%name%' AND CAST(details AS TEXT) LIKE '%tags%'" 1
t "... keeps its form in the order written" PATCH /api/v1/catalog/cat-demo \
	"$(echo "$CT_TPL" | command jq -c '{values_schema: (.values_schema | .properties = {size: .properties.size, auth: .properties.auth})}')" 200 \
	'(.values_schema.properties | keys_unsorted) == ["size", "auth"]'
t "... and reads it back so" GET /api/v1/catalog/cat-demo '' 200 \
	'(.values_schema.properties | keys_unsorted) == ["size", "auth"]'
t "... whose result is checked whole" PATCH /api/v1/catalog/cat-demo \
	'{"default_values":{"ingress":"off"}}' 400 "$(E invalid_field inputs.host)"
t "... the slug never changes" PATCH /api/v1/catalog/cat-demo '{"slug":"other"}' 400 "$(E invalid_field slug)"
t "... nor an unknown member" PATCH /api/v1/catalog/cat-demo '{"id":"x"}' 400 "$(E unknown_field id)"
t "... not one that is not there" PATCH /api/v1/catalog/nothere '{"name":"x"}' 404 "$(E not_found)"
dbcheck "... nothing half-written" "SELECT name FROM app_templates WHERE slug = 'cat-demo'" "Demo DB 2"
ct_as CT_CUST
t "a disabled template is gone for customers" GET /api/v1/catalog/cat-demo '' 404
ct_as CT_ADMIN
t "... removes it" DELETE /api/v1/catalog/cat-demo '' 204
t "... it is gone" GET /api/v1/catalog/cat-demo '' 404 "$(E not_found)"
t "... and cannot be removed twice" DELETE /api/v1/catalog/cat-demo '' 404 "$(E not_found)"
dbcheck "... audited" \
	"SELECT count(*) FROM audit_log WHERE action = 'catalog.delete' AND target_id = '$CT_ID' AND CAST(details AS TEXT) LIKE '%cat-demo%'" 1
t "the platform's audit log shows the changes" GET '/api/v1/audit?scope=platform&action=catalog.create' '' 200 \
	"[.items[].target_id] | index(\"$CT_ID\") != null"
dbcheck "the catalog is as loaded" "SELECT count(*) FROM app_templates" 4
ct_as CT_SAVED_TOKEN
