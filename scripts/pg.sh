#!/bin/sh
# pg.sh: a private, throwaway PostgreSQL cluster for tests and `make run DB=postgres`.
#
#   scripts/pg.sh start DIR   initialise DIR (first time only), start the server, print
#                             the owner's conninfo on stdout and write it to DIR/dsn (and
#                             the application's to DIR/app_dsn)
#   scripts/pg.sh stop DIR    stop it (fast shutdown); DIR stays, so start reuses it
#   scripts/pg.sh dsn DIR     print the owner's conninfo of a running cluster
#   scripts/pg.sh app-dsn DIR print the application's conninfo of a running cluster
#
# Layout of DIR:  data/ (PGDATA), server.log, port, dsn, app_dsn, roles.log, and the Unix
# socket (.s.PGSQL.<port>). The server listens on that Unix socket and on 127.0.0.1, on a free
# TCP port chosen at the first start and kept while it stays free. Authentication is
# `trust` (loopback only, throwaway data); the superuser is `postgres` and a database
# `kaiden` is created. The conninfo is `host='DIR' port=N user=postgres dbname=kaiden`:
# the Unix socket, because on loopback it costs less per round trip than TCP (see
# docs/benchmarks.md); `host=127.0.0.1 port=N ...` reaches the same server over TCP.
#
# Two roles, as production has them (sql/pg/0006_rls.sql): `postgres` owns the schema
# and runs the migrations (KAIDEN_DATABASE_OWNER_DSN); the application connects as
# `kaiden_api` (LOGIN, a member of the group role kaiden_app, owning nothing, so that
# row-level security holds for it: KAIDEN_DATABASE_DSN). Both are made at every start if
# missing: roles belong to the cluster, so one start serves every database and schema
# in it.
#
# Durability is off (fsync, synchronous_commit, full_page_writes): this cluster is for
# tests and development, never for data anyone keeps. The cluster is made with
# --no-locale (C collation, UTF8), so lower()/upper() fold ASCII only, like SQLite's.
#
# Running as root: PostgreSQL refuses to run as root, so the server runs as the `postgres`
# system user (via runuser, or su). DIR is chown'ed to postgres. postgres must be able to
# traverse every parent directory of DIR: directories this script creates get o+x
# (traverse, not list); an existing parent that postgres cannot traverse is given o+x only
# when it lies under /tmp or $TMPDIR (a mktemp -d directory is 0700); anywhere else the
# script stops and names the directory rather than loosen permissions it does not own.
set -eu

