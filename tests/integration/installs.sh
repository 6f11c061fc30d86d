#!/bin/sh
# installs.sh: two Kaiden installs share one Cloudflare account (issue 8: staging and
# production deleted each other's sessions). Install A (PostgreSQL) and install B
# (SQLite) are whole stacks of their own (scripts/stack.sh: database, kaiden-api, nginx,
# helperd sweeping every second, a real kaiden-agent with the fake cloudflared), both on
# the domain kaiden.test of one fake Cloudflare API (tests/fakes/fake_cloudflare.py).
#
#   1. each opens a session, to active;
#   2. orphans are made at the fake as a lost create reply leaves them: a tunnel, a DNS
#      record and an Access app named for each install's id and no session of it, and a
#      tunnel with a name from before install ids that neither database knows;
#   3. held until both orphans are gone (each install's sweep has listed everything
#      since step 2, so it has seen the other's live objects): then each session's
#      tunnel, records and apps are all still there, both sessions are still active,
#      and the old-format tunnel is untouched;
#   4. both sessions end cleanly.
# Before install ids, A's sweep deleted B's live objects (and B's A's) at step 3.
#
#   B=build sh tests/integration/installs.sh      (KEEP=1 keeps the directory, VERBOSE=1)
# Prints `integration installs: N passed, N failed`; exits non-zero on any failure.
set -eu

B=${B:-build}
cd "$(dirname "$0")/../.."
case $B in /*) ;; *) B=$(pwd -P)/$B ;; esac
export B

# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
SUITE_DB=installs

for v in $(env | sed -n 's/^\(KAIDEN_[A-Za-z0-9_]*\)=.*/\1/p'); do
	unset "$v"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-it-installs.XXXXXX")
# PostgreSQL runs as user postgres when we are root: it must be able to enter WORK.
chmod 0711 "$WORK"
T=$WORK/t
mkdir -p "$T" "$WORK/log" "$WORK/bin" "$WORK/cfd"
ln -sf "$(pwd -P)/tests/fakes/fake_cloudflared.py" "$WORK/bin/cloudflared"
PIDS=
# Set by save and eval below (shellcheck cannot see through them).
_dev='' _secret='' _sid='' _short='' _p='' a_SHORT='' b_SHORT='' a_PREFIX='' b_PREFIX=''

CF_TOKEN=fake-cf-token-$$
CF_ACCOUNT=0123456789abcdef0123456789abcdef
CF_ZONE=fedcba9876543210fedcba9876543210
DOMAIN=kaiden.test

# shellcheck disable=SC2317 # called from the traps
finish() {
	rc=$?
	trap - EXIT INT TERM
	[ -n "${DONE:-}" ] || bad "the test ran to its end" "it stopped early (exit status $rc)"
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null || :
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || :
	done
	sanitizer_clean "$WORK"
	if [ "$FAIL" -gt 0 ]; then
		for f in "$WORK"/a/log/kaiden-helperd.log "$WORK"/b/log/kaiden-helperd.log \
			"$WORK"/a.log "$WORK"/b.log; do
			[ -s "$f" ] || continue
			echo "  --- last lines of $f"
			tail -n 15 "$f" | sed 's/^/  | /'
		done
	fi
	echo "integration installs: $PASS passed, $FAIL failed"
	if [ -n "${KEEP:-}" ]; then echo "  (kept $WORK)"; else rm -rf "$WORK"; fi
	if [ "$FAIL" -eq 0 ]; then exit 0; else exit 1; fi
}
trap 'finish' EXIT
trap 'FAIL=$((FAIL + 1)); echo "  interrupted"; exit 130' INT TERM

# ---- the shared Cloudflare account -------------------------------------------------------
python3 tests/fakes/fake_cloudflare.py --port 0 --port-file "$WORK/cf.port" \
	--token "$CF_TOKEN" --account "$CF_ACCOUNT" --zone "$CF_ZONE" --zone-name "$DOMAIN" \
	--rate-limit 0 >"$WORK/log/fake-cf.log" 2>&1 &
