# shellcheck shell=sh
# The process around the API: migrations run twice, and SIGTERM with a request in
# flight. Runs last: it stops and restarts kaiden-api.

# A second migrate finds nothing to do.
before=$(dbq "SELECT count(*) FROM schema_migrations" 2>&1)
if out=$("$STACK_BIN" migrate 2>&1); then
	case $out in
	*"applied 0 migration"*) ok "a second kaiden-api migrate applies nothing" ;;
	*) bad "a second kaiden-api migrate applies nothing" "it said: $out" ;;
	esac
else
	bad "a second kaiden-api migrate applies nothing" "it failed: $out"
fi
dbcheck "... and schema_migrations is as it was" "SELECT count(*) FROM schema_migrations" "$before"

# A slow request: hold the devices table's write lock for 2 s so that a POST waits in
# the database, then SIGTERM kaiden-api while it waits. The request must complete
# (201), kaiden-api must exit 0 soon after, and the row must be there after a restart.
if [ "$SUITE_DB" = sqlite ]; then
	printf 'BEGIN IMMEDIATE;\n.shell sleep 2\nCOMMIT;\n' |
		sqlite3 -batch "$STACK_DB_PATH" >"$T/lock.out" 2>&1 &
else
	psql -X -q -d "$KAIDEN_DATABASE_DSN" \
		-c 'BEGIN; LOCK TABLE devices IN EXCLUSIVE MODE; SELECT pg_sleep(2); COMMIT;' \
		>"$T/lock.out" 2>&1 &
fi
locker=$!
sleep 0.4
curl -sS --max-time 30 -o "$T/slow.body" -w '%{http_code} %{time_total}' -X POST \
	-H "Authorization: Bearer $STACK_TOKEN" -H 'Content-Type: application/json' \
	--data-binary '{"name":"slow-one"}' "$STACK_URL/api/v1/devices" >"$T/slow.code" 2>&1 &
slow=$!
sleep 0.6
api_pid=$STACK_API_PID
started=$(date +%s)
kill -TERM "$api_pid"
if wait "$api_pid"; then api_rc=0; else api_rc=$?; fi
took=$(($(date +%s) - started))
STACK_API_PID=
rm -f "$STACK_RUN/kaiden-api.pid"
if wait "$slow"; then :; fi
if wait "$locker"; then :; else bad "hold a lock for the slow request" "$(cat "$T/lock.out")"; fi

if [ "$api_rc" -eq 0 ]; then ok "SIGTERM: kaiden-api exits 0"; else bad "SIGTERM: kaiden-api exits 0" "exit status $api_rc"; fi
if [ "$took" -le 8 ]; then ok "SIGTERM: kaiden-api stops promptly (${took}s)"; else bad "SIGTERM: kaiden-api stops promptly" "it took ${took}s"; fi
read -r code slow_took <"$T/slow.code" || true
# It waited for the lock, so it really was in flight when SIGTERM came.
case $slow_took in
[1-9]*) ok "SIGTERM: the slow request was held in the database (${slow_took}s)" ;;
*) bad "SIGTERM: the slow request was held in the database" "it took ${slow_took:-?}s" ;;
esac
if [ "$code" = 201 ] && jq -e '.name == "slow-one"' "$T/slow.body" >/dev/null 2>&1; then
	ok "SIGTERM: the request in flight completes (201)"
else
	bad "SIGTERM: the request in flight completes (201)" "got '$code' $(head -c 200 "$T/slow.body")"
fi
SLOW_ID=$(jq -r '.id // empty' "$T/slow.body" 2>/dev/null) || SLOW_ID=

raw GET /healthz
expect "with kaiden-api stopped nginx answers 502 as JSON" 502 '.error.code == "unavailable"'

if stack_api_start && stack_wait_ready; then
	ok "kaiden-api starts again on the same socket"
else
	bad "kaiden-api starts again on the same socket" "see $STACK_DIR/log/kaiden-api.log"
fi
if [ -n "$SLOW_ID" ]; then
	t "the row written during shutdown is there after the restart" GET "/api/v1/devices/$SLOW_ID" '' 200 \
		'.name == "slow-one"'
fi
t "earlier data is there after the restart" GET "/api/v1/sessions/$S1" '' 200 '.status == "ended"'
t "the token still works after the restart" GET /api/v1/devices?limit=1 '' 200
