#!/usr/bin/env bash
# test_portal.sh: the portal (www/) in a real browser. Starts a stack (scripts/stack.sh:
# sqlite, kaiden-api, nginx with the dev config) on a free port in a private directory,
# makes the first administrator as `make run` does (a random password in a 0600 file)
# and registers one device through the API; checks nginx's headers for the portal (the
# CSP, caching with the assets under /app/<hash>/, gzip); then runs the browser scripts tests/portal/NN_*.py, each driving
# Debian's chromium headless through one part of the portal (10_engineer: sign-in,
# devices, register, a session; 60_a11y: axe-core on every page pages.js routes, with
# PORTAL_AXE = tests/node_modules/axe-core/axe.min.js from `make node_modules`;
# 65_first_load: bytes of a cold first load; 70_keyboard: the engineer's path with the
# keyboard alone; 99_lock: the 429 lock, last), failing on any console
# error or failed request; their screenshots (1280 and 390 px wide) are copied to
# docs/screenshots/ when DOCS_SCREENSHOTS=1.
#
#   B=build bash tests/scripts/test_portal.sh      (KEEP=1 keeps the directory)
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
. tests/scripts/lib.sh
. scripts/stack.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-portal.XXXXXX")
cleanup() {
	# Only this shell cleans up: bash runs this trap in a subshell killed by a signal
	# before it has reset its handlers (scripts/stack.sh's stack__stop_pid says more).
	[ "$BASHPID" = "$$" ] || return 0
	# ---- live (issue 10, live updates): helperd stops before the stack ----
	stack_helperd_stop >/dev/null 2>&1
	# ---- end live ----
	[ -z "${K8S_PID:-}" ] || { kill "$K8S_PID" 2>/dev/null; wait "$K8S_PID" 2>/dev/null; }
	[ -z "${DNS_PID:-}" ] || { kill "$DNS_PID" 2>/dev/null; wait "$DNS_PID" 2>/dev/null; }
	stack_stop
	if [ -n "${KEEP:-}" ] || [ "$FAIL" -ne 0 ]; then
		echo "  (kept $WORK)"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

for p in /usr/bin/chromium /usr/bin/chromedriver; do
	[ -x "$p" ] || { bad "$p is installed" "scripts/deps.sh check installs it"; summary; exit 1; }
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null ||
	{ bad "python3-selenium is installed" "scripts/deps.sh check installs it"; summary; exit 1; }

export STACK_QUIET=1 PYTHONDONTWRITEBYTECODE=1

# ---- DB/mode loop (issue 10, admin) ----------------------------------------------------
# Called without PORTAL_DB, the script runs itself twice: SQLite in single mode and
# PostgreSQL in multi mode (tenants: the customer belongs to a tenant made below and signs
# in with its code). PORTAL_DB=sqlite|postgres PORTAL_MODE=single|multi runs one; without
# PORTAL_MODE, PORTAL_DB=postgres is the multi pass and PORTAL_DB=sqlite the single one.
# The two passes run at once, each in its own stack on its own ports and with its own
# browser: most of a pass is spent waiting (on the page, helperd, the fakes), and one
# after the other they were make check's longest step. Each one's output is held and
# printed whole, SQLite's first; a TERM or Ctrl-C reaches both (each stops its stack).
if [ -z "${PORTAL_DB:-}" ]; then
	trap - EXIT
	rm -rf "$WORK"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-portal-out.XXXXXX")
	# Set before the passes start: a signal between a start and its pid's assignment
	# still reaches it (jobs -p lists every pass started).
	trap 'kill -TERM $(jobs -p) 2>/dev/null; wait; cat "$WORK/sqlite" "$WORK/postgres" 2>/dev/null; rm -rf "$WORK"; exit 130' INT TERM
	PORTAL_DB=sqlite PORTAL_MODE=single bash "$0" >"$WORK/sqlite" 2>&1 &
	p1=$!
	PORTAL_DB=postgres PORTAL_MODE=multi bash "$0" >"$WORK/postgres" 2>&1 &
	p2=$!
	rc=0
	wait "$p1" || rc=1
	wait "$p2" || rc=1
	trap - INT TERM
	cat "$WORK/sqlite" "$WORK/postgres"
	rm -rf "$WORK"
	exit "$rc"
fi
DB=$PORTAL_DB
if [ "$DB" = postgres ]; then MODE=${PORTAL_MODE:-multi}; else MODE=${PORTAL_MODE:-single}; fi
case $DB/$MODE in
sqlite/single | sqlite/multi | postgres/single | postgres/multi) ;;
*) bad "PORTAL_DB=$DB PORTAL_MODE=$MODE" "sqlite|postgres, single|multi"; summary; exit 1 ;;
esac
TEST_NAME="test_portal ($DB, $MODE)"
if [ "$MODE" = multi ]; then
	export KAIDEN_SERVER_MODE=multi KAIDEN_SERVER_BASE_DOMAIN=kaiden.test
