# shellcheck shell=sh
# lib.sh: the integration cases' vocabulary. Sourced by suite.sh after scripts/stack.sh;
# every case file (case-*.sh) is a table of these calls, run in order in one shell, so a
# case may use what an earlier one saved. POSIX sh.
#
#   t NAME METHOD PATH BODY STATUS [JQ...]   authorised request (JSON body if BODY is not
#                                            empty; @FILE sends a file), then expect
#   raw METHOD PATH [CURL-ARGS...]           a request with nothing added (no token)
#   call METHOD PATH [BODY]                  the request half of t ($CALL_HEADER: one
#                                            more header)
#   expect NAME STATUS [JQ...]               one test: the last reply had STATUS, a JSON
#                                            body when it had one, and each jq -e holds
#   header NAME ERE                          one test: a header line of the last reply
#                                            matches ERE (lower-case names, no CR)
#   save VAR JQ                              VAR=jq -r JQ of the last body
#   E CODE [FIELD]                           jq for {"error":{"code","message"[,"field"]}}
#   dbq SQL                                  runs SQL on the suite's database directly
#   dbcheck NAME SQL WANT                    one test: dbq SQL prints exactly WANT
#   wait_for NAME SECONDS SQL WANT           one test: dbq SQL prints WANT within SECONDS
#   metric NAME                              a series' value on helperd's /metrics
#   appq TENANT STAFF SQL                    PostgreSQL: SQL as the application's role,
#                                            row-level security's settings made
#   appcheck NAME TENANT STAFF SQL WANT      one test: appq prints exactly WANT
#   snap / unchanged NAME                    row counts before / one test that none moved
#   cli NAME VAR ARGS...                     one test: kaiden-api ARGS succeeds; VAR gets
#                                            its stdout
#   ok NAME / bad NAME WHY                   record a result by hand
#   api_restart NAME                         one test: kaiden-api restarted with the
#                                            environment as it is now, ready behind nginx
#   fake_cf_start NAME LOG TOKEN ACCOUNT ZONE [ARGS]  one test: the fake Cloudflare API
#                                            runs ($CF_URL); cf METHOD PATH [BODY] is its
#                                            control API; hold_arm / hold_wait /
#                                            hold_release hold one of its calls
#
# Results: PASS and FAIL counters; a failure prints its name, why, the request and the
# head of the body. VERBOSE=1 prints passes too.

# jq is gojq (Debian's package: the same language) when it is installed. Debian 12's jq
# 1.6 spends some 40 ms of a core compiling its library of builtins each time it starts,
# gojq about 3, and the suites start it thousands of times (perf over make check,
# 2026-12-04: jq 12% of all the CPU, with one jq an expect). gojq keeps no order of an
# object's keys (it sorts them), so a filter whose answer depends on that order
# (keys_unsorted, which gojq lacks, to_entries, tojson, tostring, @json) and -S go to
# jq itself; so does a body built for the API whose order a later check reads
# (`command jq`). Without gojq, jq is jq.
if command -v gojq >/dev/null 2>&1; then
	jq() {
		for _jq_a in "$@"; do
			case $_jq_a in
			-S | *keys_unsorted* | *to_entries* | *tojson* | *tostring* | *@json*)
				command jq "$@"
				return
				;;
			esac
		done
		gojq "$@"
	}
fi

PASS=0
FAIL=0
CODE=000
LAST=

ok() {
	PASS=$((PASS + 1))
	[ -z "${VERBOSE:-}" ] || echo "  ok   ${SUITE_NAME:-$SUITE_DB}: $1"
}

bad() {
	FAIL=$((FAIL + 1))
	echo "  FAIL ${SUITE_NAME:-$SUITE_DB}: $1: $2"
	[ -z "$LAST" ] || echo "       request: $LAST -> $CODE"
	if [ -s "$T/body" ]; then
		printf '       body: %s\n' "$(head -c 300 "$T/body" | tr '\n' ' ')"
	fi
}

