#!/bin/sh
# deps.sh: the Debian packages Kaiden needs, one list per purpose.
#
#   scripts/deps.sh build|run|check|bench|fuzz   install what is missing (as root), or
#                                               print the apt-get line to run and exit 1
#   scripts/deps.sh install PURPOSE              install the whole list (as root; .ci/run)
#   scripts/deps.sh packages PURPOSE             print the list (for .ci/run, Dockerfiles:
#                                               image-server, image-agent)
#   scripts/deps.sh list                         print every list
#
# Another apt may hold the package locks (unattended-upgrades on a fresh VM, cloud-init):
# deps.sh then waits for them, up to DEPS_LOCK_WAIT seconds (600), and says which process
# it waits for. DEPS_LOCK_FILES names the lock files (the tests point it elsewhere).
#
# `run` adds postgresql only when DB=postgres (make run DB=postgres passes it).
# python3 (check): the fake Cloudflare API and fake cloudflared under tests/fakes/.
set -eu

build="gcc make pkg-config libfcgi-dev libjson-c-dev libpq-dev libsqlite3-dev libsodium-dev libyaml-dev check libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libcurl4-openssl-dev libwslay-dev"
# curl: scripts/stack.sh waits for /healthz with it; jq: the README's quick start.
run="$build nginx curl jq"
# The integration tests: PostgreSQL for the second pass, jq for JSON assertions, the
# sqlite3 and psql (with postgresql) clients to look at the rows directly; iproute2 for
# ss, with which scripts/pg.sh finds a free port.
# python3-websockets: the fake helperd connect endpoint (tests/fakes/fake_helperd_connect.py).
# openssh-server and openssh-client: the relay's tests and benchmark run a private sshd
# as the customer's SSH and a real ssh client through kaiden-connect
# (tests/integration/sshd.sh); python3 serves their web target.
# npm: make check's `npm ci` of tests/package-lock.json (axe-core, the accessibility
# rules the portal's browser test runs).
# python3-yaml, python3-jsonschema: tests/scripts/test_k8s.sh validates deploy/k8s/ with
# shared/ref/k8s-schemas/validate.py.
# fonts-noto-color-emoji: the marketplace's application icons are emoji (catalog.yaml);
# without a font that has them, chromium draws boxes in the portal's screenshots.
# pgbouncer: the integration suite "pgbouncer" puts it, in transaction mode, between
# kaiden-api and PostgreSQL (scripts/stack.sh, stack_pgbouncer_start); the package's own
# service is not used.
# gojq: the integration suites' jq (tests/integration/lib.sh): the same language, started
# in a tenth of jq 1.6's time; jq itself where the order of an object's keys matters.
check="$build nginx curl postgresql pgbouncer iproute2 jq gojq sqlite3 python3 python3-websockets openssh-server openssh-client chromium chromium-driver python3-selenium npm python3-yaml python3-jsonschema fonts-noto-color-emoji"
# chromium, chromium-driver, python3-selenium: tests/bench/portal.sh loads the portal.
bench="$run wrk openssh-server openssh-client python3 chromium chromium-driver python3-selenium"
# make fuzz: clang and its libFuzzer/sanitizer runtimes (the libclang-rt of clang 14, the
# version Debian 12's clang is).
fuzz="$build clang libclang-rt-14-dev"
# The container images' runtime stage (deploy/docker/*.Dockerfile, on debian:12-slim):
# the packages of the shared libraries each program links (the runtime side of $build's
# -dev packages; tests/scripts/test_k8s.sh checks them against the built binaries),
# libwebsockets-evlib-uv (the plugin libwebsockets loads for helperd's libuv loop),
# ca-certificates (the system's CAs: Cloudflare, the agent's server, a PostgreSQL DSN's
# sslrootcert=/etc/ssl/certs/ca-certificates.crt) and the server's nginx. The agent has
# no libcurl4: its Kubernetes API reads use libwebsockets' HTTP client (agent/k8s_get.h,
# issue 14); its libssl3: it sets up its trust in OpenSSL's store itself (agent/trust.h);
# its libwslay1: the relay's data sockets frame with wslay (agent/wsc.h).
image_server="libfcgi0ldbl libjson-c5 libpq5 libsqlite3-0 libsodium23 libyaml-0-2 libwebsockets17 libwebsockets-evlib-uv libuv1 libcurl4 ca-certificates nginx"
image_agent="libwebsockets17 libwslay1 libssl3 libjson-c5 libsodium23 libyaml-0-2 ca-certificates"

