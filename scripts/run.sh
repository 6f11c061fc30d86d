#!/bin/sh
# run.sh: `make run`. Starts Kaiden on loopback with its state in VAR and stays in the
# foreground until Ctrl-C (or until kaiden-api or nginx exits), then stops everything it
# started. The data stays: a second run on the same VAR reuses the database and token.
#
#   PORT  nginx listens on 127.0.0.1:PORT (default 8080)
#   VAR   the state directory (default ./var)
#   DB    sqlite (VAR/kaiden.db) or postgres (a private cluster in VAR/pg)
#   B     the build directory holding bin/kaiden-api (default build)
#   HELPERDS, APIS  how many kaiden-helperds and kaiden-apis (default 1 each; more need
#         DB=postgres). With several, each one's log is its own file under VAR/log/, the
#         banner lists every pid, and one that exits is reported and left down while
#         the others serve (to try failover by hand); the stack stops when none of a
#         kind is left, or nginx exits.
# Any other KAIDEN_* variable in the environment reaches kaiden-api (see README.md).
set -eu

PORT=${PORT:-8080}
VAR=${VAR:-./var}
DB=${DB:-sqlite}
B=${B:-build}
# shellcheck disable=SC2034 # read by stack_init
STACK_HELPERDS=${HELPERDS:-1}
# shellcheck disable=SC2034 # read by stack_init
STACK_APIS=${APIS:-1}

