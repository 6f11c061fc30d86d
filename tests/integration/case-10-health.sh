# shellcheck shell=sh
# Health, the portal, request ids: what a load balancer and a browser see first.

raw GET /healthz
expect "GET /healthz needs no token" 200 '.status == "ok"' ".database == \"$SUITE_DB\""
header "/healthz carries X-Request-Id" '^x-request-id: .+'

raw HEAD /healthz
expect "HEAD /healthz" 200
header "HEAD /healthz: JSON headers as GET has" '^content-type: application/json'

raw GET /healthz -H 'X-Request-Id: it-req-0042'
header "X-Request-Id given by the client comes back" '^x-request-id: it-req-0042$'

raw POST /healthz -H 'Content-Type: application/json' --data-binary '{}'
expect "POST /healthz: 405" 405 "$(E method_not_allowed)"
header "POST /healthz: Allow lists GET and HEAD" '^allow: get, head$'

raw GET /
if [ "$CODE" = 200 ] && grep -q '^content-type: text/html' "$T/headers.lc"; then
	ok "GET / serves the portal (www/index.html)"
else
	bad "GET / serves the portal (www/index.html)" "status $CODE, $(grep '^content-type' "$T/headers.lc")"
fi