packages_for() {
	case $1 in
	build) echo "$build" ;;
	run)
		if [ "${DB:-sqlite}" = postgres ]; then echo "$run postgresql iproute2"; else echo "$run"; fi
		;;
	check) echo "$check" ;;
	bench) echo "$bench" ;;
	fuzz) echo "$fuzz" ;;
	image-server) echo "$image_server" ;;
	image-agent) echo "$image_agent" ;;
	*)
		echo "deps.sh: unknown purpose '$1' (build, run, check, bench, fuzz, image-server, image-agent)" >&2
		return 1
		;;
	esac
}

usage() {
	echo "usage: scripts/deps.sh build|run|check|bench|fuzz | install PURPOSE | packages PURPOSE | list" >&2
	exit 2
}

[ $# -ge 1 ] || usage
case $1 in
list)
	for p in build run check bench fuzz image-server image-agent; do
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
LOCK_FILES=${DEPS_LOCK_FILES:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock}
LOCK_WAIT=${DEPS_LOCK_WAIT:-600}

# The pid holding a POSIX lock (what apt and dpkg take) on file $1, from /proc/locks:
# "N: POSIX ADVISORY WRITE PID MAJ:MIN:INODE START END"; waiters' lines ("N: -> ...")
# do not count.
lock_holder() {
	ino=$(stat -c %i "$1" 2>/dev/null) || return 1
	awk -v ino="$ino" '$2 != "->" { n = split($6, a, ":"); if (n == 3 && a[3] == ino) { print $5; found = 1; exit } }
		END { exit !found }' /proc/locks 2>/dev/null
}

# Waits until no process holds any of the lock files, saying so while it waits.
locks_wait() {
	waited=0
	for f in $LOCK_FILES; do
		said=
		while pid=$(lock_holder "$f"); do
			if [ "$said" != "$pid" ] || [ $((waited % 30)) -eq 0 ]; then
				echo "deps.sh: waiting for $f, held by process $pid ($(cat "/proc/$pid/comm" 2>/dev/null || echo '?')): another apt or dpkg is at work (on a fresh machine, unattended-upgrades); waited ${waited}s of ${LOCK_WAIT}s" >&2
				said=$pid
			fi
			if [ "$waited" -ge "$LOCK_WAIT" ]; then
				echo "deps.sh: $f is still held by process $pid after ${LOCK_WAIT}s; try again when it is done (or raise DEPS_LOCK_WAIT)" >&2
				return 1
			fi
			sleep 1
			waited=$((waited + 1))
		done
	done
}

# apt-get update, then install the packages given, after the locks are free. apt-get
# also waits itself for the dpkg lock (DPkg::Lock::Timeout), should another apt take it
# between the two.
apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	locks_wait || return 1
	apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT" update || return 1
	locks_wait || return 1
	apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT" install -y "$@"
}

# The packages of $* that no installed package Provides without being them: nodejs from
# NodeSource (the machine's Node.js) provides npm and conflicts with Debian's, so asking
# apt for npm there would fail (or remove the machine's Node.js).
provided=
not_provided() {
	for p in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || status=
		if [ "$status" != "install ok installed" ]; then
			if [ -z "$provided" ]; then
				provided=" $(dpkg-query -W -f='${Status}|${Provides}\n' 2>/dev/null |
					sed -n 's/^install ok installed|//p' | tr ',' '\n' |
					sed 's/^ *//; s/ .*//' | sort -u | tr '\n' ' ')"
			fi
			case $provided in *" $p "*) continue ;; esac
		fi
		printf '%s ' "$p"
	done
}

if [ "$1" = install ]; then
	[ $# -eq 2 ] || usage
	want=$(packages_for "$2")
	[ -n "$want" ] || { echo "deps.sh: no package listed for '$2'" >&2; exit 1; }
	# shellcheck disable=SC2086 # one word per package name, on purpose
	command -v dpkg-query >/dev/null 2>&1 && want=$(not_provided $want)
	# shellcheck disable=SC2086 # one word per package name, on purpose
	apt_install $want
	exit
fi
[ $# -eq 1 ] || usage
want=$(packages_for "$1")

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: not a Debian system; make sure these (or your distribution's equivalents) are installed: $want" >&2
	exit 0
fi

# A package counts as there when it is installed, or when an installed package
# Provides it (not_provided above).
missing=
# shellcheck disable=SC2086 # one word per package name, on purpose
for p in $(not_provided $want); do
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
# shellcheck disable=SC2086 # one word per package name, on purpose
apt_install $missing
