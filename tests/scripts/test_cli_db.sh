#!/usr/bin/env bash
# test_cli_db.sh: kaiden-api's commands never create a database as a side effect. Only
# `migrate` makes the SQLite file (0600, whatever the umask); every other command, run
# where there is none (a new user's `kaiden-api token create` in the checkout), fails
# saying which file it looked for, from which setting, and to run migrate, and leaves no
# file behind; an empty file gets "not migrated", not "no such table".
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
case $B in /*) API=$B/bin/kaiden-api ;; *) API=$(pwd -P)/$B/bin/kaiden-api ;; esac
. tests/scripts/lib.sh

for v in $(env | sed -n 's/^\(KAIDEN_[A-Za-z0-9_]*\)=.*/\1/p'); do
	unset "$v"
done
T=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir "$T/empty"
printf 'a long passphrase\n' >"$T/pw"

# expect_fail WHAT PATTERN COMMAND...: exit status 1, PATTERN (grep -E) on stderr.
expect_fail() {
	local what=$1 pattern=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qE -- "$pattern" "$T/err"; then
		ok "$what"
	else
		bad "$what" "exit $rc: $(cat "$T/err")"
	fi
}

cd "$T/empty" || exit 1
# shellcheck disable=SC2016 # the backquotes are kaiden-api's, not the shell's
expect_fail "token create without a database says so" \
	'the SQLite database \./kaiden\.db \(database\.path is the default: no config file given, no KAIDEN_DATABASE_PATH\) does not exist: run `kaiden-api migrate`' \
	"$API" token create
expect_fail "user add without a database says so" 'kaiden\.db .* does not exist' \
	"$API" user add --email a@example.com --name A --role admin --password-file "$T/pw"
check "and neither made a file" [ -z "$(ls -A "$T/empty")" ]

printf 'database:\n  path: %s/other.db\n' "$T" >"$T/k.yaml"
expect_fail "the message names the config file the path came from" \
	"$T/other\\.db \\(database\\.path from the file $T/k\\.yaml\\) does not exist" \
	"$API" --config "$T/k.yaml" token create
check "and made no file" [ ! -e "$T/other.db" ]

: >"$T/blank.db"
expect_fail "an empty file is 'not migrated', not 'no such table'" \
	'blank\.db \(database\.path from the environment, KAIDEN_DATABASE_PATH\) is not migrated' \
	env KAIDEN_DATABASE_PATH="$T/blank.db" "$API" token create

(umask 022 && KAIDEN_DATABASE_PATH=$T/new.db "$API" migrate >/dev/null 2>&1)
check "migrate makes the file 0600 under umask 022" [ "$(stat -c %a "$T/new.db" 2>/dev/null)" = 600 ]
if tok=$(KAIDEN_DATABASE_PATH=$T/new.db "$API" token create 2>"$T/err") && [[ $tok == kdn_* ]]; then
	ok "token create works once migrated"
else
	bad "token create works once migrated" "$(cat "$T/err")"
fi
summary