# VAR is relative to where make (or the user) ran, before we move to the repository.
case $VAR in /*) ;; *) VAR=$(pwd)/$VAR ;; esac
cd "$(dirname "$0")/.."
# shellcheck source=scripts/stack.sh
. scripts/stack.sh

# kaiden-api's log lines go to this terminal, after the banner; several processes' each
# to its own file (VAR/log/kaiden-api-2.log...), which tells them apart.
if [ "$STACK_APIS$STACK_HELPERDS" = 11 ]; then
	# shellcheck disable=SC2034 # read by stack_api_start
	STACK_API_LOG=-
	# shellcheck disable=SC2034 # read by stack_helperd_start
	STACK_HELPERD_LOG=-
fi

stack_init "$VAR" "$DB" "$PORT"

# shellcheck disable=SC2317 # called from the traps
finish() {
	trap - EXIT INT TERM
	[ -z "${NAP_PID:-}" ] || kill "$NAP_PID" 2>/dev/null || :
	if [ -n "$STACK_API_PID$STACK_NGINX_PID$STACK_DB_STARTED${STACK_HELPERD_PID:-}" ]; then
		echo >&2
		echo "kaiden: stopping (data kept in $STACK_DIR)" >&2
	fi
	stack_helperd_stop
	stack_stop
}
trap finish EXIT
trap 'finish; exit 130' INT
trap 'finish; exit 143' TERM

stack_up
stack_helperd_start

# VAR/kaiden.yaml: this stack's database and sockets, for kaiden-api's commands in
# another terminal (build/bin/kaiden-api --config var/kaiden.yaml token create ...):
# without it they would look for ./kaiden.db. Rewritten on every start (the ports and
# the PostgreSQL DSNs may change); 0600, as it names the database.
yaml_str() {
	printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}
CONFIG_FILE=$STACK_DIR/kaiden.yaml
(
	umask 077
	{
		echo "# Written by make run (scripts/run.sh) at each start: the settings of the stack"
		echo "# it runs. build/bin/kaiden-api --config $CONFIG_FILE COMMAND"
		echo "# uses that stack's database. KAIDEN_* variables still win over this file."
		echo "server:"
		echo "  socket: $(yaml_str "$STACK_SOCKET")"
		echo "database:"
		echo "  driver: $DB"
		if [ "$DB" = sqlite ]; then
			echo "  path: $(yaml_str "$STACK_DB_PATH")"
		else
			echo "  dsn: $(yaml_str "$KAIDEN_DATABASE_DSN")"
			echo "  owner_dsn: $(yaml_str "$KAIDEN_DATABASE_OWNER_DSN")"
		fi
		echo "helperd:"
		echo "  listen: $(yaml_str "$STACK_HELPERD_SOCKET")"
		echo "  metrics: $(yaml_str "127.0.0.1:$STACK_METRICS_PORT")"
	} >"$CONFIG_FILE.new"
)
mv "$CONFIG_FILE.new" "$CONFIG_FILE"

# The first administrator: made on the first run with a random password kept in
# VAR/admin.password (0600), never on a command line.
ADMIN_EMAIL=admin@localhost
ADMIN_PW_FILE=$STACK_DIR/admin.password
ADMIN_NOTE=
if [ ! -s "$ADMIN_PW_FILE" ]; then
	rm -f "$ADMIN_PW_FILE.new"
	(umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$ADMIN_PW_FILE.new")
	if "$STACK_BIN" user add --email "$ADMIN_EMAIL" --name Administrator --role admin \
		--password-file "$ADMIN_PW_FILE.new" >/dev/null 2>"$STACK_DIR/log/user-add.log"; then
		mv "$ADMIN_PW_FILE.new" "$ADMIN_PW_FILE"
	else
		rm -f "$ADMIN_PW_FILE.new"
		ADMIN_NOTE="(could not make $ADMIN_EMAIL: $(tail -n 1 "$STACK_DIR/log/user-add.log");
             add an admin with: $STACK_BIN user add --email ... --role admin)"
	fi
fi

cat <<EOF

  Kaiden is running.

  Portal     $STACK_URL/
  API        $STACK_URL/api/v1/
  Token      $STACK_TOKEN
             (a service token for the default tenant; also in $STACK_TOKEN_FILE)
  Admin      $ADMIN_EMAIL, password in $ADMIN_PW_FILE ${ADMIN_NOTE}
  Database   $DB ($( [ "$DB" = sqlite ] && echo "$STACK_DB_PATH" || echo "$STACK_DIR/pg"))
  Settings   $CONFIG_FILE (for kaiden-api --config: token create, user add...)
  Agents     ws://127.0.0.1:$PORT/api/v1/ws/agent (kaiden-helperd)
  Metrics    $STACK_METRICS_URL (a free port, picked at each start)
  Logs       $STACK_DIR/log/, $STACK_NGINX_DIR/logs/

  Try:  curl -H "Authorization: Bearer \$(cat $STACK_TOKEN_FILE)" $STACK_URL/api/v1/devices

  Log in (the reply's token is a Bearer token for auth.token_ttl, 12 h by default):
        curl -H 'Content-Type: application/json' \\
             -d "{\\"email\\":\\"$ADMIN_EMAIL\\",\\"password\\":\\"\$(cat $ADMIN_PW_FILE)\\"}" \\
             $STACK_URL/api/v1/auth/login

  Ctrl-C stops everything; the data stays in $STACK_DIR.

EOF

# Several: which pid is which (a stack of one's banner stays as it was).
if [ "$STACK_APIS$STACK_HELPERDS" != 11 ]; then
	echo "  Processes (logs in $STACK_DIR/log/; kill one to try failover: it is left down)"
	for w in $STACK_API_PIDS; do
		n=${w%%:*}
		printf '    kaiden-api %s        pid %-8s %s\n' "$n" "${w#*:}" "$(stack_api_socket "$n")"
	done
	for w in $STACK_HELPERD_PIDS; do
		n=${w%%:*}
		for u in $STACK_METRICS_URLS; do
			[ "${u%%:*}" != "$n" ] || murl=${u#*:}
		done
		printf '    kaiden-helperd %s    pid %-8s %s, instance %s, %s\n' "$n" "${w#*:}" \
			"$(stack_helperd_socket "$n")" "$(stack_helperd_instance "$n")" "$murl"
	done
	printf '    nginx               pid %-8s %s\n' "$STACK_NGINX_PID" "$STACK_URL"
	echo
fi

# live NAME "I:pid ...": LIVE is how many of them still run. Of several, one that has
# exited is reported once (with its exit status) and left down.
REPORTED=
live() {
	LIVE=0
	many=0
	for w in $2; do
		many=$((many + 1))
	done
	for w in $2; do
		p=${w#*:}
		if kill -0 "$p" 2>/dev/null; then
			LIVE=$((LIVE + 1))
			continue
		fi
		case " $REPORTED " in *" $p "*) continue ;; esac
		REPORTED="$REPORTED $p"
		[ "$many" -gt 1 ] || continue
		if wait "$p" 2>/dev/null; then st=0; else st=$?; fi
		echo "kaiden: $1 ${w%%:*} (pid $p) exited (status $st): left down, the rest serve on" >&2
	done
}

# Stay while the servers live. Ctrl-C signals the whole process group, the servers
# too: the shell must run its INT trap before it looks at them again, or it would call
# their orderly stop "exited on its own". A foreground sleep defers the trap until the
# loop has looked; `wait` on a background sleep is interrupted at once and runs it.
while kill -0 "$STACK_NGINX_PID" 2>/dev/null; do
	live kaiden-api "$STACK_API_PIDS"
	[ "$LIVE" -gt 0 ] || break
	live kaiden-helperd "$STACK_HELPERD_PIDS"
	[ "$LIVE" -gt 0 ] || break
	sleep 1 &
	NAP_PID=$!
	wait "$NAP_PID"
	NAP_PID=
done
echo "kaiden: a server exited on its own; see $STACK_DIR/log/ and $STACK_NGINX_DIR/logs/error.log" >&2
exit 1