PIDS="$PIDS $!"
_i=0
while [ ! -s "$WORK/cf.port" ] && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
CF_URL=http://127.0.0.1:$(cat "$WORK/cf.port" 2>/dev/null)
if curl -sf -o /dev/null "$CF_URL/_fake/health"; then ok "the fake Cloudflare API runs"; else
	bad "the fake Cloudflare API runs" "see $WORK/log/fake-cf.log"
	DONE=1
	exit 1
fi

# cf_state: the fake's whole state (.result of /_fake/state) into $T/state.
cf_state() {
	curl -sS "$CF_URL/_fake/state" | jq -c '.result' >"$T/state"
}

# cf_api PATH BODY: a POST to the API as the account's owner would make it.
cf_api() {
	curl -sS -X POST -H "Authorization: Bearer $CF_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "$2" "$CF_URL/client/v4$1" >"$T/cf.out"
	jq -e '.success' "$T/cf.out" >/dev/null || {
		bad "the fake takes POST $1" "$(head -c 300 "$T/cf.out")"
		return 1
	}
}

# ---- the two installs ----------------------------------------------------------------
# install_up NAME DB: a whole stack in a shell of its own (stack.sh's variables are
# global), helperd on the fake; NAME.env gets its URL, token and database once it serves.
# SIGTERM stops it all.
install_up() {
	(
		# shellcheck source=scripts/stack.sh
		. scripts/stack.sh
		# shellcheck disable=SC2034 # read by stack.sh
		STACK_QUIET=1
		_sleeper=
		# shellcheck disable=SC2317 # the traps
		down() {
			trap - EXIT TERM INT
			[ -z "$_sleeper" ] || kill "$_sleeper" 2>/dev/null || :
			stack_helperd_stop >/dev/null 2>&1 || :
			stack_stop >/dev/null 2>&1 || :
		}
		trap 'down' EXIT
		trap 'down; exit 0' TERM INT
		# Cloudflare installs: kaiden-api makes Cloudflare sessions (its other Cloudflare
		# settings are helperd's business, below).
		export KAIDEN_CF_DOMAIN=$DOMAIN KAIDEN_LOG_LEVEL=info KAIDEN_TUNNEL_PROVIDER=cloudflare
		stack_init "$WORK/$1" "$2" auto && stack_up || exit 1
		KAIDEN_CF_API_BASE=$CF_URL/client/v4 KAIDEN_CF_ACCOUNT_ID=$CF_ACCOUNT \
			KAIDEN_CF_ZONE_ID=$CF_ZONE KAIDEN_CF_API_TOKEN=$CF_TOKEN \
			KAIDEN_CF_ACCESS_TEAM=kaidenteam KAIDEN_CF_ACCESS_ALLOW=eng@kaiden.test \
			KAIDEN_HELPERD_SWEEP=1 KAIDEN_HELPERD_HEARTBEAT=1 KAIDEN_HELPERD_AGENT_TIMEOUT=4 \
			stack_helperd_start || exit 1
		# NAME='value' lines (a DSN has quotes and spaces), for use() to source.
		for _kv in "URL=$STACK_URL" "PORT=$STACK_PORT" "TOKEN=$STACK_TOKEN" "DB=$STACK_DB" \
			"DB_PATH=$STACK_DB_PATH" "OWNER_DSN=${KAIDEN_DATABASE_OWNER_DSN:-}"; do
			printf "%s='%s'\n" "${_kv%%=*}" "$(printf '%s' "${_kv#*=}" | sed "s/'/'\\\\''/g")"
		done >"$WORK/$1.env.tmp"
		mv "$WORK/$1.env.tmp" "$WORK/$1.env"
		sleep 100000 &
		_sleeper=$!
		wait "$_sleeper" || :
	) >"$WORK/$1.log" 2>&1 &
	PIDS="$PIDS $!"
}

# use NAME: the requests (lib.sh's call, dbq) go to install NAME.
use() {
	# shellcheck disable=SC1090
	. "$WORK/$1.env"
	STACK_URL=$URL
	STACK_TOKEN=$TOKEN
	STACK_DB_PATH=$DB_PATH
	KAIDEN_DATABASE_OWNER_DSN=$OWNER_DSN
	SUITE_DB=$DB
}

install_up a postgres
install_up b sqlite
for n in a b; do
	_i=0
	while [ ! -s "$WORK/$n.env" ] && [ "$_i" -lt 600 ]; do sleep 0.1; _i=$((_i + 1)); done
	if [ -s "$WORK/$n.env" ]; then ok "install $n starts"; else
		bad "install $n starts" "see $WORK/$n.log"
		DONE=1
		exit 1
	fi
done

# poll PATH JQ SECONDS: GETs PATH from the install in use until JQ holds on the reply, or
# SECONDS pass; the last reply stays for expect.
poll() {
	_i=0
	while :; do
		call GET "$1"
		if jq -e "$2" "$T/body" >/dev/null 2>&1 || [ "$_i" -ge $(($3 * 10)) ]; then return 0; fi
		sleep 0.1
		_i=$((_i + 1))
	done
}

# open NAME: a device with a running agent on install NAME, and a session of it to
# active; NAME_SID, NAME_SHORT set.
open() {
	use "$1"
	t "$1: create a device" POST /api/v1/devices "{\"name\":\"host-$1\"}" 201
	save _dev .device_id
	save _secret .secret
	printf '%s' "$_secret" >"$WORK/$1.secret"
	chmod 600 "$WORK/$1.secret"
	PATH="$WORK/bin:$PATH" KAIDEN_FAKE_CF_URL=$CF_URL KAIDEN_FAKE_CLOUDFLARED_DIR=$WORK/cfd \
		"$B/bin/kaiden-agent" --server "ws://127.0.0.1:$PORT/api/v1/ws/agent" --insecure \
		--device-id "$_dev" --secret-file "$WORK/$1.secret" >>"$WORK/log/agent-$1.log" 2>&1 &
	PIDS="$PIDS $!"
	poll "/api/v1/devices/$_dev" '.status == "online"' 15
	expect "$1: its agent is online" 200 '.status == "online"'
	t "$1: open a session" POST /api/v1/sessions \
		"{\"device_id\":\"$_dev\",\"engineer_name\":\"eng-$1\"}" 201 '.status == "pending"'
	save _sid .id
	save _short '.public_url | capture("https://sess-(?<s>[a-z2-7]+)\\.").s'
	eval "${1}_SID=\$_sid ${1}_SHORT=\$_short"
}

# wait_active NAME: one test: install NAME's session is active within 30 s.
wait_active() {
	use "$1"
	eval "_sid=\$${1}_SID"
	poll "/api/v1/sessions/$_sid" '.status != "pending"' 30
	expect "$1: the session is active" 200 '.status == "active"' '.error == null or .error == ""'
}

open a
open b
wait_active a
wait_active b

# Each install's id: in its database, and at the head of its session's tunnel name.
for n in a b; do
	use "$n"
	_inst=$(dbq 'SELECT id FROM install' 2>&1) || _inst=
	eval "_short=\$${n}_SHORT"
	cf_state
	_name=$(jq -r --arg s "$_short" '.tunnels[] | select(.deleted_at == null and (.name | endswith($s))) | .name' "$T/state" | head -n 1)
	if [ "$_name" = "kaiden-sess-$_inst-$_short" ] && [ "${#_inst}" -eq 8 ]; then
		ok "$n: its tunnel is named for its install ($_name)"
	else
		bad "$n: its tunnel is named for its install" "tunnel '$_name', install '$_inst'"
	fi
	# The name prefix the session's objects carry (also before install ids: kaiden-sess-).
	eval "${n}_PREFIX=\${_name%\$_short}"
done
SUITE_DB=installs
if [ "$a_PREFIX" != "$b_PREFIX" ]; then ok "the installs' names differ"; else bad "the installs' names differ" "both $a_PREFIX"; fi

# objects_of NAME SHORT: the jq that holds when the fake has the tunnel, both DNS records
# and the Access app (both hostnames) of install NAME's session SHORT (its prefix from
# above).
objects_of() {
	eval "_p=\$${1}_PREFIX"
	echo "([.tunnels[] | select(.deleted_at == null and .name == \"$_p$2\")] | length == 1) and
	      ([.dns_records[] | select(.comment == \"$_p$2\")] | length == 2) and
	      ([.access_apps[] | select(.name == \"$_p$2\") | .destinations | length] == [2])"
}

# Orphans as a lost create reply leaves them: each install's, of no session of it.
for n in a b; do
	eval "_p=\$${n}_PREFIX"
	_o=orphan${n}234
	cf_api "/accounts/$CF_ACCOUNT/cfd_tunnel" "{\"name\":\"$_p$_o\",\"config_src\":\"cloudflare\"}" || :
	cf_api "/zones/$CF_ZONE/dns_records" "{\"type\":\"CNAME\",\"name\":\"sess-$_o.$DOMAIN\",\"content\":\"x.cfargotunnel.com\",\"proxied\":true,\"ttl\":1,\"comment\":\"$_p$_o\"}" || :
	cf_api "/accounts/$CF_ACCOUNT/access/apps" "{\"name\":\"$_p$_o\",\"type\":\"self_hosted\",\"domain\":\"sess-$_o.$DOMAIN\"}" || :
done
# A name from before install ids that neither database has a session for.
cf_api "/accounts/$CF_ACCOUNT/cfd_tunnel" '{"name":"kaiden-sess-legacyx234","config_src":"cloudflare"}' || :
cf_state
# (The orphans may be gone already: the sweeps run every second.)
if jq -e "$(objects_of a "$a_SHORT") and $(objects_of b "$b_SHORT")" "$T/state" >/dev/null; then
	ok "both sessions' objects are at the fake"
else
	bad "both sessions' objects are at the fake" "$(head -c 600 "$T/state")"
fi

SUITE_DB=installs
# Held here until both installs' sweeps have deleted their orphan (tunnel, record, app):
# each has listed everything since, the other install's live objects included.
_i=0
while :; do
	cf_state
	_left=$(jq '[(.tunnels[] | select(.deleted_at == null) | .name), (.dns_records[] | .comment),
		(.access_apps[] | .name)] | map(select(. != null and test("orphan[ab]234$"))) | length' "$T/state")
	if [ "$_left" = 0 ] || [ "$_i" -ge 300 ]; then break; fi
	sleep 0.1
	_i=$((_i + 1))
done
if [ "$_left" = 0 ]; then ok "each install's sweep deleted its own orphans"; else
	bad "each install's sweep deleted its own orphans" "$_left left after 30 s"
fi
if jq -e "$(objects_of a "$a_SHORT")" "$T/state" >/dev/null; then
	ok "A's live session keeps its tunnel, records and apps (B swept beside it)"
else
	bad "A's live session keeps its tunnel, records and apps (B swept beside it)" "$(head -c 600 "$T/state")"
fi
if jq -e "$(objects_of b "$b_SHORT")" "$T/state" >/dev/null; then
	ok "B's live session keeps its tunnel, records and apps (A swept beside it)"
else
	bad "B's live session keeps its tunnel, records and apps (A swept beside it)" "$(head -c 600 "$T/state")"
fi
if jq -e '[.tunnels[] | select(.deleted_at == null and .name == "kaiden-sess-legacyx234")] | length == 1' "$T/state" >/dev/null; then
	ok "an old-format name no install knows is left alone"
else
	bad "an old-format name no install knows is left alone" "it was deleted"
fi
for n in a b; do
	use "$n"
	eval "_sid=\$${n}_SID"
	t "$n: the session is still active" GET "/api/v1/sessions/$_sid" "" 200 '.status == "active"'
done

# ---- the end --------------------------------------------------------------------------
for n in a b; do
	use "$n"
	eval "_sid=\$${n}_SID"
	call DELETE "/api/v1/sessions/$_sid"
	poll "/api/v1/sessions/$_sid" '.status == "ended" or .status == "failed"' 30
	expect "$n: the session ends" 200 '.status == "ended"'
done
SUITE_DB=installs
cf_state
if jq -e '.counts.dns_records == 0 and .counts.access_apps == 0 and .counts.live_tunnels == 1' "$T/state" >/dev/null; then
	ok "nothing is left at the fake but the old-format tunnel"
else
	bad "nothing is left at the fake but the old-format tunnel" "$(jq -c '.counts' "$T/state")"
fi
DONE=1
