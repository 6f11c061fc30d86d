# shellcheck shell=sh
# Every error in docs/api.md that the earlier cases did not reach, on the write paths,
# and a check that no refused request wrote a row.

snap

# 404: unknown paths, from kaiden-api and from nginx (outside /api/v1/), all JSON.
t "unknown path under /api/v1" GET /api/v1/nothing-here '' 404 "$(E not_found)"
t "unknown path, deeper" GET "/api/v1/devices/$DEV_B/extra" '' 404 "$(E not_found)"
t "unknown API version (nginx)" GET /api/v2/devices '' 404 "$(E not_found)"
t "unknown path under /api/ (nginx)" POST /api/whatever '{}' 404 "$(E not_found)"
raw GET /api/v1/nothing-here
expect "unknown path without a token is still 404" 404 "$(E not_found)"

# 405 with Allow.
t "PUT /devices: 405" PUT /api/v1/devices '{"name":"x"}' 405 "$(E method_not_allowed)"
header "... Allow: GET, HEAD, POST" '^allow: get, head, post$'
t "PATCH a device: 405" PATCH "/api/v1/devices/$DEV_B" '{"name":"x"}' 405 "$(E method_not_allowed)"
header "... Allow: GET, HEAD, DELETE" '^allow: get, head, delete$'
t "POST to a session: 405" POST "/api/v1/sessions/$S3" '{}' 405 "$(E method_not_allowed)"
header "... Allow: GET, HEAD, PATCH, DELETE" '^allow: get, head, patch, delete$'
t "DELETE the session list: 405" DELETE /api/v1/sessions '' 405 "$(E method_not_allowed)"
header "... Allow: GET, HEAD, POST" '^allow: get, head, post$'
raw OPTIONS /api/v1/devices -H "Authorization: Bearer $STACK_TOKEN"
expect "OPTIONS: 405" 405 "$(E method_not_allowed)"
header "... with Allow" '^allow: '

# 415: a body endpoint with another content type, or none.
raw POST /api/v1/devices -H "Authorization: Bearer $STACK_TOKEN" \
	-H 'Content-Type: text/plain' --data-binary '{"name":"x"}'
expect "text/plain: 415" 415 "$(E unsupported_media_type)"
raw POST /api/v1/devices -H "Authorization: Bearer $STACK_TOKEN" --data-binary '{"name":"x"}'
expect "a form content type (curl's default): 415" 415 "$(E unsupported_media_type)"
raw POST /api/v1/devices -H "Authorization: Bearer $STACK_TOKEN" \
	-H 'Content-Type: application/jsonp' --data-binary '{"name":"x"}'
expect "application/jsonp: 415" 415 "$(E unsupported_media_type)"
raw PATCH "/api/v1/sessions/$S3" -H "Authorization: Bearer $STACK_TOKEN" \
	-H 'Content-Type: text/json' --data-binary '{"notes":"x"}'
expect "PATCH with text/json: 415" 415 "$(E unsupported_media_type)"

# 400s from the body.
t "empty body" POST /api/v1/devices '' 415 "$(E unsupported_media_type)"
raw POST /api/v1/devices -H "Authorization: Bearer $STACK_TOKEN" -H 'Content-Type: application/json'
expect "JSON content type, empty body: invalid_json" 400 "$(E invalid_json)"
t "truncated JSON" POST /api/v1/devices '{"name":' 400 "$(E invalid_json)"
t "two JSON values" POST /api/v1/devices '{"name":"a"}{"name":"b"}' 400 "$(E invalid_json)"
t "not JSON at all" POST /api/v1/devices 'name=alpha' 400 "$(E invalid_json)"
t "invalid UTF-8" POST /api/v1/devices "$(printf '{"name":"\377\376"}')" 400 \
	'.error.code == "invalid_json" or (.error.code == "invalid_field" and .error.field == "name")'
t "an array: not_an_object" POST /api/v1/devices '[{"name":"a"}]' 400 "$(E not_an_object)"
t "a string: not_an_object" POST /api/v1/devices '"alpha"' 400 "$(E not_an_object)"
t "null: not_an_object" POST /api/v1/devices 'null' 400 "$(E not_an_object)"
t "missing name" POST /api/v1/devices '{}' 400 "$(E missing_field name)"
t "unknown member" POST /api/v1/devices '{"name":"a","colour":"red"}' 400 "$(E unknown_field colour)"
t "name a number" POST /api/v1/devices '{"name":42}' 400 "$(E invalid_field name)"
t "name null" POST /api/v1/devices '{"name":null}' 400 "$(E invalid_field name)"
t "name an object" POST /api/v1/devices '{"name":{"a":1}}' 400 "$(E invalid_field name)"
t "name empty" POST /api/v1/devices '{"name":""}' 400 "$(E invalid_field name)"
t "name 129 characters" POST /api/v1/devices "{\"name\":\"$(repeat 129 n)\"}" 400 "$(E invalid_field name)"
t "name with a control character" POST /api/v1/devices '{"name":"a\u0001b"}' 400 "$(E invalid_field name)"
t "name with a newline" POST /api/v1/devices '{"name":"a\nb"}' 400 "$(E invalid_field name)"
t "PATCH: JSON content type, bad JSON" PATCH "/api/v1/sessions/$S3" '{notes:1}' 400 "$(E invalid_json)"
t "PATCH: an array" PATCH "/api/v1/sessions/$S3" '[]' 400 "$(E not_an_object)"

# 413: over server.max_body (65536) kaiden-api answers; over nginx's 128k nginx does,
# in the same JSON shape.
t "a body just under the limit is read" POST /api/v1/devices "@$(big_body 65000)" 400 "$(E invalid_field name)"
t "a body over 64 KiB: 413 from kaiden-api" POST /api/v1/devices "@$(big_body 70000)" 413 "$(E payload_too_large)"
t "a body over nginx's limit: 413, still JSON" POST /api/v1/devices "@$(big_body 300000)" 413 \
	'.error.code == "payload_too_large"'
raw POST /api/v1/devices -H "Authorization: Bearer $STACK_TOKEN" -H 'Content-Type: application/json' \
	-H 'Transfer-Encoding: chunked' --data-binary "@$(big_body 300000)"
expect "a chunked body over nginx's limit: 413 JSON" 413 '.error.code == "payload_too_large"'
t "PATCH over 64 KiB: 413" PATCH "/api/v1/sessions/$S3" "@$(big_body 70000)" 413 "$(E payload_too_large)"

unchanged "no refused request wrote a row"
