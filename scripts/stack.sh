# shellcheck shell=sh
# shellcheck disable=SC2034 # STACK_* variables are read by the scripts that source this.
# stack.sh: start and stop a whole Kaiden stack on loopback (PostgreSQL when asked,
# kaiden-api, nginx). Sourced, not run, by scripts/run.sh (`make run`),
# tests/integration/ and tests/bench/, so all of them start the same thing the same way.
# POSIX sh; the caller has `set -eu` and its current directory at the repository root.
#
#     . scripts/stack.sh
#     stack_init DIR sqlite|postgres PORT   # PORT may be "auto": a free loopback port
#     stack_up                              # everything below, in order
#     ...                                   # $STACK_URL, $STACK_TOKEN, kaiden-api env
#     stack_stop                            # safe to call twice, or after a failure
#
# The steps, for callers that need to step in between (restarting kaiden-api, say):
#     stack_db_start     DB=postgres: scripts/pg.sh start DIR/pg (a private cluster)
#     stack_pgbouncer_start  STACK_PGBOUNCER=1 (tests): PgBouncer in transaction mode
#                        between kaiden-api serve and it (DIR/pgbouncer)
#     stack_migrate      kaiden-api migrate (PostgreSQL: as the owner)
#     stack_token        reuse DIR/admin.token, or create one (mode 0600)
#     stack_nginx_render DIR/nginx/nginx.conf from nginx/dev.conf.in + nginx/kaiden.conf
#     stack_api_start    kaiden-api serve --socket DIR/run/kaiden-api.sock, in background
#                        (STACK_APIS of them: the second on kaiden-api-2.sock...)
#     stack_nginx_start  nginx -p DIR/nginx -c DIR/nginx/nginx.conf, in background
#     stack_wait_ready   until GET /healthz through nginx answers 200
#     stack_api_stop / stack_nginx_stop / stack_pgbouncer_stop / stack_db_stop
#
# Several of each (issue 15; PostgreSQL only, refused on SQLite): STACK_APIS and
# STACK_HELPERDS (default 1, at most 9) set before stack_init. The first of each is the
# stack of one exactly (its socket, pid file, log, $STACK_API_PID, $STACK_HELPERD_PID,
# $STACK_METRICS_URL); the I-th (I >= 2) adds "-I" to each name (run/kaiden-api-2.sock,
# run/helperd-2.sock, log/kaiden-helperd-2.log) and every pid is in $STACK_API_PIDS /
# $STACK_HELPERD_PIDS ("I:pid" words). nginx reaches them through the upstreams
# kaiden_api and kaiden_helperd (DIR/nginx/upstreams.conf, every socket in each), so a
# request or a WebSocket upgrade goes to any that answers. Several helperds are named
# <instance>-I (helperd.instance: KAIDEN_HELPERD_INSTANCE, else the host name).
#
# Layout of DIR: kaiden.db (sqlite), pg/ (postgres), pgbouncer/ (STACK_PGBOUNCER),
# admin.token, run/ (sockets, pid files), log/ (kaiden-api.log), nginx/ (config,
# logs/, tmp/, nginx.pid), www/ (the portal as nginx serves it, rewritten at each
# render).
#
# Environment: the stack sets KAIDEN_DATABASE_DRIVER, KAIDEN_DATABASE_PATH or
# KAIDEN_DATABASE_DSN and KAIDEN_DATABASE_OWNER_DSN, KAIDEN_SERVER_SOCKET and (unless set)
# KAIDEN_AUTH_JWT_SECRET, because the database and the socket must be the ones it
# manages; every other KAIDEN_* variable in the environment passes through to kaiden-api
# untouched. On PostgreSQL the two DSNs are two roles (scripts/pg.sh): the owner
# (superuser) for `kaiden-api migrate`, and the application role, which kaiden-api serve,
# its admin commands and helperd connect as, so that row-level security holds for them. STACK_API_LOG (default DIR/log/kaiden-api.log; "-" means the
# caller's stderr) says where kaiden-api's output goes.
#
# Background processes started here are children of the sourcing shell: their pids are
# in $STACK_API_PID / $STACK_NGINX_PID and in DIR/run/*.pid.

stack__die() {
	echo "stack: $*" >&2
	return 1
}

stack__say() {
	[ -n "${STACK_QUIET:-}" ] || echo "stack: $*" >&2
}

# nginx lives in /usr/sbin, which is not on an ordinary user's PATH on Debian.
stack__nginx_bin() {
	if command -v nginx >/dev/null 2>&1; then
		command -v nginx
	elif [ -x /usr/sbin/nginx ]; then
		echo /usr/sbin/nginx
	else
		stack__die "nginx is not installed (apt-get install nginx)"
	fi
}

