# shellcheck shell=sh
# Every error in docs/api.md that the earlier cases did not reach, on the write paths,
# and a check that no refused request wrote a row.

# A device and a session to refuse requests on: case-40's when it ran before, else
# (CASES=50) ones of its own.
if [ -z "${DEV_B:-}" ]; then
	t "a device to refuse requests on" POST /api/v1/devices '{"name":"c50-dev"}' 201
	save DEV_B .id
fi
if [ -z "${S3:-}" ]; then
	t "a session to refuse requests on" POST /api/v1/sessions \
		"{\"device_id\":\"$DEV_B\",\"engineer_name\":\"C50\"}" 201
	save S3 .id
fi

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

# ---- JSON that json-c takes and JSON (or the database) does not: 400 invalid_json on
# every route, wherever it sits in the body (keys too), and nothing written. Before, the
# store got them and answered 500 on both databases.
call GET /api/v1/tenant
save SETTINGS_BEFORE '.settings | tojson'
for body in '{"settings":{"a":NaN}}' '{"settings":{"a":[1,{"b":Infinity}]}}' \
	'{"settings":{"a":-Infinity}}' '{"settings":{"a":1e999}}' \
	'{"settings":{"a":99999999999999999999}}' '{"settings":{"a":1,"a":2}}' \
	'{"settings":{"a":"x\u0000y"}}' '{"settings":{"k\u0000":1}}' \
	'{"settings":{"a":"\ud800"}}' '{"settings":{"\udc00":1}}'; do
	t "PATCH /tenant $body: invalid_json" PATCH /api/v1/tenant "$body" 400 "$(E invalid_json)"
done
t "PATCH /tenant with U+D800 written as UTF-8 bytes: invalid_json" PATCH /api/v1/tenant \
	"$(printf '{"name":"\355\240\200"}')" 400 "$(E invalid_json)"
t "POST /devices with NaN: invalid_json" POST /api/v1/devices '{"name":"a","x":NaN}' 400 "$(E invalid_json)"
t "POST /devices with \\u0000 in the name: invalid_json" POST /api/v1/devices \
	'{"name":"a\u0000b"}' 400 "$(E invalid_json)"
t "PATCH a session with a lone surrogate: invalid_json" PATCH "/api/v1/sessions/$S3" \
	'{"notes":"\udfff"}' 400 "$(E invalid_json)"
call GET /api/v1/tenant
expect "the tenant's settings did not change" 200 ".settings | tojson == $(printf '%s' "$SETTINGS_BEFORE" | jq -R .)"
t "a surrogate pair is one character, and fine" PATCH /api/v1/tenant \
	'{"settings":{"smile":"\ud83d\ude00"}}' 200 '.settings.smile == "\ud83d\ude00"'
t "... settings put back" PATCH /api/v1/tenant "{\"settings\":$SETTINGS_BEFORE}" 200

# ---- nginx's own errors under /api/, JSON too. Some are found before nginx picks a
# location (the snippet's server-level error_page); curl --path-as-is sends the path as
# written, and wire sends bytes curl cannot (a broken request line, HTTP/2.0).

