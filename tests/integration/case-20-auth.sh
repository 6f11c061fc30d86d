# shellcheck shell=sh
# 401 for every way a token can be wrong, always with WWW-Authenticate: Bearer, and a
# refused write leaves no row behind.

snap
raw GET /api/v1/devices
expect "no Authorization: 401" 401 "$(E unauthorized)"
header "401 carries WWW-Authenticate: Bearer" '^www-authenticate: bearer'

raw GET /api/v1/devices -H 'Authorization: Basic dXNlcjpwYXNz'
expect "Basic instead of Bearer: 401" 401 "$(E unauthorized)"
header "401 (Basic) carries WWW-Authenticate" '^www-authenticate: bearer'

raw GET /api/v1/devices -H 'Authorization: Bearer'
expect "Bearer without a token: 401" 401 "$(E unauthorized)"

raw GET /api/v1/devices -H "Authorization: Bearer $STACK_TOKEN extra"
expect "Bearer with two words: 401" 401 "$(E unauthorized)"

raw GET /api/v1/devices -H 'Authorization: Bearer not-a-kaiden-token'
expect "unknown token: 401" 401 "$(E unauthorized)"
header "401 (unknown token) carries WWW-Authenticate" '^www-authenticate: bearer'

# The real token with its last character changed: right shape, wrong secret.
case $STACK_TOKEN in *x) wrong=${STACK_TOKEN%?}y ;; *) wrong=${STACK_TOKEN%?}x ;; esac
raw GET /api/v1/devices -H "Authorization: Bearer $wrong"
expect "token with a wrong secret: 401" 401 "$(E unauthorized)"

raw GET /api/v1/devices -H "Authorization: Bearer $(repeat 2000 a)"
expect "a 2000-byte token: 401" 401 "$(E unauthorized)"

raw POST /api/v1/devices -H "Authorization: Bearer $wrong" \
	-H 'Content-Type: application/json' --data-binary '{"name":"intruder"}'
expect "POST with a wrong token: 401" 401 "$(E unauthorized)"
raw DELETE "/api/v1/devices/00000000-0000-7000-8000-000000000000" -H "Authorization: Bearer $wrong"
expect "DELETE with a wrong token: 401" 401 "$(E unauthorized)"
unchanged "refused requests wrote nothing"

raw GET /api/v1/devices -H "Authorization: bearer $STACK_TOKEN"
expect "the scheme is case-insensitive" 200 '.items | type == "array"'

# ---- issue 10: the login cookie (for the browser portal) and CSRF -----------------------
# A login sets kaiden_session (the JWT, HttpOnly) and kaiden_csrf; the cookie is a
# credential like the Bearer token; a cookie-authenticated write needs X-Kaiden-CSRF.
# The stack is plain http on 127.0.0.1: no Secure (a browser would drop the cookies).
C20_PW='cookie twenty password'
C20_JAR=$T/c20.jar
if printf '%s\n' "$C20_PW" | "$STACK_BIN" user add --email cookie20@example.com \
	--name 'Cookie 20' --role admin >/dev/null 2>"$T/c20.err"; then
	ok "a staff user for the cookie checks"
else
	bad "a staff user for the cookie checks" "$(head -c 300 "$T/c20.err")"
fi
raw POST /api/v1/auth/login -c "$C20_JAR" -H 'Content-Type: application/json' \
	--data-binary "$(jq -cn --arg p "$C20_PW" '{email: "cookie20@example.com", password: $p}')"
expect "login by the portal: 200 with the token" 200 '.token | type == "string"'
save C20_JWT .token
header "... sets kaiden_session HttpOnly for /api/ (no Secure on http loopback)" \
	'^set-cookie: kaiden_session=[^;]+; path=/api/; httponly; samesite=strict; max-age=[0-9]+$'
header "... sets kaiden_csrf readable by scripts, for /" \
	'^set-cookie: kaiden_csrf=[a-z0-9_-]{43}; path=/; samesite=strict; max-age=[0-9]+$'
C20_CSRF=$(awk '$6 == "kaiden_csrf" { print $7 }' "$C20_JAR" 2>/dev/null)
C20_SESSION=$(awk '$6 == "kaiden_session" { print $7 }' "$C20_JAR" 2>/dev/null)
if [ -n "$C20_CSRF" ] && [ "$C20_SESSION" = "$C20_JWT" ] &&
	grep -q '^#HttpOnly_127.0.0.1.*kaiden_session' "$C20_JAR"; then
	ok "... curl's jar holds both, the session one HttpOnly and equal to the token"
else
	bad "... curl's jar holds both, the session one HttpOnly and equal to the token" \
		"$(tr '\t' ' ' <"$C20_JAR" | grep kaiden_ | cut -c1-80)"
