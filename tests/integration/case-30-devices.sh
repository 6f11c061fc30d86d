# shellcheck shell=sh
# Devices: create (secret once), get (never the secret), list with filters and
# pagination, delete, and ids that are malformed or unknown.

NOID=00000000-0000-7000-8000-000000000000

t "create a device" POST /api/v1/devices '{"name":"alpha-01"}' 201 \
	'.id | test("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")' \
	'.device_id == .id' '.name == "alpha-01"' '.status == "offline"' \
	'.secret | type == "string" and length >= 16' \
	'.created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")' \
	'has("secret_hash") | not'
save DEV_A .id
save DEV_A_SECRET .secret
loc=$(hval Location)
if [ "$loc" = "/api/v1/devices/$DEV_A" ]; then ok "201 carries Location"; else bad "201 carries Location" "Location: '$loc'"; fi

t "get the device" GET "/api/v1/devices/$DEV_A" '' 200 \
	".id == \"$DEV_A\"" '.name == "alpha-01"' \
	'has("secret") | not' 'has("secret_hash") | not' \
	'has("labels") and has("resources") and has("last_seen") and has("hostname")'
if grep -qF -- "$DEV_A_SECRET" "$T/body"; then bad "GET never shows the secret" "it is in the body"; else ok "GET never shows the secret"; fi
dbcheck "the secret is stored only as an argon2id hash" \
	"SELECT count(*) FROM devices WHERE id = '$DEV_A' AND secret_hash LIKE '\$argon2id\$%'" 1

t "the id is case-insensitive" GET "/api/v1/devices/$(echo "$DEV_A" | tr '[:lower:]' '[:upper:]')" '' 200 \
	".id == \"$DEV_A\""
t "HEAD a device" HEAD "/api/v1/devices/$DEV_A" '' 200

t "a 128-character name is accepted" POST /api/v1/devices "{\"name\":\"$(repeat 128 n)\"}" 201 \
	'.name | length == 128'
save DEV_LONG .id
t "a multibyte name counts characters, not bytes" POST /api/v1/devices \
	"{\"name\":\"$(repeat 120 x)日本語のなまえ\"}" 201 '.name | endswith("日本語のなまえ")'
save DEV_UTF .id

# Stored and returned verbatim: the store never builds SQL from text.
inj="'); DROP TABLE devices;--"
t "an SQL-looking name is stored verbatim" POST /api/v1/devices \
	"$(jq -cn --arg n "$inj" '{name: $n}')" 201 ".name == $(jq -n --arg n "$inj" '$n')"
save DEV_INJ .id
t "... and read back verbatim" GET "/api/v1/devices/$DEV_INJ" '' 200 \
	".name == $(jq -n --arg n "$inj" '$n')"
dbcheck "... and the devices table is still there" \
	"SELECT name FROM devices WHERE id = '$DEV_INJ'" "$inj"

t "a name with % and _" POST /api/v1/devices '{"name":"100%_sure"}' 201
save DEV_PCT .id

# Pagination: five devices, newest first, pages of two.
for i in 1 2 3 4 5; do
	call POST /api/v1/devices "{\"name\":\"page-$i\"}"
	[ "$CODE" = 201 ] || bad "create page-$i" "status $CODE"
done
t "list page 1 (limit 2)" GET "/api/v1/devices?q=page-&limit=2" '' 200 \
	'.items | length == 2' '[.items[].name] == ["page-5","page-4"]' \
	'.next_cursor | type == "string"'
save CUR .next_cursor
t "list page 2" GET "/api/v1/devices?q=page-&limit=2&cursor=$CUR" '' 200 \
	'[.items[].name] == ["page-3","page-2"]' '.next_cursor | type == "string"'
save CUR .next_cursor
t "list page 3 is the last" GET "/api/v1/devices?q=page-&limit=2&cursor=$CUR" '' 200 \
	'[.items[].name] == ["page-1"]' '.next_cursor == null'
t "list: exactly limit items left gives no further page" GET "/api/v1/devices?q=page-&limit=5" '' 200 \
	'.items | length == 5'
save CUR .next_cursor
if [ "$CUR" = null ]; then
	ok "list: no next_cursor when nothing is left"
else
	# Allowed by the contract only if the next page is then empty.
	t "list: an extra page after the last is empty" GET "/api/v1/devices?q=page-&limit=5&cursor=$CUR" '' 200 \
		'.items == []' '.next_cursor == null'
