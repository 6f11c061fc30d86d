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

# A fault leaves its last words in kaiden-api's log (common/crash.h), then the process
# ends as the signal would end it. SIGABRT sent from outside takes the handler a failed
# assertion or a malloc check takes (under AddressSanitizer too, which leaves it to us);
# no core file (prlimit), then kaiden-api starts again.
H10_LOG=$STACK_DIR/log/kaiden-api.log
prlimit --core=0 --pid "$STACK_API_PID"
kill -ABRT "$STACK_API_PID"
if { wait "$STACK_API_PID"; } 2>/dev/null; then H10_RC=0; else H10_RC=$?; fi
STACK_API_PID=
if [ "$H10_RC" = 134 ] && tail -n 80 "$H10_LOG" | grep -q 'prog=kaiden-api msg="fatal signal 6 (SIGABRT): the stack follows"' &&
	tail -n 80 "$H10_LOG" | grep -q 'bin/kaiden-api(+0x[0-9a-f]*)\[0x'; then
	ok "a fatal signal: kaiden-api's log says so, with its stack, and it ends by the signal"
else
	bad "a fatal signal: kaiden-api's log says so, with its stack, and it ends by the signal" \
		"exit status $H10_RC; log tail: $(tail -n 5 "$H10_LOG")"
fi
rm -f "$STACK_RUN/kaiden-api.pid"
if stack_api_start && stack_wait_ready; then ok "kaiden-api starts again"; else bad "kaiden-api starts again" "see $H10_LOG"; fi