fi

raw GET /api/v1/auth/me -b "$C20_JAR"
expect "the cookie alone authenticates a read" 200 '.role == "admin"' '.credential == "login"'

snap
raw POST /api/v1/auth/tokens -b "$C20_JAR" -H 'Content-Type: application/json' \
	--data-binary '{"name":"c20"}'
expect "a cookie write without X-Kaiden-CSRF: 403" 403 "$(E csrf_failed)"
# The right token with its last character changed (to one it is not: 'A' is one of the
# 16 values that place can hold, so always 'A' would be the real token one time in 16).
case $C20_CSRF in *A) C20_BAD=${C20_CSRF%?}E ;; *) C20_BAD=${C20_CSRF%?}A ;; esac
raw POST /api/v1/auth/tokens -b "$C20_JAR" -H 'Content-Type: application/json' \
	-H "X-Kaiden-CSRF: $C20_BAD" --data-binary '{"name":"c20"}'
expect "a cookie write with a wrong X-Kaiden-CSRF: 403" 403 "$(E csrf_failed)"
raw POST /api/v1/auth/tokens -H "Cookie: kaiden_session=$C20_JWT; kaiden_csrf=forged" \
	-H 'X-Kaiden-CSRF: forged' -H 'Content-Type: application/json' --data-binary '{"name":"c20"}'
expect "a planted kaiden_csrf cookie echoed in the header: 403" 403 "$(E csrf_failed)"
unchanged "refused cookie writes wrote nothing"

raw POST /api/v1/auth/tokens -b "$C20_JAR" -H "X-Kaiden-CSRF: $C20_CSRF" \
	-H 'Content-Type: application/json' --data-binary '{"name":"c20"}'
expect "a cookie write with the right X-Kaiden-CSRF: 201" 201 '.token | startswith("kdn_")'
save C20_TOKEN_ID .id
raw DELETE "/api/v1/auth/tokens/$C20_TOKEN_ID" -b "$C20_JAR" -H "X-Kaiden-CSRF: $C20_CSRF"
expect "... and a cookie DELETE with it: 204" 204

raw POST /api/v1/auth/tokens -H "Authorization: Bearer $C20_JWT" \
	-H 'Content-Type: application/json' --data-binary '{"name":"c20b"}'
expect "the same login as a Bearer token writes without X-Kaiden-CSRF" 201
save C20_TOKEN_ID .id
raw DELETE "/api/v1/auth/tokens/$C20_TOKEN_ID" -H "Authorization: Bearer $C20_JWT"
expect "... and deletes" 204

raw GET /api/v1/auth/me -b "$C20_JAR" -H "Authorization: Bearer $wrong"
expect "an Authorization header wins over the cookie (a bad one: 401)" 401 "$(E unauthorized)"
raw GET /api/v1/auth/me -b "$C20_JAR" -H "Authorization: Bearer $STACK_TOKEN"
expect "... (a good one: its identity)" 200 '.credential == "api_token"'

raw GET /api/v1/auth/me -H "Cookie: kaiden_session=$C20_JWT; kaiden_session=$C20_JWT"
expect "a Cookie header naming kaiden_session twice carries no cookie: 401" 401 "$(E unauthorized)"
raw GET /api/v1/auth/me -H "Cookie: kaiden_session=$C20_JWT;;"
expect "a malformed Cookie header carries no cookie: 401" 401 "$(E unauthorized)"
raw GET /api/v1/auth/me -H "Cookie: kaiden_session=$STACK_TOKEN"
expect "an API token is no cookie credential: 401" 401 "$(E unauthorized)"

raw POST /api/v1/auth/logout -b "$C20_JAR" -c "$C20_JAR"
expect "logout by cookie without X-Kaiden-CSRF: 403" 403 "$(E csrf_failed)"
raw POST /api/v1/auth/logout -b "$C20_JAR" -c "$C20_JAR" -H "X-Kaiden-CSRF: $C20_CSRF"
expect "logout by cookie: 204" 204
header "... clears kaiden_session" '^set-cookie: kaiden_session=; path=/api/; httponly; samesite=strict; max-age=0$'
header "... clears kaiden_csrf" '^set-cookie: kaiden_csrf=; path=/; samesite=strict; max-age=0$'
# (curl 7.88 keeps a cleared HttpOnly cookie in its jar file; browsers drop it. Either
# way the login behind it is revoked.)
raw GET /api/v1/auth/me -b "$C20_JAR"
expect "after logout the jar authenticates nothing" 401 "$(E unauthorized)"
raw GET /api/v1/auth/me -H "Cookie: kaiden_session=$C20_JWT"
expect "the logged-out cookie no longer works" 401 "$(E unauthorized)"