# wire BYTES: sends printf '%b' BYTES to nginx over a plain socket, as they are, and
# reads the reply into CODE, $T/body and $T/headers(.lc) as raw does.
wire() {
	LAST="bytes '$1'"
	rm -f "$T/body" "$T/headers"
	CODE=$(printf '%b' "$1" | python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(sys.stdin.buffer.read())
reply = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    reply += b
head, _, body = reply.partition(b"\r\n\r\n")
open(sys.argv[2], "wb").write(head + b"\r\n")
open(sys.argv[3], "wb").write(body)
words = head.split(b" ")
print(words[1].decode() if head.startswith(b"HTTP/") and len(words) > 1 else "000")
' "$STACK_PORT" "$T/headers" "$T/body" 2>"$T/curl.err") || CODE=000
	touch "$T/body" "$T/headers"
	tr -d '\r' <"$T/headers" | tr '[:upper:]' '[:lower:]' >"$T/headers.lc"
}

raw GET '/api/v1/devices%00' --path-as-is -H "Authorization: Bearer $STACK_TOKEN"
expect "%00 in the path: nginx's 400, as JSON" 400 "$(E bad_request)"
raw GET /api/v1/devices -H "Authorization: Bearer $STACK_TOKEN" -H "Authorization: Bearer $STACK_TOKEN"
expect "a duplicate Authorization header: 400 JSON" 400 "$(E bad_request)"
raw TRACE /api/v1/devices -H "Authorization: Bearer $STACK_TOKEN"
expect "TRACE: nginx's 405, as JSON" 405 "$(E method_not_allowed)"
raw GET "/api/v1/devices?q=$(repeat 11000 a)" -H "Authorization: Bearer $STACK_TOKEN"
expect "an 11 KB query: 414 JSON" 414 "$(E uri_too_long)"
raw GET /api/v1/devices -H "Authorization: Bearer $STACK_TOKEN" -H "X-Padding: $(repeat 9000 a)"
expect "a 9 KB header: nginx's 494, sent as 400 JSON" 400 "$(E bad_request)"
raw POST /api/v1/devices -H "Authorization: Bearer $STACK_TOKEN" \
	-H 'Content-Type: application/json' -H 'Transfer-Encoding: gzip' --data-binary '{}'
expect "an unknown Transfer-Encoding: 501 JSON" 501 "$(E not_implemented)"
wire 'GET /api/v1/devices HTTP/2.0\r\nHost: localhost\r\nConnection: close\r\n\r\n'
expect "HTTP/2.0 in the request line: 505 JSON" 505 "$(E http_version_not_supported)"
wire 'GET /api/v1/devices HTTP/1.1\r\nConnection: close\r\n\r\n'
expect "HTTP/1.1 without Host: 400 JSON" 400 "$(E bad_request)"
wire 'GET /api/v1/devices HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n'
expect "a header line without a colon: 400 JSON" 400 "$(E bad_request)"
wire 'GARBAGE\r\n\r\n'
expect "a request line that is not one: 400 JSON" 400 "$(E bad_request)"
wire 'HEAD /api/v1/devices%00 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
expect "HEAD with %00: 400, no body" 400
if [ ! -s "$T/body" ] && grep -q '^content-type: application/json' "$T/headers.lc"; then
	ok "... and its Content-Type is still application/json"
else
	bad "... and its Content-Type is still application/json" "$(tr '\n' '|' <"$T/headers.lc")"
fi

# ---- An unauthenticated import is refused from its headers: kaiden-api checks the
# credential before it reads a body larger than server.max_body, and nginx streams that
# route (fastcgi_request_buffering off) rather than taking 60 MB to a temp file first.
# Four parallel 60 MB posts; VmHWM (the peak resident set) is a high-water mark, so
# reading it after the burst measures the burst, with no sampling race. Before the fix
# kaiden-api read each body whole (85 MB of growth here) and nginx first wrote all four
# to temp files; now neither holds more than a buffer.

# The peak resident set of PID in kB (VmHWM).
peak_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# The summed peaks of kaiden-api and nginx's workers.
stack_peak_kb() {
	_sum=$(peak_kb "$STACK_API_PID")
	for _st in /proc/[0-9]*/status; do
		_pp=$(awk '/^PPid:/ { print $2 }' "$_st" 2>/dev/null) || continue
		[ "$_pp" = "$STACK_NGINX_PID" ] || continue
		_sum=$((_sum + $(awk '/^VmHWM:/ { print $2 }' "$_st" 2>/dev/null || echo 0)))
	done
	echo "$_sum"
}

# A 60 MB file that takes no disk (sparse); curl -T streams it with its Content-Length.
truncate -s 60000000 "$T/import-60mb"
peak_before=$(stack_peak_kb)
buffered_before=$(grep -c 'buffered to a temporary file' "$STACK_NGINX_DIR/logs/error.log" || :)
import_pids=
for i in 1 2 3 4; do
	curl -sS --max-time 60 -o "$T/import-$i.body" -D "$T/import-$i.headers" -w '%{http_code}' \
		-X POST -T "$T/import-60mb" -H 'Content-Type: application/json' \
		"$STACK_URL/api/v1/tenant/import" >"$T/import-$i.code" 2>"$T/import-$i.err" &
	import_pids="$import_pids $!"
done
# Only these: the stack's servers are this shell's children too.
# shellcheck disable=SC2086
wait $import_pids
for i in 1 2 3 4; do
	LAST="POST /api/v1/tenant/import (60 MB, no credential, $i of 4)"
	CODE=$(cat "$T/import-$i.code")
	cp "$T/import-$i.body" "$T/body"
	tr -d '\r' <"$T/import-$i.headers" | tr '[:upper:]' '[:lower:]' >"$T/headers.lc"
	expect "a 60 MB import without a credential ($i of 4): 401 JSON" 401 "$(E unauthorized)"
done
peak_after=$(stack_peak_kb)
grown=$(((peak_after - peak_before) / 1024))
if [ "$grown" -lt 32 ]; then
	ok "4 x 60 MB unauthenticated imports: kaiden-api and nginx grew by $grown MB (< 32)"
else
	LAST="VmHWM of kaiden-api and nginx's workers: $peak_before kB -> $peak_after kB"
	CODE=-
	bad "4 x 60 MB unauthenticated imports cost under 32 MB" "they grew by $grown MB"
fi
buffered_after=$(grep -c 'buffered to a temporary file' "$STACK_NGINX_DIR/logs/error.log" || :)
if [ "$buffered_after" = "$buffered_before" ]; then
	ok "... and nginx wrote none of them to a temp file"
else
	LAST=
	bad "nginx did not buffer the imports" "$((buffered_after - buffered_before)) bodies went to temp files"
fi
rm -f "$T/import-60mb"
raw POST /api/v1/tenant/import -T "$(big_body 70000)" \
	-H "Authorization: Bearer $STACK_TOKEN" -H 'Content-Type: application/json'
expect "an import over server.max_body by a token without the admin role: 403" 403 "$(E forbidden)"

unchanged "no refused request wrote a row"