fi
t "list with the default limit" GET /api/v1/devices '' 200 \
	'.items | length == 10' '.next_cursor == null' \
	'[.items[] | has("secret")] | any | not' \
	'.items[0].name == "page-5"'
t "list with limit=200" GET "/api/v1/devices?limit=200" '' 200 '.items | length == 10'
t "HEAD the list" HEAD /api/v1/devices '' 200

# Filters.
t "filter status=offline" GET "/api/v1/devices?status=offline" '' 200 '.items | length == 10'
t "filter status=online" GET "/api/v1/devices?status=online" '' 200 '.items == []'
t "filter q (substring)" GET "/api/v1/devices?q=pha-0" '' 200 '[.items[].name] == ["alpha-01"]'
t "filter q is case-insensitive" GET "/api/v1/devices?q=ALPHA" '' 200 '[.items[].id] == ["'"$DEV_A"'"]'
t "filter q takes % literally" GET "/api/v1/devices?q=%25" '' 200 '[.items[].name] == ["100%_sure"]'
t "filter q takes _ literally" GET "/api/v1/devices?q=_" '' 200 '[.items[].name] == ["100%_sure"]'
t "filter q with no match" GET "/api/v1/devices?q=nothing-like-this" '' 200 '.items == []' '.next_cursor == null'
t "filter q with a quote" GET "/api/v1/devices?q=%27%29%3B%20DROP" '' 200 "[.items[].id] == [\"$DEV_INJ\"]"
t "unknown query parameters are ignored" GET "/api/v1/devices?q=alpha&colour=red" '' 200 '.items | length == 1'

# Bad queries.
t "limit=0" GET "/api/v1/devices?limit=0" '' 400 "$(E invalid_query limit)"
t "limit=201" GET "/api/v1/devices?limit=201" '' 400 "$(E invalid_query limit)"
t "limit=abc" GET "/api/v1/devices?limit=abc" '' 400 "$(E invalid_query limit)"
t "limit=-1" GET "/api/v1/devices?limit=-1" '' 400 "$(E invalid_query limit)"
t "cursor that is not an id" GET "/api/v1/devices?cursor=xyz" '' 400 "$(E invalid_query cursor)"
t "status=bogus" GET "/api/v1/devices?status=bogus" '' 400 "$(E invalid_query status)"
t "q over 512 bytes" GET "/api/v1/devices?q=$(repeat 600 q)" '' 400 "$(E invalid_query q)"
t "q with a control character" GET "/api/v1/devices?q=a%01b" '' 400 "$(E invalid_query q)"

# Unknown and malformed ids.
t "get: malformed id" GET /api/v1/devices/not-a-uuid '' 404 "$(E not_found)"
t "get: unknown id" GET "/api/v1/devices/$NOID" '' 404 "$(E not_found)"
t "get: id with a trailing slash" GET "/api/v1/devices/$DEV_A/" '' 404 "$(E not_found)"
t "delete: malformed id" DELETE /api/v1/devices/123 '' 404 "$(E not_found)"
t "delete: unknown id" DELETE "/api/v1/devices/$NOID" '' 404 "$(E not_found)"

# Delete.
t "delete a device" DELETE "/api/v1/devices/$DEV_PCT" '' 204
if [ -s "$T/body" ]; then bad "204 has no body" "it has one"; else ok "204 has no body"; fi
t "a deleted device is gone" GET "/api/v1/devices/$DEV_PCT" '' 404 "$(E not_found)"
t "deleting it again: 404" DELETE "/api/v1/devices/$DEV_PCT" '' 404 "$(E not_found)"
t "a deleted device no longer lists" GET "/api/v1/devices?q=sure" '' 200 '.items == []'

# Rotate the secret (POST /devices/{id}/rotate-secret, no body): a new one, shown once as
# at create; the hash replaced and its version bumped (the tickets it kills: case-60);
# audited without the secret; a node of a cluster refused (its agent uses the cluster's).
DEV_A_HASH=$(dbq "SELECT secret_hash FROM devices WHERE id = '$DEV_A'")
t "rotate a device's secret" POST "/api/v1/devices/$DEV_A/rotate-secret" '' 200 \
	".id == \"$DEV_A\"" '.name == "alpha-01"' '.status == "offline"' \
	'.secret | type == "string" and length >= 16' ".secret != \"$DEV_A_SECRET\"" \
	'has("secret_hash") | not' 'has("device_id") | not'
