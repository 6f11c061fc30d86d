# shellcheck shell=sh
# The process around the API: migrations run twice, and SIGTERM with a request in
# flight. Runs last: it stops and restarts kaiden-api.

# Data from before the restart below, this case's own (it runs on its own too: CASES=90).
call POST /api/v1/devices '{"name":"before-restart"}'
save C90_DEV .id

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

# A slow request: the devices table's write lock is held (until the test releases it) so
# that a POST waits in the database; SIGTERM reaches kaiden-api while it waits there. The
# request must complete (201), kaiden-api must exit 0 soon after, and the row must be
# there after a restart. Nothing here waits a fixed time: each step waits for the state
# the next one needs.
rm -f "$T/locked" "$T/unlock"
_hold="while [ ! -e '$T/unlock' ]; do sleep 0.05; done"
if [ "$SUITE_DB" = sqlite ]; then
	printf "BEGIN IMMEDIATE;\n.shell touch '%s'\n.shell %s\nCOMMIT;\n" "$T/locked" "$_hold" |
		sqlite3 -batch "$STACK_DB_PATH" >"$T/lock.out" 2>&1 &
else
	printf "BEGIN;\nLOCK TABLE devices IN EXCLUSIVE MODE;\n\\! touch '%s'\n\\! %s\nCOMMIT;\n" \
		"$T/locked" "$_hold" | psql -X -q -v ON_ERROR_STOP=1 -d "$KAIDEN_DATABASE_DSN" >"$T/lock.out" 2>&1 &
fi
locker=$!
_i=0
while [ ! -e "$T/locked" ] && kill -0 "$locker" 2>/dev/null && [ "$_i" -lt 300 ]; do
	sleep 0.05
	_i=$((_i + 1))
done
if [ -e "$T/locked" ]; then ok "hold the devices table's write lock"; else bad "hold the devices table's write lock" "$(cat "$T/lock.out")"; fi
curl -sS --max-time 30 -o "$T/slow.body" -w '%{http_code}' -X POST \
	-H "Authorization: Bearer $STACK_TOKEN" -H 'Content-Type: application/json' \
	--data-binary '{"name":"slow-one"}' "$STACK_URL/api/v1/devices" >"$T/slow.code" 2>&1 &
slow=$!
# in_db_wait: true while a kaiden-api request waits for the lock: on PostgreSQL a backend
# waits on a Lock with the INSERT; on SQLite a worker thread sleeps in SQLite's busy
# handler (its only sleep: idle workers block in accept, the main thread in sigwait).
in_db_wait() {
	if [ "$SUITE_DB" = postgres ]; then
		[ "$(dbq "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query ILIKE '%INSERT INTO devices%'" 2>/dev/null)" -ge 1 ]
	else
		case $(uname -m) in
		x86_64) _sleeps='35 230' ;;
		aarch64) _sleeps='101 115' ;;
		*) _sleeps='35 162 230 265 407' ;;
		esac
		for _f in /proc/"$STACK_API_PID"/task/*/syscall; do
			read -r _nr _rest <"$_f" 2>/dev/null || continue
			case " $_sleeps " in *" $_nr "*) return 0 ;; esac
		done
		return 1
	fi
}
_i=0
_waits=no
# Bounded only so that a broken run ends (curl gives up at 30 s anyway). What the loop saw
# is kept, not looked at again: on SQLite the waiting thread leaves its sleep for a moment
# each time the busy handler tries the lock, so a second look can miss a wait that goes on.
while kill -0 "$slow" 2>/dev/null && [ "$_i" -lt 600 ]; do
	if in_db_wait; then
		_waits=yes
		break
	fi
	sleep 0.05
	_i=$((_i + 1))
done
if [ "$_waits" = yes ]; then
	ok "SIGTERM: the slow request waits in the database when SIGTERM comes"
else
	# What each of kaiden-api's threads was doing instead (syscall number or "running",
	# and the kernel's wait channel), and whether the request had ended.
	_threads=
	for _t in /proc/"$STACK_API_PID"/task/*; do
		_threads="$_threads $(cut -d' ' -f1 "$_t/syscall" 2>/dev/null)/$(cat "$_t/wchan" 2>/dev/null)"
	done
	bad "SIGTERM: the slow request waits in the database when SIGTERM comes" \
		"no request waits for the lock after $_i looks (threads:$_threads; the request \
$(kill -0 "$slow" 2>/dev/null && echo 'still runs' || echo "ended: $(cat "$T/slow.code" 2>/dev/null) $(head -c 200 "$T/slow.body" 2>/dev/null)"))"
fi
api_pid=$STACK_API_PID
started=$(date +%s)
kill -TERM "$api_pid"
# The request goes on once the lock is free, after SIGTERM.
touch "$T/unlock"
if wait "$api_pid"; then api_rc=0; else api_rc=$?; fi
took=$(($(date +%s) - started))
STACK_API_PID=
rm -f "$STACK_RUN/kaiden-api.pid"
if wait "$slow"; then :; fi
if wait "$locker"; then :; else bad "release the lock" "$(cat "$T/lock.out")"; fi

if [ "$api_rc" -eq 0 ]; then ok "SIGTERM: kaiden-api exits 0"; else bad "SIGTERM: kaiden-api exits 0" "exit status $api_rc"; fi
if [ "$took" -le 8 ]; then ok "SIGTERM: kaiden-api stops promptly (${took}s)"; else bad "SIGTERM: kaiden-api stops promptly" "it took ${took}s"; fi
read -r code <"$T/slow.code" || true
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
t "earlier data is there after the restart" GET "/api/v1/devices/$C90_DEV" '' 200 \
	'.name == "before-restart"'
t "the token still works after the restart" GET /api/v1/devices?limit=1 '' 200
