# shellcheck shell=sh
# A port picked free can be taken before nginx binds it (another stack starting beside
# this one): nginx moves to another port (scripts/stack.sh, stack_nginx_up), whether the
# port is found taken before the start or only at nginx's bind. The stack code is the same
# for both databases: the SQLite suite runs it.

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
	CASE_PIDS="${CASE_PIDS:-} $SQUAT"
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