save DEV_A_SECRET2 .secret
dbcheck "... the stored hash is another argon2id hash" \
	"SELECT count(*) FROM devices WHERE id = '$DEV_A' AND secret_hash <> '$DEV_A_HASH' AND secret_hash LIKE '\$argon2id\$%'" 1
dbcheck "... and the secret's version is 2" "SELECT secret_version FROM devices WHERE id = '$DEV_A'" 2
t "rotate it again: yet another secret" POST "/api/v1/devices/$DEV_A/rotate-secret" '' 200 \
	".secret != \"$DEV_A_SECRET2\" and .secret != \"$DEV_A_SECRET\""
save DEV_A_SECRET3 .secret
dbcheck "... version 3" "SELECT secret_version FROM devices WHERE id = '$DEV_A'" 3
t "GET after the rotation" GET "/api/v1/devices/$DEV_A" '' 200 'has("secret") | not'
if grep -qF -e "$DEV_A_SECRET2" -e "$DEV_A_SECRET3" "$T/body"; then bad "GET never shows the new secret" "it is in the body"; else ok "GET never shows the new secret"; fi
dbcheck "audited as device.rotate_secret, without the secret" \
	"SELECT count(*) FROM audit_log WHERE action = 'device.rotate_secret' AND target_id = '$DEV_A' AND coalesce(CAST(details AS TEXT), '') NOT LIKE '%$DEV_A_SECRET2%' AND coalesce(CAST(details AS TEXT), '') NOT LIKE '%$DEV_A_SECRET3%'" 2
if grep -qF -e "$DEV_A_SECRET2" -e "$DEV_A_SECRET3" "$STACK_DIR/log/kaiden-api.log" 2>/dev/null; then
	bad "no rotated secret in kaiden-api's log" "one is in $STACK_DIR/log/kaiden-api.log"
else
	ok "no rotated secret in kaiden-api's log"
fi
t "the audit log shows the rotation" GET "/api/v1/audit?action=device.rotate_secret" '' 200 \
	"[.items[] | select(.target_id == \"$DEV_A\")] | length == 2"
if grep -qF -e "$DEV_A_SECRET2" -e "$DEV_A_SECRET3" "$T/body"; then bad "... without the secret" "it is in the body"; else ok "... without the secret"; fi

t "rotate: unknown id" POST "/api/v1/devices/$NOID/rotate-secret" '' 404 "$(E not_found)"
t "rotate: malformed id" POST /api/v1/devices/not-a-uuid/rotate-secret '' 404 "$(E not_found)"
t "rotate: a deleted device" POST "/api/v1/devices/$DEV_PCT/rotate-secret" '' 404 "$(E not_found)"
t "rotate: GET is not a method of it" GET "/api/v1/devices/$DEV_A/rotate-secret" '' 405
dbcheck "no refusal wrote a hash" "SELECT secret_version FROM devices WHERE id = '$DEV_A'" 3

# A node: a device of a cluster (SQL, as case-110: no helperd runs yet).
t "a cluster for a node" POST /api/v1/clusters '{"name":"rotate-cluster"}' 201
save DEV_CL .id
DEV_NODE=01908530-0000-7000-8000-0000000000d1
DEV_TENANT=$(dbq "SELECT tenant_id FROM devices WHERE id = '$DEV_A'")
dbq "INSERT INTO devices (id, tenant_id, name, secret_hash, cluster_id, node_name) VALUES ('$DEV_NODE', '$DEV_TENANT', 'node-r', '!cluster', '$DEV_CL', 'node-r')" >/dev/null
t "rotate: a node is refused (its agent uses the cluster's secret)" \
	POST "/api/v1/devices/$DEV_NODE/rotate-secret" '' 409 "$(E cluster_node)" \
	'.error.message | test("cluster.s secret")' \
	".error.message | contains(\"/api/v1/clusters/$DEV_CL/rotate-secret\")" 'has("secret") | not'
dbcheck "... its row is unchanged" \
	"SELECT secret_hash || ' ' || secret_version FROM devices WHERE id = '$DEV_NODE'" '!cluster 1'
dbcheck "... and not audited" \
	"SELECT count(*) FROM audit_log WHERE action = 'device.rotate_secret' AND target_id = '$DEV_NODE'" 0
t "the cluster goes, its node with it" DELETE "/api/v1/clusters/$DEV_CL" '' 204