else
	export KAIDEN_SERVER_MODE=single
fi
# ---- end of the DB/mode loop -----------------------------------------------------------
# Webhooks (issue 11): 85_webhooks's receiver listens on loopback, over plain http, and
# refuses an event twice before taking it: retries 2 s, then 4 s after a failure.
export KAIDEN_WEBHOOKS_ALLOW_LOOPBACK=1 KAIDEN_WEBHOOKS_RETRY_BASE=2
# Cloud services (issue 13): kaiden-api wants the platform's domain, the key that seals
# secret values and a Kubernetes API (named for it as in a pod: KUBERNETES_SERVICE_*; it
# never calls it); helperd runs them with tests/fakes/fake_helm against
# tests/fakes/fake_k8s.py (as case-124 does), given to helperd alone (helperd_start
# below): k8s.api in everyone's environment would make the device-mode agents refuse to
# start. The charts the scripts launch are in $WORK/charts.json (PORTAL_HELM_CHARTS):
# n8n (95_services.py's) comes up with its pod unable to pull its image until the script
# makes it ready at the fake (PORTAL_K8S_URL); Redis is ready at once; PostgreSQL's
# install fails (the fake's "fail": a quota's refusal of its volume) until a script takes
# the failure out of the file (fake_helm reads it at each run). Custom domains are
# looked up at tests/fakes/fake_dns.py, whose records 95_services.py writes into the file
# PORTAL_DNS_RECORDS.
(umask 077 && head -c 32 /dev/urandom >"$WORK/services.key" &&
	printf 'k8s-token-%s\n' "$$" >"$WORK/k8s.token")
PORTAL_DNS_RECORDS=$WORK/dns.json
/usr/bin/python3 tests/fakes/fake_dns.py --port-file "$WORK/dns.port" --records "$PORTAL_DNS_RECORDS" \
	</dev/null >"$WORK/dns.log" 2>&1 &
DNS_PID=$!
/usr/bin/python3 tests/fakes/fake_k8s.py --port-file "$WORK/k8s.port" --token-file "$WORK/k8s.token" \
	</dev/null >"$WORK/k8s.log" 2>&1 &