# True when something listens on 127.0.0.1:$1 (or any address) over TCP. Reads
# /proc/net/tcp{,6} so that no extra tool (ss, netstat) is needed.
stack_port_busy() {
	hex=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }'
}

# A free TCP port in 20000..59999, from a random start.
stack_free_port() {
	# Below the kernel's ephemeral range: outgoing connections (curl, libpq, agents)
	# and bind(0) take their ports from that range, so a port picked there can be taken
	# between this probe and the server's bind.
	low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || low=32768
	[ "${low:-0}" -gt 12000 ] || low=32768
	base=$((low - 10000))
	n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	n=$((n % 10000 + base))
	i=0
	while [ "$i" -lt 500 ]; do
		if ! stack_port_busy "$n"; then
			echo "$n"
			return 0
		fi
		n=$((n + 1))
		[ "$n" -lt "$low" ] || n=$base
		i=$((i + 1))
	done
	stack__die "no free TCP port on 127.0.0.1"
}

# stack_init DIR DB PORT: names every path and exports the kaiden-api environment.
stack_init() {
	[ $# -eq 3 ] || stack__die "usage: stack_init DIR sqlite|postgres PORT|auto" || return 1
	STACK_ROOT=$(pwd -P)
	[ -f "$STACK_ROOT/nginx/dev.conf.in" ] ||
		stack__die "run from the repository root (no nginx/dev.conf.in in $STACK_ROOT)" || return 1
	mkdir -p "$1" || return 1
	STACK_DIR=$(cd "$1" && pwd -P) || return 1
	# These paths go into nginx's config unquoted and into sed replacements.
	case $STACK_DIR$STACK_ROOT in
	*[!A-Za-z0-9/._+@,=-]*)
		stack__die "paths with spaces or shell/nginx special characters are not supported: $STACK_DIR" ||
			return 1
		;;
	esac
	STACK_DB=$2
	case $STACK_DB in
	sqlite | postgres) ;;
	*) stack__die "DB must be sqlite or postgres, not '$STACK_DB'" || return 1 ;;
	esac
	STACK_PORT=$3
	STACK_PORT_AUTO=
	if [ "$STACK_PORT" = auto ]; then
		STACK_PORT_AUTO=1
		STACK_PORT=$(stack_free_port) || return 1
	fi
	case $STACK_PORT in
	'' | *[!0-9]*) stack__die "PORT must be a number, not '$STACK_PORT'" || return 1 ;;
	esac
	[ "$STACK_PORT" -ge 1 ] && [ "$STACK_PORT" -le 65535 ] ||
		stack__die "PORT out of range: $STACK_PORT" || return 1

	case ${B:-build} in
	/*) STACK_BIN=$B/bin/kaiden-api ;;
	*) STACK_BIN=$STACK_ROOT/${B:-build}/bin/kaiden-api ;;
	esac
	STACK_RUN=$STACK_DIR/run
	STACK_NGINX_DIR=$STACK_DIR/nginx
	STACK_SOCKET=$STACK_RUN/kaiden-api.sock
	STACK_HELPERD_SOCKET=$STACK_RUN/helperd.sock
	STACK_TOKEN_FILE=$STACK_DIR/admin.token
	STACK_URL=http://127.0.0.1:$STACK_PORT
	STACK_API_PID=
	STACK_API_PIDS=
	STACK_NGINX_PID=
	STACK_POOL_DSN=
	STACK_PGBOUNCER_PID=
	STACK_DB_STARTED=
	STACK_TOKEN=
	STACK_DB_PATH=
	STACK_APIS=${STACK_APIS:-1}
	STACK_HELPERDS=${STACK_HELPERDS:-1}
	for n in "$STACK_APIS" "$STACK_HELPERDS"; do
		case $n in
		[1-9]) ;;
		*) stack__die "APIS and HELPERDS must be numbers from 1 to 9, not '$n'" || return 1 ;;
		esac
	done
	if [ "$STACK_DB" = sqlite ] && [ "$STACK_APIS$STACK_HELPERDS" != 11 ]; then
		stack__die "several kaiden-apis or helperds (APIS=$STACK_APIS HELPERDS=$STACK_HELPERDS) need PostgreSQL: add DB=postgres (a SQLite file serves one of each)" ||
			return 1
	fi
	if [ -n "${STACK_PGBOUNCER:-}" ] && [ "$STACK_DB" != postgres ]; then
		stack__die "PgBouncer (STACK_PGBOUNCER) stands in front of PostgreSQL only" || return 1
	fi
	mkdir -p "$STACK_RUN" "$STACK_DIR/log" || return 1

	export KAIDEN_DATABASE_DRIVER="$STACK_DB"
	export KAIDEN_SERVER_SOCKET="$STACK_SOCKET"
	if [ "$STACK_DB" = sqlite ]; then
		export KAIDEN_DATABASE_PATH="$STACK_DIR/kaiden.db"
		STACK_DB_PATH=$KAIDEN_DATABASE_PATH
	fi
	# The key that signs login tokens: made once per DIR (0600), kept across runs so
	# logins survive a restart; a KAIDEN_AUTH_JWT_SECRET already set wins.
	if [ -z "${KAIDEN_AUTH_JWT_SECRET:-}" ]; then
		if [ ! -s "$STACK_DIR/jwt.secret" ]; then
			(umask 077 && head -c 36 /dev/urandom | base64 >"$STACK_DIR/jwt.secret") || return 1
		fi
		KAIDEN_AUTH_JWT_SECRET=$(cat "$STACK_DIR/jwt.secret")
		export KAIDEN_AUTH_JWT_SECRET
	fi
	[ -x "$STACK_BIN" ] || stack__die "$STACK_BIN is missing: build first (make B=${B:-build})"
}

# stack__nth NAME I: the I-th process's name: NAME for the first (a stack of one's), NAME-I
# for the others.
stack__nth() {
	if [ "$2" -eq 1 ]; then echo "$1"; else echo "$1-$2"; fi
}

# The I-th kaiden-api's and helperd's sockets.
stack_api_socket() {
	echo "$STACK_RUN/$(stack__nth kaiden-api "$1").sock"
}

stack_helperd_socket() {
	echo "$STACK_RUN/$(stack__nth helperd "$1").sock"
}

# Refuses to start a second stack on the same DIR while the first still runs. With
# arguments: only those pid files.
stack__check_not_running() {
	if [ $# -eq 0 ]; then
		set -- "$STACK_NGINX_DIR/nginx.pid"
		i=1
		while [ "$i" -le "$STACK_APIS" ]; do
			set -- "$@" "$STACK_RUN/$(stack__nth kaiden-api "$i").pid"
			i=$((i + 1))
		done
	fi
	for f in "$@"; do
		[ -s "$f" ] || continue
		p=$(cat "$f")
		# Only a process whose command line names this DIR counts: a stale pid file
		# whose number now belongs to someone else's server does not.
		if [ -r "/proc/$p/cmdline" ] &&
			tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$STACK_DIR/"; then
			stack__die "a stack is already running on $STACK_DIR (pid $p from $f); stop it first" ||
				return 1
		fi
	done
}

stack_db_start() {
	[ "$STACK_DB" = postgres ] || return 0
	dsn=$(sh "$STACK_ROOT/scripts/pg.sh" start "$STACK_DIR/pg") ||
		stack__die "could not start PostgreSQL in $STACK_DIR/pg (see $STACK_DIR/pg/server.log)" ||
		return 1
	STACK_DB_STARTED=1
	app_dsn=$(sh "$STACK_ROOT/scripts/pg.sh" app-dsn "$STACK_DIR/pg") ||
		stack__die "no application conninfo for $STACK_DIR/pg" || return 1
	export KAIDEN_DATABASE_OWNER_DSN="$dsn"
	export KAIDEN_DATABASE_DSN="$app_dsn"
	stack__say "PostgreSQL: $app_dsn (migrations: $dsn)"
}

stack_db_stop() {
	[ -n "${STACK_DB_STARTED:-}" ] || return 0
	STACK_DB_STARTED=
	sh "$STACK_ROOT/scripts/pg.sh" stop "$STACK_DIR/pg"
}

stack_migrate() {
	"$STACK_BIN" migrate >>"$STACK_DIR/log/migrate.log" 2>&1 || {
		tail -n 20 "$STACK_DIR/log/migrate.log" >&2
		stack__die "kaiden-api migrate failed (log: $STACK_DIR/log/migrate.log)"
		return 1
	}
}

# Reuses DIR/admin.token when present, otherwise asks kaiden-api for a new one. The
# file is written 0600 before the token goes into it.
stack_token() {
	if [ -s "$STACK_TOKEN_FILE" ]; then
		STACK_TOKEN=$(cat "$STACK_TOKEN_FILE")
		return 0
	fi
	stack_token_new
}

stack_token_new() {
	tok=$("$STACK_BIN" token create --name admin 2>>"$STACK_DIR/log/token.log") || {
		cat "$STACK_DIR/log/token.log" >&2
		stack__die "kaiden-api token create failed"
		return 1
	}
	[ -n "$tok" ] || stack__die "kaiden-api token create printed nothing" || return 1
	(
		umask 077
		rm -f "$STACK_TOKEN_FILE"
		printf '%s\n' "$tok" >"$STACK_TOKEN_FILE"
	)
	chmod 0600 "$STACK_TOKEN_FILE"
	STACK_TOKEN=$tok
}

# stack__upstream NAME N SOCKET_FN: an nginx upstream block NAME with the sockets
# SOCKET_FN 1 .. SOCKET_FN N.
stack__upstream() {
	echo "upstream $1 {"
	i=1
	while [ "$i" -le "$2" ]; do
		echo "    server unix:$($3 "$i");"
		i=$((i + 1))
	done
	echo "}"
}

# Writes DIR/nginx/{nginx.conf,kaiden.conf,fastcgi_params,mime.types} and DIR/www (the
# portal, from the checkout's www/ by scripts/www.sh).
stack_nginx_render() {
	nd=$STACK_NGINX_DIR
	mkdir -p "$nd/logs" "$nd/tmp" || return 1
	for f in fastcgi_params mime.types; do
		[ -r "/etc/nginx/$f" ] || stack__die "/etc/nginx/$f is missing (apt-get install nginx)" || return 1
		cp "/etc/nginx/$f" "$nd/$f" || return 1
	done
	if [ "$(id -u)" -eq 0 ]; then
		user_line='user root;'
	else
		user_line='# (not root: the workers run as the invoking user)'
	fi
	# The portal as it is installed (scripts/www.sh: assets under /app/<hash>/), written
	# from the checkout's www/ into this stack's own DIR/www at every render.
	sh "$STACK_ROOT/scripts/www.sh" "$STACK_ROOT/www" "$STACK_DIR/www" >/dev/null || return 1
	# Every kaiden-api and every helperd of the stack in one upstream each (one server
	# each in a stack of one): nginx passes a request, or a WebSocket upgrade, to any of
	# them, and on to the next when one does not accept (a stopped one's socket).
	{
		echo "# Written by stack_nginx_render (scripts/stack.sh): the stack's processes."
		stack__upstream kaiden_api "$STACK_APIS" stack_api_socket
		stack__upstream kaiden_helperd "$STACK_HELPERDS" stack_helperd_socket
	} >"$nd/upstreams.conf" || return 1
	sed -e "s|fastcgi_pass unix:/run/kaiden/api.sock;|fastcgi_pass kaiden_api;|g" \
		-e "s|proxy_pass http://unix:/run/kaiden/helperd.sock:|proxy_pass http://kaiden_helperd|g" \
		-e "s|/run/kaiden/api.sock|$STACK_SOCKET|g" \
		-e "s|/run/kaiden/helperd.sock|$STACK_HELPERD_SOCKET|g" \
		-e "s|/usr/share/kaiden/www|$STACK_DIR/www|g" \
		"$STACK_ROOT/nginx/kaiden.conf" >"$nd/kaiden.conf.tmp" || return 1
	if grep -q '/run/kaiden/\|/usr/share/kaiden' "$nd/kaiden.conf.tmp"; then
		stack__die "nginx/kaiden.conf has a path stack_nginx_render does not know" || return 1
	fi
	mv "$nd/kaiden.conf.tmp" "$nd/kaiden.conf" || return 1
	sed -e "s|@USER_LINE@|$user_line|g" \
		-e "s|@NGINX_DIR@|$nd|g" \
		-e "s|@RUN_DIR@|$STACK_RUN|g" \
		-e "s|@PORT@|$STACK_PORT|g" \
		"$STACK_ROOT/nginx/dev.conf.in" >"$nd/nginx.conf.tmp" || return 1
	if grep -q '@[A-Z_]*@' "$nd/nginx.conf.tmp"; then
		stack__die "nginx/dev.conf.in has a placeholder stack_nginx_render does not fill" || return 1
	fi
	mv "$nd/nginx.conf.tmp" "$nd/nginx.conf" || return 1
	"$(stack__nginx_bin)" -t -q -p "$nd" -c "$nd/nginx.conf" -e "$nd/logs/error.log" ||
		stack__die "nginx rejected $nd/nginx.conf (see above)"
}

# The log of the I-th kaiden-api or helperd (NAME): STACK_API_LOG / STACK_HELPERD_LOG
# (VAR) for the first, "-" (the caller's stderr) for every one when it says "-", else
# DIR/log/NAME[-I].log.
stack__log() {
	eval "_l=\${$1:-}"
	if [ "$_l" = - ]; then
		echo -
	elif [ -n "$_l" ] && [ "$3" -eq 1 ]; then
		echo "$_l"
	else
		echo "$STACK_DIR/log/$(stack__nth "$2" "$3").log"
	fi
}

# Starts STACK_APIS kaiden-apis (stack__api_start_one each); a failure stops those it
# started.
stack_api_start() {
	STACK_API_PIDS=
	n=1
	while [ "$n" -le "$STACK_APIS" ]; do
		if ! stack__api_start_one "$n"; then
			stack_api_stop
			return 1
		fi
		n=$((n + 1))
	done
}

# The I-th kaiden-api; waits until it listens. Through PgBouncer (STACK_POOL_DSN) it
# connects there, with database.pooler=transaction.
stack__api_start_one() {
	nth=$1
	pidf=$STACK_RUN/$(stack__nth kaiden-api "$nth").pid
	sock=$(stack_api_socket "$nth")
	stack__check_not_running "$pidf" || return 1
	rm -f "$sock"
	log=$(stack__log STACK_API_LOG kaiden-api "$nth")
	set -- "$STACK_BIN" serve --socket "$sock"
	[ -z "$STACK_POOL_DSN" ] ||
		set -- env KAIDEN_DATABASE_DSN="$STACK_POOL_DSN" KAIDEN_DATABASE_POOLER=transaction "$@"
	if [ "$log" = - ]; then
		"$@" </dev/null >&2 &
	else
		"$@" </dev/null >>"$log" 2>&1 &
	fi
	pid=$!
	[ "$nth" -ne 1 ] || STACK_API_PID=$pid
	STACK_API_PIDS="$STACK_API_PIDS $nth:$pid"
	echo "$pid" >"$pidf"
	# The socket appears once kaiden-api is listening.
	i=0
	while [ ! -S "$sock" ]; do
		if ! kill -0 "$pid" 2>/dev/null || [ "$i" -ge 100 ]; then
			[ "$log" = - ] || tail -n 20 "$log" >&2
			stack__die "kaiden-api did not start listening on $sock"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

stack_nginx_start() {
	nd=$STACK_NGINX_DIR
	if stack_port_busy "$STACK_PORT"; then
		stack__die "127.0.0.1:$STACK_PORT is already in use (choose another: make run PORT=...)"
		return 1
	fi
	# stdout/stderr to a file: nginx writes almost nothing there after start-up, and a
	# caller's pipe must not be held open by it.
	"$(stack__nginx_bin)" -p "$nd" -c "$nd/nginx.conf" -e "$nd/logs/error.log" \
		</dev/null >>"$nd/logs/stderr.log" 2>&1 &
	STACK_NGINX_PID=$!
	echo "$STACK_NGINX_PID" >"$STACK_RUN/nginx.pid"
}

# Waits (up to ~15 s) until /healthz answers 200 through nginx.
stack_wait_ready() {
	i=0
	while :; do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$STACK_URL/healthz" 2>/dev/null) ||
			code=000
		[ "$code" != 200 ] || return 0
		# 502/503/000 mean "not up yet"; any other answer will not change by waiting.
		case $code in
		000 | 502 | 503) ;;
		*)
			stack__die "$STACK_URL/healthz answers $code, not 200"
			return 1
			;;
		esac
		if [ -n "$STACK_NGINX_PID" ] && ! kill -0 "$STACK_NGINX_PID" 2>/dev/null; then
			tail -n 20 "$STACK_NGINX_DIR/logs/error.log" >&2
			stack__die "nginx exited (log: $STACK_NGINX_DIR/logs/error.log)"
			return 1
		fi
		if [ -n "$STACK_API_PID" ] && ! kill -0 "$STACK_API_PID" 2>/dev/null; then
			stack__die "kaiden-api exited"
			return 1
		fi
		if [ "$i" -ge 150 ]; then
			stack__die "$STACK_URL/healthz still answers $code after 15 s"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

# Checks $STACK_TOKEN against the running API; a token file left from a database that
# was since removed gets replaced.
stack_token_verify() {
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		-H "Authorization: Bearer $STACK_TOKEN" "$STACK_URL/api/v1/devices?limit=1") || code=000
	case $code in
	200) return 0 ;;
	401)
		stack__say "$STACK_TOKEN_FILE is not valid for this database: creating a new token"
		stack_token_new
		;;
	*) stack__die "GET /api/v1/devices with the admin token answered $code" ;;
	esac
}

# stack__proc PID: sets _stk_st (PID's state letter) and _stk_t0 (its start time, field 22 of
# /proc/PID/stat) without a fork; 1 when there is no such process.
stack__proc() {
	_stk_st= _stk_t0=
	{ read -r _stk_l <"/proc/$1/stat"; } 2>/dev/null || return 1
	_stk_l=${_stk_l##*) }
	set -f
	# shellcheck disable=SC2086 # split on purpose: the fields after the name
	set -- $_stk_l
	set +f
	[ $# -ge 20 ] || return 1
	_stk_st=$1
	shift 19
	_stk_t0=$1
}

# stack__same PID START: PID is still the process that started at START and has not
# ended (a zombie has).
stack__same() {
	stack__proc "$1" && [ "$_stk_t0" = "$2" ] && [ "$_stk_st" != Z ]
}

# stack__stop_pid PID SIGNAL SECONDS NAME: signals PID, waits up to SECONDS, then KILLs.
# Sets STACK_STATUS to the exit status when PID was our child (else empty).
# Every signal goes to the process PID named when we were called, known by its start
# time: once it has ended and been reaped its pid is free, and on a busy machine (pid_max
# 32768, suites forking curl and jq side by side) another process may get it within
# the second (the other suite's kaiden-api, say, which a KILL meant for ours would kill
# without a trace). So there is no watchdog: this shell polls, and a KILL is sent only to the
# same process, not yet ended (our child stays a zombie until `wait`, holding its pid).
stack__stop_pid() {
	STACK_STATUS=
	if stack__proc "$1" && [ "$_stk_st" != Z ]; then
		_stk_want=$_stk_t0
		kill "-$2" "$1" 2>/dev/null || true
		_stk_i=0
		while stack__same "$1" "$_stk_want"; do
			if [ "$_stk_i" -ge "$(($3 * 10))" ]; then
				kill -KILL "$1" 2>/dev/null && echo "stack: $4 did not stop in $3 s: killed" >&2
				break
			fi
			sleep 0.1
			_stk_i=$((_stk_i + 1))
		done
	fi
	if wait "$1" 2>/dev/null; then STACK_STATUS=0; else STACK_STATUS=$?; fi
	# 127: not our child (another shell started it); it has ended, by the loop above.
	[ "$STACK_STATUS" -ne 127 ] || STACK_STATUS=
}

# The stop functions act only on what this shell started (the pid variables), never on
# a pid file: a refused second start on the same DIR must not stop the first.
# Every kaiden-api started; STACK_API_STATUS is the first one's exit status.
stack_api_stop() {
	stack__stop_set kaiden-api "${STACK_API_PIDS:-}" "${STACK_API_PID:-}"
	STACK_API_PID=
	STACK_API_PIDS=
	STACK_API_STATUS=$STACK_STATUS
}

# stack__stop_set NAME "I:pid ..." PID: the second and later of NAME, then the first,
# whose pid is PID (the pid variable, which a caller that stopped it itself has
# emptied: "I:pid" words are not looked at for it), TERM and waited for (15 s, then
# KILL), their pid files removed. STACK_STATUS: the first one's exit status ("" if none).
stack__stop_set() {
	for w in $2; do
		[ "${w%%:*}" -ne 1 ] || continue
		rm -f "$STACK_RUN/$(stack__nth "$1" "${w%%:*}").pid"
		stack__stop_pid "${w#*:}" TERM 15 "$1 ${w%%:*}"
	done
	STACK_STATUS=
	[ -n "$3" ] || return 0
	rm -f "$STACK_RUN/$1.pid"
	stack__stop_pid "$3" TERM 15 "$1"
}

stack_nginx_stop() {
	p=${STACK_NGINX_PID:-}
	STACK_NGINX_PID=
	[ -n "$p" ] || return 0
	rm -f "$STACK_RUN/nginx.pid"
	# QUIT: graceful, finishes the requests in flight.
	stack__stop_pid "$p" QUIT 10 nginx
}

# Each step's failure returns at once, even when the caller tests stack_up with || or
# if (where set -e does not apply).
stack_up() {
	stack__check_not_running || return 1
	stack_db_start || return 1
	stack_pgbouncer_start || return 1
	stack_migrate || return 1
	stack_token || return 1
	stack_nginx_render || return 1
	stack_api_start || return 1
	stack_nginx_up || return 1
	stack_token_verify || return 1
}

# stack_nginx_up: stack_nginx_start and stack_wait_ready. A port picked free ("auto") can
# be taken before nginx binds it (another stack starting beside this one, say): found
# busy before the start, or refused at nginx's bind, it is given up for a new one, up to
# 5 times.
stack_nginx_up() {
	tries=0
	while :; do
		if [ -z "$STACK_PORT_AUTO" ] || ! stack_port_busy "$STACK_PORT"; then
			stack_nginx_start || return 1
			stack_wait_ready && return 0
			[ -n "$STACK_PORT_AUTO" ] &&
				grep -q "127.0.0.1:$STACK_PORT failed (98" "$STACK_NGINX_DIR/logs/error.log" ||
				return 1
			stack_nginx_stop
		fi
		tries=$((tries + 1))
		[ "$tries" -lt 5 ] || stack__die "127.0.0.1:$STACK_PORT and 4 other ports were taken" || return 1
		STACK_PORT=$(stack_free_port) || return 1
		STACK_URL=http://127.0.0.1:$STACK_PORT
		echo "stack: the port was taken before nginx could bind it: trying $STACK_PORT" >&2
		stack_nginx_render || return 1
	done
}

# Stops what this shell started, in reverse order; the data stays. Never fails, so
# that it can run from a trap.
stack_stop() {
	[ -n "${STACK_DIR:-}" ] || return 0
	stack_nginx_stop || true
	stack_api_stop || true
	stack_pgbouncer_stop || true
	stack_db_stop || true
}

# ---- PgBouncer ---------------------------------------------------------------------------
# stack_pgbouncer_start (STACK_PGBOUNCER=1, after stack_db_start; the tests' "pgbouncer"
# suite): Debian's pgbouncer in transaction mode between kaiden-api serve and the stack's
# PostgreSQL, in DIR/pgbouncer (pgbouncer.ini, userlist.txt, pgbouncer.log, .pid), on a
# free loopback port and no Unix socket, with 2 server connections for all of
# kaiden-api's workers, so that one worker's transactions do land on different server
# sessions. As user postgres when we are root (PgBouncer refuses root), like PostgreSQL.
# kaiden-api serve then connects to $STACK_POOL_DSN with database.pooler=transaction;
# its admin commands, helperd and the tests' own SQL keep the direct DSNs.
stack_pgbouncer_start() {
	[ -n "${STACK_PGBOUNCER:-}" ] || return 0
	bin=$(command -v pgbouncer 2>/dev/null || echo /usr/sbin/pgbouncer)
	[ -x "$bin" ] || stack__die "pgbouncer is not installed (apt-get install pgbouncer)" || return 1
	pd=$STACK_DIR/pgbouncer
	mkdir -p "$pd" || return 1
	rm -f "$pd/pgbouncer.pid"
	port=$(stack_free_port) || return 1
	printf '"kaiden_api" ""\n' >"$pd/userlist.txt" || return 1
	cat >"$pd/pgbouncer.ini" <<-EOF || return 1
	; Written by stack_pgbouncer_start (scripts/stack.sh).
	[databases]
	kaiden = host=$STACK_DIR/pg port=$(cat "$STACK_DIR/pg/port") dbname=kaiden
	[pgbouncer]
	listen_addr = 127.0.0.1
	listen_port = $port
	unix_socket_dir =
	auth_type = trust
	auth_file = $pd/userlist.txt
	pool_mode = transaction
	default_pool_size = 2
	max_client_conn = 200
	logfile = $pd/pgbouncer.log
	pidfile = $pd/pgbouncer.pid
	EOF
	set -- "$bin" -d -q "$pd/pgbouncer.ini"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres "$pd" || return 1
		set -- runuser -u postgres -- "$@"
	fi
	"$@" || {
		tail -n 5 "$pd/pgbouncer.log" >&2
		stack__die "pgbouncer did not start (log: $pd/pgbouncer.log)"
		return 1
	}
	i=0
	until [ -s "$pd/pgbouncer.pid" ] && stack_port_busy "$port"; do
		if [ "$i" -ge 100 ]; then
			tail -n 5 "$pd/pgbouncer.log" >&2
			stack__die "pgbouncer does not listen on 127.0.0.1:$port (log: $pd/pgbouncer.log)"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	STACK_PGBOUNCER_PID=$(cat "$pd/pgbouncer.pid")
	STACK_POOL_DSN="host=127.0.0.1 port=$port user=kaiden_api dbname=kaiden"
	stack__say "PgBouncer (transaction mode): $STACK_POOL_DSN for kaiden-api serve"
}

# Not our child (it daemonised): TERM, and waited for by its pid.
stack_pgbouncer_stop() {
	p=${STACK_PGBOUNCER_PID:-}
	STACK_PGBOUNCER_PID=
	STACK_POOL_DSN=
	[ -n "$p" ] || return 0
	stack__stop_pid "$p" TERM 10 pgbouncer
}

# ---- kaiden-helperd ---------------------------------------------------------------------
# stack_helperd_start: STACK_HELPERDS kaiden-helperds in background, the first serving
# agents on DIR/run/helperd.sock (the socket nginx proxies /api/v1/ws/ to; the I-th on
# helperd-I.sock) with its Prometheus /metrics on a free loopback port
# ($STACK_METRICS_URL; every one's in $STACK_METRICS_URLS, "I:url" words). Logs go to
# DIR/log/kaiden-helperd[-I].log (STACK_HELPERD_LOG for the first; "-" means the caller's
# stderr). The database settings are the stack's; other KAIDEN_HELPERD_* variables pass
# through. Waits until each serves /metrics and its socket is there.
# stack_helperd_stop: SIGTERM to each, waits (15 s, then KILL); STACK_HELPERD_STATUS is
# the first one's exit status. Call it before stack_stop (which knows only the API,
# nginx and the db).
stack_helperd_start() {
	STACK_HELPERD_BIN=$(dirname "$STACK_BIN")/kaiden-helperd
	[ -x "$STACK_HELPERD_BIN" ] ||
		stack__die "$STACK_HELPERD_BIN is missing: build first (make B=${B:-build})" || return 1
	if [ -n "${STACK_HELPERD_PID:-}" ] && kill -0 "$STACK_HELPERD_PID" 2>/dev/null; then
		stack__die "kaiden-helperd already runs (pid $STACK_HELPERD_PID)"
		return 1
	fi
	STACK_HELPERD_PIDS=
	STACK_METRICS_URLS=
	n=1
	while [ "$n" -le "${STACK_HELPERDS:-1}" ]; do
		if ! stack__helperd_start_one "$n"; then
			stack_helperd_stop >/dev/null 2>&1
			return 1
		fi
		n=$((n + 1))
	done
}

# The I-th helperd. A metrics port picked free can be taken before helperd binds it:
# pick again.
stack__helperd_start_one() {
	tries=0
	while :; do
		stack__helperd_try "$1" && return 0
		tries=$((tries + 1))
		if [ "$tries" -ge 5 ] || [ "$log" = - ] ||
			! grep -q "cannot listen on 127.0.0.1:$mport" "$log"; then
			break
		fi
	done
	[ "$log" = - ] || tail -n 20 "$log" >&2
	stack__die "kaiden-helperd $1 did not start (socket $(stack_helperd_socket "$1"), http://127.0.0.1:$mport/metrics)"
}

# stack_helperd_instance I: the I-th helperd's helperd.instance: of several, each its
# own name in job leases, KAIDEN_HELPERD_INSTANCE (else the host name) and -I; of one,
# what KAIDEN_HELPERD_INSTANCE says (empty: helperd takes the host name).
stack_helperd_instance() {
	if [ "${STACK_HELPERDS:-1}" -gt 1 ]; then
		echo "${KAIDEN_HELPERD_INSTANCE:-$(uname -n)}-$1"
	else
		echo "${KAIDEN_HELPERD_INSTANCE:-}"
	fi
}

# One start of the I-th helperd on a new metrics port; waits until it serves. 0, or 1
# with it stopped.
stack__helperd_try() {
	nth=$1
	mport=$(stack_free_port) || return 1
	murl=http://127.0.0.1:$mport/metrics
	hsock=$(stack_helperd_socket "$nth")
	log=$(stack__log STACK_HELPERD_LOG kaiden-helperd "$nth")
	inst=$(stack_helperd_instance "$nth")
	set -- "$STACK_HELPERD_BIN"
	[ -z "$inst" ] || set -- env KAIDEN_HELPERD_INSTANCE="$inst" "$@"
	if [ "$log" = - ]; then
		KAIDEN_HELPERD_LISTEN="$hsock" KAIDEN_HELPERD_METRICS="127.0.0.1:$mport" \
			"$@" </dev/null >&2 &
	else
		KAIDEN_HELPERD_LISTEN="$hsock" KAIDEN_HELPERD_METRICS="127.0.0.1:$mport" \
			"$@" </dev/null >>"$log" 2>&1 &
	fi
	hpid=$!
	echo "$hpid" >"$STACK_RUN/$(stack__nth kaiden-helperd "$nth").pid"
	i=0
	while ! { [ -S "$hsock" ] && curl -sf -o /dev/null --max-time 2 "$murl"; }; do
		if ! kill -0 "$hpid" 2>/dev/null || [ "$i" -ge 100 ]; then
			rm -f "$STACK_RUN/$(stack__nth kaiden-helperd "$nth").pid"
			stack__stop_pid "$hpid" TERM 15 kaiden-helperd
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	if [ "$nth" -eq 1 ]; then
		STACK_HELPERD_PID=$hpid
		STACK_METRICS_PORT=$mport
		STACK_METRICS_URL=$murl
	fi
	STACK_HELPERD_PIDS="$STACK_HELPERD_PIDS $nth:$hpid"
	STACK_METRICS_URLS="$STACK_METRICS_URLS $nth:$murl"
}

stack_helperd_stop() {
	stack__stop_set kaiden-helperd "${STACK_HELPERD_PIDS:-}" "${STACK_HELPERD_PID:-}"
	STACK_HELPERD_PID=
	STACK_HELPERD_PIDS=
	STACK_HELPERD_STATUS=$STACK_STATUS
}
