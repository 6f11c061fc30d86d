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