K8S_PID=$!
i=0
while [ ! -s "$WORK/k8s.port" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
PORTAL_K8S_URL=http://127.0.0.1:$(cat "$WORK/k8s.port" 2>/dev/null)
while [ ! -s "$WORK/dns.port" ] && [ "$i" -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
PORTAL_DNS_PORT=$(cat "$WORK/dns.port" 2>/dev/null)
check "the fake DNS server runs" test -n "$PORTAL_DNS_PORT"
check "the fake Kubernetes API runs" curl -sf -o /dev/null "$PORTAL_K8S_URL/_fake/health"
cat >"$WORK/charts.json" <<EOF
{
 "oci://8gears.container-registry.com/library/n8n": {"name": "n8n", "versions": {
  "1.1.0": {"app_version": "1.116.2",
   "pods": [{"name": "", "kind": "Deployment", "replicas": 1,
             "containers": [{"name": "n8n", "image": "docker.io/n8nio/n8n:1.116.2"}]}],
   "start": "ImagePullBackOff"}}},
 "oci://registry-1.docker.io/bitnamicharts/postgresql": {"name": "postgresql", "versions": {
  "17.1.0": {"app_version": "17.6.0",
   "pods": [{"name": "primary", "kind": "Deployment", "replicas": 1,
             "containers": [{"name": "postgresql", "image": "docker.io/bitnamilegacy/postgresql:17.6.0"}]}],
   "start": "ready",
   "fail": "persistentvolumeclaims \\"data-primary-0\\" is forbidden: exceeded quota: storage, requested: requests.storage=4Gi, limited: requests.storage=3Gi"}}},
 "oci://registry-1.docker.io/bitnamicharts/redis": {"name": "redis", "versions": {
  "23.1.1": {"app_version": "8.2.1",
   "pods": [{"name": "master", "kind": "Deployment", "replicas": 1,
             "containers": [{"name": "redis", "image": "docker.io/bitnamilegacy/redis:8.2.1"}]}],
   "start": "ready"}}}
}
EOF
cat >"$WORK/helm" <<EOF
#!/bin/sh
FAKE_HELM_CHARTS='$WORK/charts.json' FAKE_HELM_LOG='$WORK/helm.log' exec /usr/bin/python3 '$PWD/tests/fakes/fake_helm' "\$@"
EOF
chmod 755 "$WORK/helm"
export KAIDEN_SERVICES_DOMAIN=apps.kaiden.test KAIDEN_SERVICES_KEY_FILE=$WORK/services.key \
	KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=9 \
	KAIDEN_SERVICES_HELM=$WORK/helm KAIDEN_SERVICES_HELM_HOME=$WORK/helm-home \
	KAIDEN_SERVICES_DNS_SERVER=127.0.0.1:$PORTAL_DNS_PORT PORTAL_DNS_RECORDS PORTAL_K8S_URL \
	PORTAL_HELM_CHARTS=$WORK/charts.json
# helperd_start: the stack's helperd with the fake cluster (and quick heartbeats).
helperd_start() {
	KAIDEN_K8S_API=$PORTAL_K8S_URL KAIDEN_K8S_TOKEN_FILE=$WORK/k8s.token KAIDEN_K8S_INSECURE=1 \
		KAIDEN_HELPERD_HEARTBEAT=1 KAIDEN_HELPERD_AGENT_TIMEOUT=3 stack_helperd_start
}
if stack_init "$WORK/stack" "$DB" auto && stack_up >"$WORK/stack.log" 2>&1; then
	ok "a stack on $STACK_URL"
else
	bad "a stack starts" "$(tail -n 5 "$WORK/stack.log")"
	summary
	exit 1
fi

# The first administrator, as scripts/run.sh makes it.
EMAIL=admin@localhost
PW=$WORK/admin.password
(umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$PW")
if "$STACK_BIN" user add --email "$EMAIL" --name Administrator --role admin \
	--password-file "$PW" >/dev/null 2>"$WORK/user-add.err"; then
	ok "the first administrator"
else
	bad "the first administrator" "$(cat "$WORK/user-add.err")"
fi

# ---- tenant set-up (issue 10, admin) ---------------------------------------------------
# A customer, with the same password: the pages hide what the server would refuse them.
# Single mode: the default tenant's. Multi mode: a tenant made here (code $CUSTOMER_TENANT)
# with its own device ($CUSTOMER_DEVICE); the customer signs in with the tenant code and
# must see only that tenant's devices.
CUSTOMER=customer@localhost
CUSTOMER_TENANT=
CUSTOMER_DEVICE=
if [ "$MODE" = single ]; then
	if "$STACK_BIN" user add --email "$CUSTOMER" --name Customer --role customer \
		--password-file "$PW" >/dev/null 2>"$WORK/user-add.err"; then
		ok "a customer"
	else
		bad "a customer" "$(cat "$WORK/user-add.err")"
	fi
else
	CUSTOMER_TENANT=harbour
	CUSTOMER_DEVICE=harbour-till
	# papi METHOD PATH BODY [CURL ARGS]: the API as the administrator (a login token).
	papi() {
		curl -sS -o "$WORK/papi.json" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $ADMIN_JWT" \
			-H 'Content-Type: application/json' --data-binary "$3" "${@:4}" "$STACK_URL/api/v1/$2"
	}
	jq -n --arg e "$EMAIL" --rawfile p "$PW" '{email: $e, password: ($p | rtrimstr("\n"))}' >"$WORK/login.json"
	code=$(curl -sS -o "$WORK/login.out" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary @"$WORK/login.json" "$STACK_URL/api/v1/auth/login")
	ADMIN_JWT=$(jq -r '.token // empty' "$WORK/login.out" 2>/dev/null)
	rm -f "$WORK/login.json"
	check "the administrator logs in (multi mode, no tenant code)" test "$code" = 200 -a -n "$ADMIN_JWT"
	code=$(papi POST admin/tenants "{\"code\":\"$CUSTOMER_TENANT\",\"name\":\"Harbour Books\",\"plan\":\"basic\"}")
	check "a customer's tenant ($CUSTOMER_TENANT)" test "$code" = 201
	jq -n --arg e "$CUSTOMER" --rawfile p "$PW" \
		'{email: $e, name: "Customer", role: "customer", password: ($p | rtrimstr("\n"))}' >"$WORK/user.json"
	code=$(papi POST users @"$WORK/user.json" -H "X-Kaiden-Tenant: $CUSTOMER_TENANT")
	rm -f "$WORK/user.json"
	check "a customer in $CUSTOMER_TENANT" test "$code" = 201
	code=$(papi POST devices "{\"name\":\"$CUSTOMER_DEVICE\"}" -H "X-Kaiden-Tenant: $CUSTOMER_TENANT")
	check "a device of $CUSTOMER_TENANT" test "$code" = 201
	curl -sS -o /dev/null -X POST -H "Authorization: Bearer $ADMIN_JWT" "$STACK_URL/api/v1/auth/logout"
	ADMIN_JWT=
fi
# An engineer (staff, both modes): reads tenants, changes none.
ENGINEER=engineer@localhost
if "$STACK_BIN" user add --email "$ENGINEER" --name Engineer --role engineer \
	--password-file "$PW" >/dev/null 2>"$WORK/user-add.err"; then
	ok "an engineer"
else
	bad "an engineer" "$(cat "$WORK/user-add.err")"
fi
export PORTAL_MODE=$MODE PORTAL_CUSTOMER_TENANT=$CUSTOMER_TENANT PORTAL_CUSTOMER_DEVICE=$CUSTOMER_DEVICE \
	PORTAL_ENGINEER=$ENGINEER
# ---- end of the tenant set-up ----------------------------------------------------------

DEVICE=reception-pc
code=$(curl -sS -o "$WORK/device.json" -w '%{http_code}' -H "Authorization: Bearer $STACK_TOKEN" \
	-H 'Content-Type: application/json' --data-binary "{\"name\":\"$DEVICE\"}" \
	"$STACK_URL/api/v1/devices")
check "a device registered through the API" test "$code" = 201

# ---- live (issue 10, live updates): kaiden-helperd and a real kaiden-agent ------------
# helperd serves the agents and the browsers' event stream (/api/v1/ws/events) behind
# nginx; sessions run with the built-in relay (no Cloudflare settings: tunnel.provider
# auto picks it). Heartbeats every second, so a vanished agent is offline within 3 s. A
# session waits for the agent of a device seen within session.ready_timeout (here the
# most, an hour) and fails at once on one never seen: scripts that want a pending session
# make its device seen once (tests/portal/agent.py's seen_once).
# tests/portal/ws_events.py checks the stream itself (python3-websockets, a real login's
# cookie, a real agent); the browser scripts then start agents themselves
# (tests/portal/agent.py: PORTAL_AGENT_BIN, PORTAL_AGENT_URL). It runs before the access
# log is emptied below: its refusals (401, 403, 429) are not the browser's.
export KAIDEN_SESSION_READY_TIMEOUT=3600
if helperd_start >"$WORK/helperd-start.log" 2>&1; then
	ok "kaiden-helperd runs behind nginx"
else
	bad "kaiden-helperd runs behind nginx" "$(tail -n 5 "$WORK/helperd-start.log")"
fi
export PORTAL_AGENT_BIN=$(dirname "$STACK_BIN")/kaiden-agent
# The stack's device as registered (id, secret), for a script that makes it seen once.
export PORTAL_DEVICE_JSON=$WORK/device.json
export PORTAL_AGENT_URL=ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent
PORTAL_URL=$STACK_URL PORTAL_EMAIL=$EMAIL PORTAL_PASSWORD_FILE=$PW PORTAL_CUSTOMER=$CUSTOMER \
	PORTAL_TOKEN=$STACK_TOKEN PORTAL_OUT=$WORK/ws_events \
	/usr/bin/python3 tests/portal/ws_events.py >"$WORK/ws_events.out" 2>"$WORK/ws_events.err"
rc=$?
while IFS= read -r line; do
	case $line in
	"ok "*) ok "ws_events: ${line#ok }" ;;
	"FAIL "*) line=${line#FAIL }; bad "ws_events: ${line%%: *}" "${line#*: }" ;;
	esac
done <"$WORK/ws_events.out"
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$WORK/ws_events.out"; then
	bad "ws_events" "exit $rc: $(tail -n 5 "$WORK/ws_events.err")"
fi

# live_restart NAME: kaiden-api and helperd again, with the environment as it is now.
live_restart() {
	stack_helperd_stop >/dev/null 2>&1
	stack_api_stop >/dev/null 2>&1
	if stack_api_start >>"$WORK/helperd-start.log" 2>&1 && stack_wait_ready >/dev/null 2>&1 &&
		helperd_start >>"$WORK/helperd-start.log" 2>&1; then
		ok "$1"
	else
		bad "$1" "$(tail -n 5 "$WORK/helperd-start.log")"
	fi
}

# In the PostgreSQL run, the browser's live test once more with Cloudflare sessions: the
# fake Cloudflare API and a fake cloudflared for the agent (tests/fakes/), kaiden-api and
# helperd pointed at them (tunnel.provider auto: Cloudflare once its settings are
# complete). Then both go back to the relay for the browser scripts below.
if [ "$DB" = postgres ]; then
	CF=$WORK/cf
	mkdir -p "$CF/bin" "$CF/cfd"
	ln -sf "$PWD/tests/fakes/fake_cloudflared.py" "$CF/bin/cloudflared"
	CF_TOKEN=fake-cf-token-$$
	/usr/bin/python3 tests/fakes/fake_cloudflare.py --port 0 --port-file "$CF/cf.port" \
		--token "$CF_TOKEN" --account 0123456789abcdef0123456789abcdef \
		--zone fedcba9876543210fedcba9876543210 --zone-name kaiden.test \
		>"$CF/fake-cf.log" 2>&1 &
	CF_PID=$!
	i=0
	while [ ! -s "$CF/cf.port" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	CF_URL=http://127.0.0.1:$(cat "$CF/cf.port" 2>/dev/null)
	check "the fake Cloudflare API runs" curl -sf -o /dev/null "$CF_URL/_fake/health"
	export KAIDEN_CF_API_BASE=$CF_URL/client/v4 KAIDEN_CF_API_TOKEN=$CF_TOKEN \
		KAIDEN_CF_ACCOUNT_ID=0123456789abcdef0123456789abcdef \
		KAIDEN_CF_ZONE_ID=fedcba9876543210fedcba9876543210 KAIDEN_CF_DOMAIN=kaiden.test \
		KAIDEN_CF_ACCESS_TEAM=kaidenteam KAIDEN_CF_ACCESS_ALLOW=@kaiden.test
	live_restart "kaiden-api and helperd with the fake Cloudflare"
	PATH=$CF/bin:$PATH KAIDEN_FAKE_CF_URL=$CF_URL KAIDEN_FAKE_CLOUDFLARED_DIR=$CF/cfd \
		PORTAL_PROVIDER=cloudflare PORTAL_URL=$STACK_URL PORTAL_EMAIL=$EMAIL \
		PORTAL_PASSWORD_FILE=$PW PORTAL_CUSTOMER=$CUSTOMER PORTAL_DEVICE=$DEVICE \
		PORTAL_TOKEN=$STACK_TOKEN PORTAL_DB=$DB PORTAL_OUT=$WORK/browser/50_live-cf \
		PORTAL_SHOTS=$WORK/browser/screenshots-cf \
		/usr/bin/python3 tests/portal/50_live.py >"$WORK/browser-50_live-cf.out" \
		2>"$WORK/browser-50_live-cf.err"
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "50_live (Cloudflare): ${line#ok }" ;;
		"FAIL "*) line=${line#FAIL }; bad "50_live (Cloudflare): ${line%%: *}" "${line#*: }" ;;
		esac
	done <"$WORK/browser-50_live-cf.out"
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$WORK/browser-50_live-cf.out"; then
		bad "50_live (Cloudflare)" "exit $rc: $(tail -n 5 "$WORK/browser-50_live-cf.err")"
	fi
	unset KAIDEN_CF_API_BASE KAIDEN_CF_API_TOKEN KAIDEN_CF_ACCOUNT_ID KAIDEN_CF_ZONE_ID \
		KAIDEN_CF_DOMAIN KAIDEN_CF_ACCESS_TEAM KAIDEN_CF_ACCESS_ALLOW
	live_restart "kaiden-api and helperd back on the relay"
	kill "$CF_PID" 2>/dev/null
	wait "$CF_PID" 2>/dev/null
fi
# ---- end live ----------------------------------------------------------------------

# nginx's headers for the portal.
hdr() { curl -sS -o /dev/null -D - "$@" | tr -d '\r' | tr '[:upper:]' '[:lower:]'; }
h=$(hdr "$STACK_URL/")
csp=$(sed -n 's/^content-security-policy: //p' <<<"$h")
if [[ $csp == *"script-src 'self'"* && $csp == *"default-src 'self'"* && $csp != *unsafe-inline* && $csp != *unsafe-eval* ]]; then
	ok "/ has a strict Content-Security-Policy"
else
	bad "/ has a strict Content-Security-Policy" "got: $csp"
fi
check "/ (index.html) is not cached without revalidation" grep -q '^cache-control: no-cache' <<<"$h"
# The assets are under /app/<hash>/ (scripts/www.sh), the path index.html names.
APP=$(curl -sS "$STACK_URL/" | sed -n 's|.*src="\(/app/[0-9a-f]\{12\}/\)main.js".*|\1|p')
check "index.html loads main.js from /app/<hash>/ ($APP)" test -n "$APP"
h=$(hdr -H 'Accept-Encoding: gzip' "$STACK_URL${APP:-/app/}api.js")
check "a script is served gzipped" grep -q '^content-encoding: gzip' <<<"$h"
check "a script is served as JavaScript" grep -q '^content-type: application/javascript' <<<"$h"
check "a script carries the CSP too" grep -q '^content-security-policy: ' <<<"$h"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$STACK_URL/help.html")
check "the help page is at /help.html" test "$code" = 200

# Caching (scripts/www.sh, nginx/kaiden.conf): the hashed assets for a year, the pages
# revalidated at every load, and a plain /app/ path (no hash) is not served.
for f in main.js style.css icon.svg pages/devices.js; do
	h=$(hdr "$STACK_URL${APP:-/app/}$f")
	check "$f is kept a year (under /app/<hash>/)" grep -q '^cache-control: max-age=31536000$' <<<"$h"
done
h=$(hdr "$STACK_URL/help.html")
check "/help.html is not cached without revalidation" grep -q '^cache-control: no-cache' <<<"$h"
h=$(hdr "$STACK_URL/index.html")
check "/index.html is not cached without revalidation" grep -q '^cache-control: no-cache' <<<"$h"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$STACK_URL/app/main.js")
check "no unhashed /app/main.js ($code)" test "$code" = 404

# The browser: every tests/portal/NN_name.py in order, each in a fresh chromium, all
# against this stack (tests/portal/browser.py says what each is given).
: >"$STACK_NGINX_DIR/logs/access.log"
export PORTAL_URL=$STACK_URL PORTAL_EMAIL=$EMAIL PORTAL_PASSWORD_FILE=$PW \
	PORTAL_CUSTOMER=$CUSTOMER PORTAL_DEVICE=$DEVICE PORTAL_TOKEN=$STACK_TOKEN \
	PORTAL_DB=$DB PORTAL_SHOTS=$WORK/browser/screenshots
# axe-core for 60_a11y (make node_modules: npm ci of tests/package-lock.json).
export PORTAL_AXE=$PWD/tests/node_modules/axe-core/axe.min.js
# PORTAL_SCRIPTS="15 45" runs only those (a developer's shortcut; make check runs all).
for script in tests/portal/[0-9]*.py; do
	name=$(basename "$script" .py)
	if [ -n "${PORTAL_SCRIPTS:-}" ]; then
		case " $PORTAL_SCRIPTS " in *" ${name%%_*} "*) ;; *) continue ;; esac
	fi
	t0=$SECONDS
	PORTAL_OUT=$WORK/browser/$name /usr/bin/python3 "$script" \
		>"$WORK/browser-$name.out" 2>"$WORK/browser-$name.err"
	rc=$?
	times="${times:-}${times:+, }${name%%_*} $((SECONDS - t0)) s"
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "$name: ${line#ok }" ;;
		"FAIL "*) line=${line#FAIL }; bad "$name: ${line%%: *}" "${line#*: }" ;;
		esac
	done <"$WORK/browser-$name.out"
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$WORK/browser-$name.out"; then
		bad "$name" "exit $rc: $(tail -n 5 "$WORK/browser-$name.err")"
	fi
done
# Where this pass's time went (make check's longest step: worth watching).
echo "  ($TEST_NAME: the scripts took ${times:-nothing})"
n=$(find "$WORK/browser/screenshots" -name "*.png" 2>/dev/null | wc -l)
[ -n "${PORTAL_SCRIPTS:-}" ] || check "screenshots at both widths ($n)" test "$n" -ge 18

# Every answer nginx gave the browser was a success, but the expected refusals of login
# and those a script's drain() allowed (its allowed-answers file: "path status" lines).
# The scripts' own set-up and checks through api() (Python-urllib) are not the browser's.
cat "$WORK"/browser/*/allowed-answers >"$WORK/allowed-answers" 2>/dev/null
badreq=$(awk 'FILENAME == ARGV[1] { ok[$1 " " $2] = 1; next }
	$9 >= 400 && $7 != "/api/v1/auth/login" && !(($7 " " $9) in ok) && $0 !~ /"Python-urllib\// { print $6, $7, $9 }' \
	"$WORK/allowed-answers" "$STACK_NGINX_DIR/logs/access.log")
check "nginx answered the browser no error but login's and the expected ones ($badreq)" test -z "$badreq"

if [ -n "${DOCS_SCREENSHOTS:-}" ] && [ "$FAIL" -eq 0 ]; then
	mkdir -p docs/screenshots && cp "$WORK"/browser/screenshots/*.png docs/screenshots/
fi
summary