die() { echo "pg.sh: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: pg.sh start|stop|dsn|app-dsn DIR"
cmd=$1
dir=$2

bindir=
for d in /usr/lib/postgresql/*/bin; do
	[ -x "$d/pg_ctl" ] && bindir=$d   # the glob sorts, so the newest version wins
done
[ -n "$bindir" ] || die "no PostgreSQL server found under /usr/lib/postgresql/*/bin (apt-get install postgresql)"

is_root=0
[ "$(id -u)" -eq 0 ] && is_root=1

# Runs a command as the user that owns the cluster.
as_pg() {
	if [ "$is_root" -eq 1 ]; then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u postgres -- "$@"
		else
			# su needs one command string: quote each argument.
			q=
			for a in "$@"; do
				q="$q '$(printf '%s' "$a" | sed "s/'/'\\\\''/g")'"
			done
			su -s /bin/sh postgres -c "$q"
		fi
	else
		"$@"
	fi
}

# Makes dir absolute, creating it (and recording what we created for the o+x rule).
prepare_dir() {
	created=
	p=
	case $dir in /*) ;; *) dir="$(pwd)/$dir" ;; esac
	# Walk down from / creating what is missing.
	rest=${dir#/}
	p=
	old_ifs=$IFS
	IFS=/
	for c in $rest; do
		[ -n "$c" ] || continue
		p="$p/$c"
		if [ ! -d "$p" ]; then
			mkdir "$p"
			created="$created
$p"
		fi
	done
	IFS=$old_ifs
	dir=$(cd "$dir" && pwd -P)
	[ "$is_root" -eq 1 ] || return 0

	getent passwd postgres >/dev/null || die "running as root but there is no 'postgres' user"
	tmproot=$(cd "${TMPDIR:-/tmp}" 2>/dev/null && pwd -P || echo /tmp)
	# Every parent of DIR must be traversable by postgres.
	p=$(dirname "$dir")
	while :; do
		if ! runuser -u postgres -- test -x "$p" 2>/dev/null; then
			mine=0
			printf '%s\n' "$created" | grep -Fxq -- "$p" && mine=1
			case "$p/" in /tmp/*|"$tmproot"/*) mine=1 ;; esac
			[ "$mine" -eq 1 ] || die "user postgres cannot enter $p: choose a DIR under /tmp, or run: chmod o+x $p"
			chmod o+x "$p"
		fi
		[ "$p" = / ] && break
		p=$(dirname "$p")
	done
	chown postgres "$dir"
	chmod 0700 "$dir"
}

port_in_use() {
	if command -v ss >/dev/null 2>&1; then
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
	else
		# Without ss, a refused connection means nobody listens.
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

pick_port() {
	# A pseudo-random start spreads parallel runs apart; then walk to a free one. Below
	# the kernel's ephemeral range, where outgoing connections take their ports (one of
	# them could take ours between this probe and the server's bind).
	low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || low=32768
	[ "${low:-0}" -gt 12000 ] || low=32768
	base=$(( low - 10000 ))
	n=$(( ( $$ * 7919 + $(date +%s) ) % 10000 + base ))
	i=0
	while [ $i -lt 200 ]; do
		if ! port_in_use "$n"; then
			echo "$n"
			return 0
		fi
		n=$(( n + 1 ))
		[ $n -lt "$low" ] || n=$base
		i=$(( i + 1 ))
	done
	die "no free TCP port found on 127.0.0.1"
}

# The conninfo for port $1; $dir must be absolute. In a conninfo value quoted with '',
# a ' or a \ is escaped with a \.
# $2: the role (default postgres).
dsn_of() {
	qhost=$(printf '%s' "$dir" | sed "s/[\\\\']/\\\\&/g")
	echo "host='$qhost' port=$1 user=${2:-postgres} dbname=kaiden"
}

APP_ROLE=kaiden_api

# The application's roles, idempotently (see the top). GRANT of a membership held
# already is a notice, not an error.
ensure_roles() {
	as_pg "$bindir/psql" -X -q -h "$dir" -p "$1" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-c "DO \$\$ BEGIN
			IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kaiden_app') THEN
				CREATE ROLE kaiden_app NOLOGIN;
			END IF;
			IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_ROLE') THEN
				CREATE ROLE $APP_ROLE LOGIN NOSUPERUSER NOBYPASSRLS;
			END IF;
		END \$\$" \
		-c "GRANT kaiden_app TO $APP_ROLE" >"$dir/roles.log" 2>&1 || {
		cat "$dir/roles.log" >&2
		die "could not create the roles kaiden_app and $APP_ROLE"
	}
}

# Writes DIR/dsn and DIR/app_dsn for port $1 and prints the owner's.
write_dsns() {
	dsn_of "$1" >"$dir/dsn"
	dsn_of "$1" "$APP_ROLE" >"$dir/app_dsn"
	cat "$dir/dsn"
}

running() {
	[ -f "$dir/data/postmaster.pid" ] && as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

start() {
	prepare_dir
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		rm -rf "$dir/data"
		as_pg "$bindir/initdb" --nosync -A trust -U postgres -E UTF8 --no-locale \
			-D "$dir/data" >"$dir/initdb.log" 2>&1 || {
			cat "$dir/initdb.log" >&2
			die "initdb failed in $dir/data"
		}
		# Settings that do not change between starts; the port goes in kaiden.conf.
		cat >>"$dir/data/postgresql.conf" <<-EOF

		# added by scripts/pg.sh: a throwaway cluster for tests
		listen_addresses = '127.0.0.1'
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		max_connections = 200
		shared_buffers = 32MB
		deadlock_timeout = 200ms
		log_min_messages = warning
		log_min_error_statement = panic
		include_if_exists = 'kaiden.conf'
		EOF
	fi
	if running; then
		port=$(cat "$dir/port")
		ensure_roles "$port"
		write_dsns "$port"
		return 0
	fi
	tries=0
	while :; do
		port=
		if [ -f "$dir/port" ]; then
			port=$(cat "$dir/port")
			port_in_use "$port" && port=
		fi
		[ -n "$port" ] || port=$(pick_port)
		# The socket directory is DIR: quote it for postgresql.conf.
		qdir=$(printf '%s' "$dir" | sed "s/'/''/g")
		printf "port = %s\nunix_socket_directories = '%s'\n" "$port" "$qdir" >"$dir/data/kaiden.conf"
		[ "$is_root" -eq 0 ] || chown postgres "$dir/data/kaiden.conf"
		echo "$port" >"$dir/port"
		if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
			break
		fi
		tries=$((tries + 1))
		# Someone may have taken the port between the check and the start: try another.
		rm -f "$dir/port"
		[ $tries -lt 5 ] || { tail -n 20 "$dir/server.log" >&2 2>/dev/null; die "PostgreSQL did not start (see $dir/server.log)"; }
	done
	# The kaiden database, once.
	if ! as_pg "$bindir/psql" -X -q -h "$dir" -p "$port" -U postgres -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'kaiden'" | grep -q 1; then
		as_pg "$bindir/createdb" -h "$dir" -p "$port" -U postgres kaiden ||
			die "could not create database kaiden"
	fi
	ensure_roles "$port"
	write_dsns "$port"
}

stop() {
	case $dir in /*) ;; *) dir="$(pwd)/$dir" ;; esac
	[ -d "$dir/data" ] || return 0
	if running; then
		as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null ||
			die "pg_ctl stop failed for $dir/data"
	fi
}

case $cmd in
start) start ;;
stop) stop ;;
dsn)
	running || die "no cluster running in $dir"
	dir=$(cd "$dir" && pwd -P)
	dsn_of "$(cat "$dir/port")"
	;;
app-dsn)
	running || die "no cluster running in $dir"
	dir=$(cd "$dir" && pwd -P)
	dsn_of "$(cat "$dir/port")" "$APP_ROLE"
	;;
*) die "usage: pg.sh start|stop|dsn|app-dsn DIR" ;;
esac