# sanitizer_clean DIR: one test: no AddressSanitizer, LeakSanitizer or UBSan report in
# the logs under DIR (the daemons' and agents' stderr). Under SAN=1 a report in a daemon
# that went on running, or one printed at its exit, fails no request by itself.
sanitizer_clean() {
	_hits=$(grep -rlIE 'ERROR: (Address|Leak)Sanitizer|runtime error: ' "$1" 2>/dev/null |
		grep -v '/pg/' || :)
	if [ -z "$_hits" ]; then
		ok "no sanitizer report in the logs"
	else
		LAST=
		bad "no sanitizer report in the logs" "$(echo $_hits)"
		for _f in $_hits; do
			grep -m 3 -A 8 -E 'ERROR: (Address|Leak)Sanitizer|runtime error: ' "$_f" |
				sed 's/^/  | /'
		done
	fi
}

# batch IN OUT: the requests listed in IN, one a line "METHOD<TAB>PATH<TAB>BODY" (BODY
# may be empty: then none is sent; a JSON body goes as application/json), made with the
# suite's token (and $CALL_HEADER) by one curl over one kept-alive connection, in order.
# OUT gets each request's line with its status prepended ("CODE<TAB>METHOD<TAB>PATH"; 000
# for a request that got no answer). For the long matrices (case-88), where a curl and its
# helpers started for each of thousands of requests took most of the suite's time; the
# checks stay the caller's. The token is in a config file under $T, never on argv.
batch() {
	awk -F '\t' -v url="$STACK_URL" -v tok="$STACK_TOKEN" -v hdr="${CALL_HEADER:-}" '
		function q(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
		{
			if (NR > 1) print "next"
			print "url = " q(url $2)
			print "request = " q($1)
			print "header = " q("Authorization: Bearer " tok)
			if (hdr != "") print "header = " q(hdr)
			if ($3 != "") { print "header = \"Content-Type: application/json\""; print "data-binary = " q($3) }
			print "output = \"/dev/null\""
			print "max-time = 30"
			print "write-out = \"%{http_code}\\n\""
		}' "$1" >"$T/batch.cfg"
	curl -sS -K "$T/batch.cfg" >"$T/batch.codes" 2>"$T/curl.err" || :
	# A request that got no answer wrote no code: pad to one line a request.
	awk -F '\t' 'NR == FNR { c[FNR] = $0; next }
		{ printf "%s\t%s\t%s\n", (FNR in c && c[FNR] != "") ? c[FNR] : "000", $1, $2 }' \
		"$T/batch.codes" "$1" >"$2"
	rm -f "$T/batch.cfg"
}

# raw METHOD PATH [curl args...]
raw() {
	_method=$1
	_path=$2
	shift 2
	LAST="$_method $_path"
	# Emptied by the shell rather than removed and touched: every request of every case
	# goes through here, and a process less each adds up.
	: >"$T/body"
	: >"$T/headers"
	# curl --head never reads a body (and would write the headers to -o).
	_out=$T/body
	if [ "$_method" = HEAD ]; then
		set -- --head "$@"
		_out=/dev/null
	else
		set -- -X "$_method" "$@"
	fi
	CODE=$(curl -sS --max-time 30 -o "$_out" -D "$T/headers" -w '%{http_code}' \
		"$@" "$STACK_URL$_path" 2>"$T/curl.err") || CODE=000
	awk '{ sub(/\r$/, ""); print tolower($0) }' "$T/headers" >"$T/headers.lc"
}

# call METHOD PATH [BODY]: with the suite's token (and the header in $CALL_HEADER, when
# a case sets one: "X-Kaiden-Tenant: acme"); a body goes as application/json.
call() {
	if [ -n "${CALL_HEADER:-}" ]; then
		set -- "$1" "$2" "${3:-}" -H "$CALL_HEADER"
	else
		set -- "$1" "$2" "${3:-}"
	fi
	_cm=$1
	_cp=$2
	_cb=$3
	shift 3
	if [ -n "$_cb" ]; then
		raw "$_cm" "$_cp" -H "Authorization: Bearer $STACK_TOKEN" "$@" \
			-H 'Content-Type: application/json' --data-binary "$_cb"
	else
		raw "$_cm" "$_cp" -H "Authorization: Bearer $STACK_TOKEN" "$@"
	fi
}

# jq_holds FILE JQ...: prints nothing when FILE holds one JSON value on which every JQ
# holds as `jq -e JQ` would have it (its last output neither false nor null, no error);
# else why not: the body is not JSON, or the first JQ that does not hold. One jq for the
# lot: jq 1.6 takes some 40 ms of a core to start, and run once per expression it was
# the largest part of the integration suites' CPU (perf, 2026-12-04).
jq_holds() {
	_jf=$1
	shift
	_jp=
	for _je in "$@"; do
		# On lines of its own, so that a comment in it ends with its line.
		_jp="$_jp${_jp:+,}(try ([
$_je
] | length > 0 and (last | . != false and . != null)) catch false)"
	done
	_jr=$(jq -c "${_jp:-true}" "$_jf" 2>"$T/jq.err")
	# Every check is inside a try: what else fails is the input (a parse error: jq
	# 1.6 exits 2 or 4 for it) or a check that does not compile (3).
	case $? in
	0) ;;
	3) echo "a check does not compile: $(head -c 200 "$T/jq.err")"; return ;;
	*) echo "the body is not JSON"; return ;;
	esac
	[ $# -gt 0 ] || { [ "$_jr" = true ] || echo "the body is not one JSON value"; return; }
	_jr="$_jr
"
	for _je in "$@"; do
		_jl=${_jr%%"
"*}
		_jr=${_jr#*"
"}
		[ "$_jl" = true ] || { echo "does not hold: $_je"; return; }
	done
	[ -z "$_jr" ] || echo "the body is not one JSON value"
}

expect() {
	_name=$1
	_want=$2
	shift 2
	_why=
	if [ "$CODE" != "$_want" ]; then
		_why="status $CODE, want $_want"
		[ "$CODE" != 000 ] || _why="$_why ($(head -c 200 "$T/curl.err"))"
	elif [ -s "$T/body" ] && ! grep -q '^content-type: application/json' "$T/headers.lc"; then
		_why="Content-Type is not application/json"
	elif [ -s "$T/body" ] || [ $# -gt 0 ]; then
		_why=$(jq_holds "$T/body" "$@")
	fi
	if [ -z "$_why" ]; then ok "$_name"; else bad "$_name" "$_why"; fi
}

t() {
	_tname=$1
	_tmethod=$2
	_tpath=$3
	_tbody=$4
	_tstatus=$5
	shift 5
	call "$_tmethod" "$_tpath" "$_tbody"
	expect "$_tname" "$_tstatus" "$@"
}

header() {
	if grep -Eq -- "$2" "$T/headers.lc"; then
		ok "$1"
	else
		bad "$1" "no header line matches /$2/ ($(tr '\n' '|' <"$T/headers.lc"))"
	fi
}

# The value of header $1 (any case) in the last reply, CR stripped.
hval() {
	tr -d '\r' <"$T/headers" | awk -v h="$1" '
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == tolower(h)) {
			v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }'
}

save() {
	case $1 in *[!A-Za-z0-9_]* | '') echo "save: bad variable name '$1'" >&2; return 1 ;; esac
	_v=$(jq -r "$2" "$T/body" 2>/dev/null) || _v=
	eval "$1=\$_v"
}

# jq that holds for an error reply with this code (and field, or none).
E() {
	_f='.error.field == null'
	[ $# -lt 2 ] || _f=".error.field == \"$2\""
	echo "(.error.code == \"$1\") and (.error.message | type == \"string\" and length > 0) and $_f"
}

# SQL as the test's observer: on PostgreSQL the owner (superuser), which row-level security
# does not filter (the application's role sees only the tenant it sets).
dbq() {
	if [ "$SUITE_DB" = sqlite ]; then
		sqlite3 -batch -noheader -cmd '.timeout 5000' "$STACK_DB_PATH" "$1"
	else
		psql -X -A -t -q -v ON_ERROR_STOP=1 -d "${KAIDEN_DATABASE_OWNER_DSN:-$KAIDEN_DATABASE_DSN}" -c "$1"
	fi
}

dbcheck() {
	_got=$(dbq "$2" 2>&1) || _got="(query failed) $_got"
	if [ "$_got" = "$3" ]; then
		ok "$1"
	else
		LAST="SQL $2"
		CODE=-
		bad "$1" "got '$_got', want '$3'"
	fi
}

# wait_for NAME SECONDS SQL WANT: one test: dbq SQL prints WANT within SECONDS (polled
# every 0.1 s). Returns 0 either way: the suite runs under set -e, and a failed test is
# counted, not fatal.
wait_for() {
	_i=0
	_limit=$(($2 * 10))
	while :; do
		_got=$(dbq "$3" 2>&1) || _got="(query failed) $_got"
		if [ "$_got" = "$4" ]; then
			ok "$1"
			return 0
		fi
		if [ "$_i" -ge "$_limit" ]; then
			LAST="SQL $3"
			CODE=-
			bad "$1" "after $2 s got '$_got', want '$4'"
			return 0
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
}

# metric NAME: the value of one series in helperd's /metrics (empty if none).
metric() {
	curl -s --max-time 5 "$STACK_METRICS_URL" | awk -v m="$1" '$1 == m { print $2 }'
}

# Row counts, live devices and clusters, ticket numbers given, and the latest change to a
# device, session, ticket or cluster: a refused request must move none of them (a soft
# delete or an UPDATE included).
counts() {
	dbq "SELECT (SELECT count(*) FROM devices) || ' devices (' ||
	            (SELECT count(*) FROM devices WHERE deleted_at IS NULL) || ' live), ' ||
	            (SELECT count(*) FROM sessions) || ' sessions, ' ||
	            (SELECT count(*) FROM jobs) || ' jobs, ' ||
	            (SELECT count(*) FROM api_tokens) || ' tokens, ' ||
	            (SELECT count(*) FROM tickets) || ' tickets, ' ||
	            (SELECT count(*) FROM ticket_comments) || ' comments, ' ||
	            (SELECT count(*) FROM clusters) || ' clusters (' ||
	            (SELECT count(*) FROM clusters WHERE deleted_at IS NULL) || ' live), ' ||
	            (SELECT coalesce(sum(last), 0) FROM ticket_counters) || ' numbers, last change ' ||
	            coalesce((SELECT CAST(max(updated_at) AS TEXT) FROM devices), '-') || ' / ' ||
	            coalesce((SELECT CAST(max(updated_at) AS TEXT) FROM sessions), '-') || ' / ' ||
	            coalesce((SELECT CAST(max(updated_at) AS TEXT) FROM tickets), '-') || ' / ' ||
	            coalesce((SELECT CAST(max(updated_at) AS TEXT) FROM clusters), '-')" 2>&1
}

snap() {
	SNAP=$(counts)
}

unchanged() {
	_now=$(counts)
	if [ "$_now" = "$SNAP" ]; then
		ok "$1"
	else
		LAST=
		bad "$1" "rows changed: before $SNAP, after $_now"
	fi
}

# platform_admin PREFIX VAR: two tests: kaiden-api user add makes a platform admin,
# PREFIX-admin@kaiden.test (password in $T/PREFIX.pw, for the case's other users too), and
# it logs in; VAR gets its token.
platform_admin() {
	printf '%s' "$1-password-000001" >"$T/$1.pw"
	cli "a platform admin" _PA_OUT user add --email "$1-admin@kaiden.test" --name "$1 Admin" \
		--role admin --password-file "$T/$1.pw"
	raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
		"{\"email\":\"$1-admin@kaiden.test\",\"password\":\"$1-password-000001\"}"
	expect "... logs in" 200 '.token | type == "string"'
	save "$2" .token
}

# case_pids PID...: processes a case started, KILLed at the suite's end if a case that
# stopped early left them running. Each is kept with its start time (stack__proc): a pid
# that ended long ago may be another process's by then (the other suite's kaiden-api).
case_pids() {
	for _cp in "$@"; do
		! stack__proc "$_cp" || CASE_PIDS="${CASE_PIDS:-} $_cp:$_stk_t0"
	done
}

# cli NAME VAR ARGS...: one test: kaiden-api ARGS must succeed; VAR gets its stdout
# ("" on failure).
cli() {
	_n=$1
	_v=$2
	shift 2
	if _o=$("$STACK_BIN" "$@" 2>"$T/cli.err"); then
		ok "$_n"
		eval "$_v=\$_o"
	else
		LAST="kaiden-api $*"
		CODE=-
		bad "$_n" "$(head -c 300 "$T/cli.err")"
		eval "$_v="
	fi
}

# A file of $1 bytes of JSON: {"name":"aaa..."} padded to exactly that size.
big_body() {
	_file=$T/body-$1.json
	{
		printf '{"name":"'
		head -c "$(($1 - 11))" /dev/zero | tr '\0' a
		printf '"}'
	} >"$_file"
	echo "$_file"
}

# A string of $1 copies of character $2.
repeat() {
	head -c "$1" /dev/zero | tr '\0' "$2"
}

# agent_sock NAME WANT XFF ARGS...: one test: one simulated agent (tests/bench/agent_load)
# straight to helperd's Unix socket, as a trusted proxy would, from the made-up client
# address XFF, so that a refusal spends that address's tries (hub_util.h), not those of
# the loopback address the other cases use. WANT is "welcome" (then it leaves at once) or
# the close code it must get.
agent_sock() {
	_name=$1
	_want=$2
	_xff=$3
	shift 3
	case $B in /*) _al=$B/tests/agent_load ;; *) _al=$STACK_ROOT/$B/tests/agent_load ;; esac
	if [ "$_want" = welcome ]; then set -- --expect-welcome --hold 0 "$@"; else set -- --expect-close "$_want" "$@"; fi
	if _out=$("$_al" --unix "$STACK_HELPERD_SOCKET" --xff "$_xff" --timeout 20 "$@" 2>&1); then
		ok "$_name"
	else
		LAST="agent_load $_name"
		CODE=-
		bad "$_name" "want $_want: $_out"
	fi
}

# appq TENANT STAFF SQL: SQL on PostgreSQL as the application's role (KAIDEN_DATABASE_DSN),
# in one transaction with the settings kaiden-api's scopes make (SET LOCAL
# kaiden.tenant_id = TENANT, "" for none; kaiden.staff = STAFF, on or off). Prints the
# rows (one value per line); a failing statement exits non-zero with its error on stderr.
appq() {
	printf "BEGIN;\nSET LOCAL kaiden.tenant_id = '%s';\nSET LOCAL kaiden.staff = '%s';\n%s;\nCOMMIT;\n" \
		"$1" "$2" "$3" |
		psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$KAIDEN_DATABASE_DSN" -f -
}

# appcheck NAME TENANT STAFF SQL WANT: one test: appq prints exactly WANT.
appcheck() {
	_got=$(appq "$2" "$3" "$4" 2>&1) || _got="(query failed) $_got"
	if [ "$_got" = "$5" ]; then
		ok "$1"
	else
		LAST="SQL as the application's role (tenant '$2', staff $3): $4"
		CODE=-
		bad "$1" "got '$_got', want '$5'"
	fi
}

# api_restart NAME: one test: kaiden-api stopped and started again with the environment
# as it is now (a case exports or unsets a KAIDEN_ setting first), answering through
# nginx.
api_restart() {
	stack_api_stop
	if stack_api_start && stack_wait_ready; then
		ok "$1"
	else
		LAST=
		bad "$1" "see $STACK_DIR/log/kaiden-api.log"
	fi
}

# fake_dns_start DIR: one test: tests/fakes/fake_dns.py runs, answering from DIR/dns.json
# (fake_dns_cname), logging to DIR/dns.log; FAKE_DNS_PID and FAKE_DNS_PORT are set (the
# case stops it with fake_dns_stop; CASE_PIDS has it for a case that dies first).
fake_dns_start() {
	python3 tests/fakes/fake_dns.py --port-file "$1/dns.port" --records "$1/dns.json" \
		</dev/null >>"$1/dns.log" 2>&1 &
	FAKE_DNS_PID=$!
	case_pids "$FAKE_DNS_PID"
	_i=0
	while [ ! -s "$1/dns.port" ] && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	FAKE_DNS_PORT=$(cat "$1/dns.port" 2>/dev/null || echo 0)
	if [ "$FAKE_DNS_PORT" -gt 0 ]; then ok "the fake DNS server runs"; else bad "the fake DNS server runs" "$(tail -n 3 "$1/dns.log")"; fi
}

# fake_dns_cname DIR NAME TARGET: the DNS server answers NAME with a CNAME to TARGET (the
# file replaced whole).
fake_dns_cname() {
	printf '{"cname": {"%s": "%s"}}' "$2" "$3" >"$1/dns.json.tmp"
	mv "$1/dns.json.tmp" "$1/dns.json"
}

fake_dns_stop() {
	kill -TERM "$FAKE_DNS_PID" 2>/dev/null || :
	wait "$FAKE_DNS_PID" 2>/dev/null || :
}

# ---- the fake Cloudflare API (tests/fakes/fake_cloudflare.py) --------------------------
# fake_cf_start NAME LOG TOKEN ACCOUNT ZONE [ARGS...]: one test (NAME): the fake runs for
# the account and zone (domain kaiden.test), logging to LOG, with ARGS (e.g.
# --rate-limit 0); CF_URL and CF_PID are set, CF_PID is a case pid (case_pids).
# cf GET|POST PATH [BODY]: its control API; the reply's .result on stdout.
# hold_arm METHOD PATH: a hold at the fake on the next call matching (tests/fakes/README.md,
# "Holds"); its id in HOLD. hold_wait NAME: one test: a call is held there within 30 s.
# hold_release [drop]: let it go (run), or drop it unrun.
fake_cf_start() {
	_n=$1
	_log=$2
	_port_file="$_log.port"
	shift 2
	_token=$1
	_account=$2
	_zone=$3
	shift 3
	rm -f "$_port_file"
	python3 "$STACK_ROOT/tests/fakes/fake_cloudflare.py" --port 0 --port-file "$_port_file" \
		--token "$_token" --account "$_account" --zone "$_zone" --zone-name kaiden.test "$@" \
		>"$_log" 2>&1 &
	CF_PID=$!
	case_pids "$CF_PID"
	_i=0
	while [ ! -s "$_port_file" ] && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	_port=$(cat "$_port_file" 2>/dev/null) || _port=
	CF_URL=http://127.0.0.1:$_port
	if curl -sf -o /dev/null "$CF_URL/_fake/health"; then ok "$_n"; else bad "$_n" "see $_log"; fi
}

cf() {
	if [ $# -ge 3 ]; then
		curl -sS -X "$1" -H 'Content-Type: application/json' --data-binary "$3" "$CF_URL$2"
	else
		curl -sS -X "$1" "$CF_URL$2"
	fi | jq -c '.result'
}

hold_arm() {
	HOLD=$(cf POST /_fake/holds "{\"method\":\"$1\",\"path\":\"$2\"}" | jq -r '.id')
}

hold_wait() {
	_code=$(curl -sS -o "$T/hold" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data-binary '{"timeout_s":30}' "$CF_URL/_fake/holds/$HOLD/wait" 2>&1) || _code=000
	if [ "$_code" = 200 ] && jq -e '.result.calls[0].state == "held"' "$T/hold" >/dev/null 2>&1; then
		ok "$1"
	else
		LAST="POST /_fake/holds/$HOLD/wait"
		CODE=$_code
		bad "$1" "the fake held no call: $(head -c 300 "$T/hold" 2>/dev/null)"
	fi
}

hold_release() {
	if [ "${1:-}" = drop ]; then _rel='{"drop":true}'; else _rel='{}'; fi
	cf POST "/_fake/holds/$HOLD/release" "$_rel" >/dev/null
}
