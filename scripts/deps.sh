#!/bin/sh
# deps.sh: the Debian packages Kaiden needs, one list per purpose.
#
#   scripts/deps.sh build|run|check|bench   install what is missing (as root), or print
#                                          the apt-get line to run and exit 1
#   scripts/deps.sh packages PURPOSE        print the list (for .ci/run and Dockerfiles)
#   scripts/deps.sh list                    print every list
#
# `run` adds postgresql only when DB=postgres (make run DB=postgres passes it).
# python3 (check): the fake Cloudflare API and fake cloudflared under tests/fakes/.
set -eu

build="gcc make pkg-config libfcgi-dev libjson-c-dev libpq-dev libsqlite3-dev libsodium-dev libyaml-dev check libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libcurl4-openssl-dev"
# curl: scripts/stack.sh waits for /healthz with it; jq: the README's quick start.
run="$build nginx curl jq"
# The integration tests: PostgreSQL for the second pass, jq for JSON assertions, the
# sqlite3 and psql (with postgresql) clients to look at the rows directly; iproute2 for
# ss, with which scripts/pg.sh finds a free port.
check="$build nginx curl postgresql iproute2 jq sqlite3 python3"
bench="$run wrk"

packages_for() {
	case $1 in
	build) echo "$build" ;;
	run)
		if [ "${DB:-sqlite}" = postgres ]; then echo "$run postgresql iproute2"; else echo "$run"; fi
		;;
	check) echo "$check" ;;
	bench) echo "$bench" ;;
	*)
		echo "deps.sh: unknown purpose '$1' (build, run, check, bench)" >&2
		return 1
		;;
	esac
}

usage() {
	echo "usage: scripts/deps.sh build|run|check|bench | packages PURPOSE | list" >&2
	exit 2
}

[ $# -ge 1 ] || usage
case $1 in
list)
	for p in build run check bench; do
		printf '%s: %s\n' "$p" "$(packages_for "$p")"
	done
	printf 'run (DB=postgres): %s\n' "$(DB=postgres packages_for run)"
	exit 0
	;;
packages)
	[ $# -eq 2 ] || usage
	packages_for "$2"
	exit 0
	;;
esac
[ $# -eq 1 ] || usage
want=$(packages_for "$1")

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: not a Debian system; make sure these (or your distribution's equivalents) are installed: $want" >&2
	exit 0
fi

missing=
for p in $want; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || status=
	[ "$status" = "install ok installed" ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing Debian packages for '$1'. Run as root (or with sudo), then try again:" >&2
	echo "apt-get install -y$missing"
	exit 1
fi

echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # one word per package name, on purpose
apt-get install -y $missing
