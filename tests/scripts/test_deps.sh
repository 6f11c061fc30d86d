#!/usr/bin/env bash
# test_deps.sh: scripts/deps.sh waits for another apt's lock, and says so, instead of
# failing at once ("E: Could not get lock /var/lib/dpkg/lock-frontend"); .ci/run fails
# when deps.sh fails or lists nothing. apt-get, dpkg-query, id and make are stubs on PATH
# that record their calls: nothing is installed. The lock is a real POSIX lock (what apt
# takes) on a file of ours (DEPS_LOCK_FILES), held by a helper until the test lets go.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/scripts/lib.sh

T=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-deps.XXXXXX")
HOLDER=
DEPS=
finish() {
	exec 3>&- 2>/dev/null
	for p in $HOLDER $DEPS; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap finish EXIT

mkdir -p "$T/bin"
for tool in apt-get make; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$tool" "$T" >"$T/bin/$tool"
done
# Every package missing, and we are root.
printf '#!/bin/sh\necho "deinstall ok config-files"\n' >"$T/bin/dpkg-query"
printf '#!/bin/sh\necho 0\n' >"$T/bin/id"
chmod +x "$T/bin/"*

# ---- deps.sh waits for the lock -------------------------------------------------------
: >"$T/lock"
mkfifo "$T/hold"
python3 -c '
import fcntl, sys
f = open(sys.argv[1], "w")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()   # until the test closes the pipe
' "$T/lock" <"$T/hold" >"$T/holder.out" &
HOLDER=$!
exec 3>"$T/hold"
for _ in $(seq 100); do grep -qs locked "$T/holder.out" && break; sleep 0.1; done
check "the helper holds the lock" grep -q locked "$T/holder.out"

PATH=$T/bin:$PATH DEPS_LOCK_FILES=$T/lock DEPS_LOCK_WAIT=60 sh scripts/deps.sh run \
	>"$T/deps.out" 2>"$T/deps.err" 3>&- &
DEPS=$!
# Held at the gate: the lock stays ours until deps.sh has said it waits.
for _ in $(seq 100); do
	grep -qs 'waiting for' "$T/deps.err" && break
	kill -0 "$DEPS" 2>/dev/null || break
	sleep 0.1
done
if grep -q "waiting for $T/lock, held by process $HOLDER (python3)" "$T/deps.err"; then
	ok "deps.sh says it waits for the lock, and for whom"
else
	bad "deps.sh says it waits for the lock, and for whom" "$(cat "$T/deps.err")"
fi
check "deps.sh runs no apt-get while the lock is held" [ ! -e "$T/calls" ]
exec 3>&-
wait "$HOLDER"
HOLDER=
if wait "$DEPS"; then ok "deps.sh succeeds once the lock is free"; else bad "deps.sh succeeds once the lock is free" "$(cat "$T/deps.err")"; fi
DEPS=
check "apt-get update waits for the dpkg lock too" grep -q '^apt-get -o DPkg::Lock::Timeout=60 update$' "$T/calls"
check "apt-get install waits for the dpkg lock too" \
	grep -q '^apt-get -o DPkg::Lock::Timeout=60 install -y .*nginx' "$T/calls"

# ---- install: a package another installed package Provides is not asked for -----------
# The machine's Node.js (NodeSource's nodejs) provides npm and conflicts with Debian's
# npm: `install check` must leave npm out, or apt refuses the whole list.
mkdir -p "$T/prov"
cat >"$T/prov/dpkg-query" <<'EOF2'
#!/bin/sh
# -W -f=FORMAT [PACKAGE]: nodejs installed (providing npm), everything else missing.
case "$*" in
*'${Provides}'*) echo 'install ok installed|nodejs-legacy, npm (= 10.9.0)' ;;
*' nodejs') echo 'install ok installed' ;;
*) echo 'deinstall ok config-files' ;;
esac
EOF2
chmod +x "$T/prov/dpkg-query"
: >"$T/calls"
PATH=$T/prov:$T/bin:$PATH DEPS_LOCK_FILES=$T/lock DEPS_LOCK_WAIT=5 sh scripts/deps.sh install check \
	>"$T/deps.out" 2>"$T/deps.err"
inst=$(grep ' install -y ' "$T/calls")
check "install check asks apt for the list (chromium among it)" grep -q ' chromium ' <<<"$inst "
if grep -q ' npm' <<<"$inst"; then
	bad "install check leaves out npm, which nodejs provides" "$inst"
else
	ok "install check leaves out npm, which nodejs provides"
fi

# ---- .ci/run ---------------------------------------------------------------------------
# A copy of .ci/run beside a fake deps.sh that fails, lists nothing, or works.
mkdir -p "$T/repo/.ci" "$T/repo/scripts"
cp .ci/run "$T/repo/.ci/run"
cat >"$T/repo/scripts/deps.sh" <<FAKE
#!/bin/sh
echo "deps.sh \$*" >>"$T/calls"
case \$FAKE_DEPS in
fail) echo "deps.sh: broken" >&2; exit 1 ;;
empty) exit 0 ;;
esac
[ "\$1" = packages ] && echo "gcc make"
exit 0
FAKE
for mode in fail empty; do
	rm -f "$T/calls"
	if PATH=$T/bin:$PATH FAKE_DEPS=$mode bash "$T/repo/.ci/run" >"$T/ci.out" 2>&1; then
		bad ".ci/run fails when deps.sh packages check is $mode" "it exited 0"
	else
		ok ".ci/run fails when deps.sh packages check is $mode"
	fi
	check ".ci/run ($mode) runs no apt-get and no make" [ -z "$(grep -E '^(apt-get|make)' "$T/calls")" ]
done
rm -f "$T/calls"
if PATH=$T/bin:$PATH FAKE_DEPS=ok bash "$T/repo/.ci/run" >"$T/ci.out" 2>&1; then
	ok ".ci/run passes with a package list"
else
	bad ".ci/run passes with a package list" "$(cat "$T/ci.out")"
fi
check ".ci/run installs through deps.sh, then runs exactly make check" \
	[ "$(grep -v '^deps.sh packages' "$T/calls" | tr '\n' '|')" = "deps.sh install check|make check|" ]
summary
