#!/usr/bin/env bash
# test_docs.sh: docs/architecture.md stays true, as far as a script can tell. Every file
# it names exists; every table it lists as built is created by both databases'
# migrations, and every table it lists as planned is created by neither (build one, and
# this says to move it); the README links it and no longer sends readers to a DESIGN.md
# a clone does not have.
# shellcheck disable=SC2016 # backquotes in patterns here are Markdown's, matched literally
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/scripts/lib.sh
DOC=docs/architecture.md

check "$DOC exists" [ -s "$DOC" ]
check "the README links $DOC" grep -q '(docs/architecture.md)' README.md
check "the README sends nobody to DESIGN.md" [ -z "$(grep -n 'DESIGN\.md' README.md)" ]

# `name.c`, `dir/name.sh`...: a file of the repository (h_<resource>.c is a pattern).
for f in $(grep -o '`[A-Za-z0-9_./-]*\.\(c\|h\|sh\|conf\|in\|yaml\|md\|service\|py\)`' "$DOC" |
	tr -d '`' | sort -u); do
	if [ -e "$f" ] || [ -e "docs/$f" ] ||
		[ -n "$(find . -path ./.git -prune -o -path './build*' -prune -o -name "$(basename "$f")" -print -quit)" ]; then
		ok "$DOC names $f, which exists"
	else
		bad "$DOC names $f" "no such file in the repository"
	fi
done

# exists DIR TABLE: TABLE is there after DIR's migrations, run in order (SQLite rebuilds
# a table as CREATE x_new, DROP x, ALTER TABLE x_new RENAME TO x).
exists() {
	cat "sql/$1"/*.sql | awk -v t="$(echo "$2" | tr a-z A-Z)" '
		{ l = toupper($0) }
		l ~ "^CREATE TABLE " t " [(]" { e = 1 }
		l ~ "^DROP TABLE " t ";" { e = 0 }
		l ~ "RENAME TO " t ";" { e = 1 }
		END { exit !e }'
}
created() { # created TABLE: both databases have it
	exists pg "$1" && exists sqlite "$1"
}
# The data model's table rows: | `name` | what |
built=$(sed -n '/^## Data model/,/^## /s/^| `\([a-z_]*\)` |.*/\1/p' "$DOC")
check "$DOC lists the built tables" [ -n "$built" ]
for t in $built; do
	check "table $t ($DOC: built) is created by both migrations" created "$t"
done
for t in $(grep -hi '^CREATE TABLE' sql/pg/*.sql | awk '{ print $3 }' | sort -u); do
	exists pg "$t" || continue
	check "table $t (sql/pg) is in $DOC's data model" grep -q "^| \`$t\` |" "$DOC"
done
# The planned ones, if any: the backquoted names of the data model's "*Planned:*"
# paragraph (issue 13 built the last ones; the paragraph comes back with the next plan).
planned=$(sed -n '/^## Data model/,/^## /p' "$DOC" | sed -n '/^\*Planned:\*/,/^$/p' |
	grep -o '`[a-z_]*`' | tr -d '`')
for t in $planned; do
	if exists pg "$t" || exists sqlite "$t"; then
		bad "table $t is planned in $DOC" "a migration creates it: move it to the built ones"
	else
		ok "table $t is planned in $DOC and not built"
	fi
done
summary
