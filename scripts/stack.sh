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
#     stack_migrate      kaiden-api migrate (PostgreSQL: as the owner)
#     stack_token        reuse DIR/admin.token, or create one (mode 0600)
#     stack_nginx_render DIR/nginx/nginx.conf from nginx/dev.conf.in + nginx/kaiden.conf
#     stack_api_start    kaiden-api serve --socket DIR/run/kaiden-api.sock, in background
#     stack_nginx_start  nginx -p DIR/nginx -c DIR/nginx/nginx.conf, in background
#     stack_wait_ready   until GET /healthz through nginx answers 200
#     stack_api_stop / stack_nginx_stop / stack_db_stop
#
# Layout of DIR: kaiden.db (sqlite), pg/ (postgres), admin.token, run/ (sockets, pid
# files), log/ (kaiden-api.log), nginx/ (config, logs/, tmp/, nginx.pid), www/ (the
# portal as nginx serves it, rewritten at each render).
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
	STACK_NGINX_PID=
	STACK_DB_STARTED=
	STACK_TOKEN=
	STACK_DB_PATH=
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

# Refuses to start a second stack on the same DIR while the first still runs. With
# arguments: only those pid files.
stack__check_not_running() {
	[ $# -gt 0 ] || set -- "$STACK_RUN/kaiden-api.pid" "$STACK_NGINX_DIR/nginx.pid"
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
	sed -e "s|/run/kaiden/api.sock|$STACK_SOCKET|g" \
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

stack_api_start() {
	stack__check_not_running "$STACK_RUN/kaiden-api.pid" || return 1
	rm -f "$STACK_SOCKET"
	log=${STACK_API_LOG:-$STACK_DIR/log/kaiden-api.log}
	if [ "$log" = - ]; then
		"$STACK_BIN" serve --socket "$STACK_SOCKET" </dev/null >&2 &
	else
		"$STACK_BIN" serve --socket "$STACK_SOCKET" </dev/null >>"$log" 2>&1 &
	fi
	STACK_API_PID=$!
	echo "$STACK_API_PID" >"$STACK_RUN/kaiden-api.pid"
	# The socket appears once kaiden-api is listening.
	i=0
	while [ ! -S "$STACK_SOCKET" ]; do
		if ! kill -0 "$STACK_API_PID" 2>/dev/null || [ "$i" -ge 100 ]; then
			[ "$log" = - ] || tail -n 20 "$log" >&2
			stack__die "kaiden-api did not start listening on $STACK_SOCKET"
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
stack_api_stop() {
	p=${STACK_API_PID:-}
	STACK_API_PID=
	[ -n "$p" ] || return 0
	rm -f "$STACK_RUN/kaiden-api.pid"
	stack__stop_pid "$p" TERM 15 kaiden-api
	STACK_API_STATUS=$STACK_STATUS
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
	stack_db_stop || true
}

# ---- kaiden-helperd ---------------------------------------------------------------------
# stack_helperd_start: kaiden-helperd in background, serving agents on
# DIR/run/helperd.sock (the socket nginx proxies /api/v1/ws/ to) with its Prometheus
# /metrics on a free loopback port ($STACK_METRICS_URL). Its log goes to
# DIR/log/kaiden-helperd.log (STACK_HELPERD_LOG; "-" means the caller's stderr). The
# database settings are the stack's; other KAIDEN_HELPERD_* variables pass through.
# Waits until it serves /metrics and the socket is there.
# stack_helperd_stop: SIGTERM, waits (15 s, then KILL); STACK_HELPERD_STATUS is its
# exit status. Call it before stack_stop (which knows only the API, nginx and the db).
stack_helperd_start() {
	STACK_HELPERD_BIN=$(dirname "$STACK_BIN")/kaiden-helperd
	[ -x "$STACK_HELPERD_BIN" ] ||
		stack__die "$STACK_HELPERD_BIN is missing: build first (make B=${B:-build})" || return 1
	if [ -n "${STACK_HELPERD_PID:-}" ] && kill -0 "$STACK_HELPERD_PID" 2>/dev/null; then
		stack__die "kaiden-helperd already runs (pid $STACK_HELPERD_PID)"
		return 1
	fi
	# A metrics port picked free can be taken before helperd binds it: pick again.
	tries=0
	while :; do
		stack__helperd_try && return 0
		tries=$((tries + 1))
		if [ "$tries" -ge 5 ] || [ "$log" = - ] ||
			! grep -q "cannot listen on 127.0.0.1:$STACK_METRICS_PORT" "$log"; then
			break
		fi
	done
	[ "$log" = - ] || tail -n 20 "$log" >&2
	stack__die "kaiden-helperd did not start (socket $STACK_HELPERD_SOCKET, $STACK_METRICS_URL)"
}

# One start of helperd on a new metrics port; waits until it serves. 0, or 1 with it
# stopped.
stack__helperd_try() {
	STACK_METRICS_PORT=$(stack_free_port) || return 1
	STACK_METRICS_URL=http://127.0.0.1:$STACK_METRICS_PORT/metrics
	log=${STACK_HELPERD_LOG:-$STACK_DIR/log/kaiden-helperd.log}
	if [ "$log" = - ]; then
		KAIDEN_HELPERD_LISTEN="$STACK_HELPERD_SOCKET" \
			KAIDEN_HELPERD_METRICS="127.0.0.1:$STACK_METRICS_PORT" \
			"$STACK_HELPERD_BIN" </dev/null >&2 &
	else
		KAIDEN_HELPERD_LISTEN="$STACK_HELPERD_SOCKET" \
			KAIDEN_HELPERD_METRICS="127.0.0.1:$STACK_METRICS_PORT" \
			"$STACK_HELPERD_BIN" </dev/null >>"$log" 2>&1 &
	fi
	STACK_HELPERD_PID=$!
	echo "$STACK_HELPERD_PID" >"$STACK_RUN/kaiden-helperd.pid"
	i=0
	while ! { [ -S "$STACK_HELPERD_SOCKET" ] &&
		curl -sf -o /dev/null --max-time 2 "$STACK_METRICS_URL"; }; do
		if ! kill -0 "$STACK_HELPERD_PID" 2>/dev/null || [ "$i" -ge 100 ]; then
			stack_helperd_stop >/dev/null 2>&1
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

stack_helperd_stop() {
	p=${STACK_HELPERD_PID:-}
	STACK_HELPERD_PID=
	STACK_HELPERD_STATUS=
	[ -n "$p" ] || return 0
	rm -f "$STACK_RUN/kaiden-helperd.pid"
	stack__stop_pid "$p" TERM 15 kaiden-helperd
	STACK_HELPERD_STATUS=$STACK_STATUS
}
