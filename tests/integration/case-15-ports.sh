# shellcheck shell=sh
# A port picked free can be taken before nginx binds it (another stack starting beside
# this one): nginx moves to another port (scripts/stack.sh, stack_nginx_up), whether the
# port is found taken before the start or only at nginx's bind; so does helperd's metrics
# port. The stack code is the same for both databases: the SQLite suite runs it.

# squat PORT: a listener on 127.0.0.1:PORT (in CASE_PIDS), once it listens; its pid in SQUAT.
squat() {
	rm -f "$T/squat"
	python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
open(sys.argv[2], "w").close()
time.sleep(300)' "$1" "$T/squat" 2>"$T/squat.err" &
	SQUAT=$!
	case_pids "$SQUAT"
	_i=0
	while [ ! -e "$T/squat" ] && kill -0 "$SQUAT" 2>/dev/null && [ "$_i" -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}

# moved NAME OLD: one test: nginx answers on a port other than OLD.
moved() {
	raw GET /healthz
	if [ "$STACK_PORT" != "$2" ] && [ "$CODE" = 200 ]; then
		ok "$1"
	else
		bad "$1" "port $STACK_PORT (was $2), /healthz $CODE"
	fi
}

[ "$SUITE_DB" != sqlite ] ||
for _when in "before the start" "at nginx's bind"; do
	_old=$STACK_PORT
	stack_nginx_stop
	squat "$_old"
	if [ "$_when" = "at nginx's bind" ]; then
		# The probe misses it, as when the other binds between the probe and ours.
		stack_port_busy() { return 1; }
	fi
	if stack_nginx_up 2>"$T/ports.err"; then :; else bad "nginx starts again ($_when)" "$(cat "$T/ports.err")"; fi
	# stack.sh holds only functions: sourcing it again brings back the real probe.
	. "$STACK_ROOT/scripts/stack.sh"
	moved "a port taken $_when: nginx moves to another" "$_old"
	kill "$SQUAT" 2>/dev/null || :
	wait "$SQUAT" 2>/dev/null || :
done

# helperd's metrics port, taken before helperd binds it: helperd starts on another.
if [ "$SUITE_DB" = sqlite ]; then
	_old=$(stack_free_port)
	squat "$_old"
	rm -f "$T/picked"
	# The first pick is the taken port (as when the other binds after the probe).
	stack_free_port() {
		if [ ! -e "$T/picked" ]; then
			: >"$T/picked"
			echo "$_old"
			return 0
		fi
		. "$STACK_ROOT/scripts/stack.sh"
		stack_free_port
	}
	if stack_helperd_start 2>"$T/ports.err" && [ "$STACK_METRICS_PORT" != "$_old" ] &&
		curl -sf -o /dev/null --max-time 5 "$STACK_METRICS_URL"; then
		ok "helperd's metrics port taken at its bind: helperd moves to another"
	else
		bad "helperd's metrics port taken at its bind: helperd moves to another" \
			"port ${STACK_METRICS_PORT:-none} (taken: $_old): $(cat "$T/ports.err")"
	fi
	. "$STACK_ROOT/scripts/stack.sh"
	stack_helperd_stop >/dev/null 2>&1
	kill "$SQUAT" 2>/dev/null || :
	wait "$SQUAT" 2>/dev/null || :
fi
