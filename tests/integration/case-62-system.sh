# shellcheck shell=sh
# System health (issue 10): GET /api/v1/admin/system through nginx with a real
# kaiden-helperd: its heartbeat row (helperd_status, migration 0010) is there and
# running, with its version and counts; a second instance's stale row shows as not
# running beside it; jobs, devices and sessions match the database; only platform staff
# may read it (a service token 403, no token 401). /healthz says the mode.

# helperd runs from case-60 on; started here when this case runs alone (CASES=62).
if [ -z "${STACK_HELPERD_PID:-}" ] || ! kill -0 "$STACK_HELPERD_PID" 2>/dev/null; then
	if stack_helperd_start; then ok "start kaiden-helperd"; else bad "start kaiden-helperd" "see its log"; fi
fi

SY_SAVED_TOKEN=$STACK_TOKEN
printf '%s' 'sy-admin-password-1' >"$T/sy.pw"
if "$STACK_BIN" user add --email sy-admin@kaiden.test --name 'SY Admin' --role admin \
	--password-file "$T/sy.pw" >/dev/null 2>"$T/sy.err"; then
	ok "a platform admin for the system page"
else
	bad "a platform admin for the system page" "$(head -c 300 "$T/sy.err")"
fi
raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
	'{"email":"sy-admin@kaiden.test","password":"sy-admin-password-1"}'
expect "the platform admin logs in" 200 '.token | type == "string"'
save SY_ADMIN .token

t "a service token may not read the system status" GET /api/v1/admin/system '' 403 "$(E forbidden)"
raw GET /api/v1/admin/system
expect "no token: 401" 401 "$(E unauthorized)"

case $SUITE_DB in sqlite) SY_MODE=single ;; *) SY_MODE=multi ;; esac
raw GET /healthz
expect "/healthz says the mode ($SY_MODE)" 200 ".mode == \"$SY_MODE\""
if [ "$SY_MODE" = multi ]; then
	expect "/healthz off a tenant's subdomain: tenant_host false" 200 '.tenant_host == false'
	raw GET /healthz -H "Host: default.$KAIDEN_SERVER_BASE_DOMAIN"
	expect "/healthz on a tenant's subdomain: tenant_host true" 200 '.tenant_host == true'
	raw GET /healthz -H "Host: app.$KAIDEN_SERVER_BASE_DOMAIN"
	expect "/healthz on a subdomain that names no tenant: tenant_host false" 200 '.tenant_host == false'
else
	expect "/healthz in single mode has no tenant_host" 200 'has("tenant_host") | not'
fi

STACK_TOKEN=$SY_ADMIN
# helperd beats at start-up and every 5 s: its row is there at once or within a beat.
_i=0
while :; do
	call GET /api/v1/admin/system
	if jq -e '[.helperds[] | select(.running)] | length >= 1' "$T/body" >/dev/null 2>&1 ||
		[ "$_i" -ge 70 ]; then
		break
	fi
	sleep 0.1
	_i=$((_i + 1))
done
expect "the running helperd has its row" 200 \
	'[.helperds[] | select(.running)] | length == 1' \
	'.helperds[0] | (.version | length > 0) and (.every_seconds == 5) and
	 (.agents | type == "number") and (.relay_streams | type == "number") and
	 (.started_at <= .heartbeat_at) and has("cloudflare")' \
	'.checked_at | type == "string"'

# Its heartbeat moves.
SY_BEAT=$(dbq "SELECT CAST(heartbeat_at AS TEXT) FROM helperd_status")
sleep 5.5
dbcheck "helperd rewrites its heartbeat within an interval" \
	"SELECT count(*) FROM helperd_status WHERE CAST(heartbeat_at AS TEXT) <> '$SY_BEAT'" 1

# A second helperd (issue 15) that stopped beating a minute ago: its own row, not running.
SY_OLD=$(date -u -d '-60 seconds' +%Y-%m-%dT%H:%M:%S.000Z)
dbq "INSERT INTO helperd_status (instance, version, started_at, heartbeat_at, every_s, agents,
     relay_streams, cf_used, cf_budget, cf_window_s) VALUES ('zz-stopped', '0.0.9', '$SY_OLD',
     '$SY_OLD', 5, 2, 0, 10, 1200, 300)" >/dev/null
t "a second helperd's stale row shows as not running" GET /api/v1/admin/system '' 200 \
	'(.helperds | length) == 2' \
	'.helperds[] | select(.instance == "zz-stopped") | (.running == false) and
	 (.cloudflare == {"calls_used":10,"budget":1200,"window_seconds":300})' \
	'[.helperds[] | select(.running)] | length == 1'
dbq "DELETE FROM helperd_status WHERE instance = 'zz-stopped'" >/dev/null

# The counts are the database's.
SY_DEV=$(dbq "SELECT count(*) FROM devices WHERE deleted_at IS NULL")
SY_ON=$(dbq "SELECT count(*) FROM devices WHERE deleted_at IS NULL AND status = 'online'")
SY_Q=$(dbq "SELECT count(*) FROM jobs WHERE state = 'queued'")
SY_F=$(dbq "SELECT count(*) FROM jobs WHERE state = 'failed'")
SY_D=$(dbq "SELECT count(*) FROM jobs WHERE state = 'done'")
SY_E=$(dbq "SELECT count(*) FROM sessions WHERE status = 'ended'")
t "jobs, devices and sessions match the database" GET /api/v1/admin/system '' 200 \
	".devices == {\"online\":$SY_ON,\"total\":$SY_DEV}" \
	".jobs.queued == $SY_Q and .jobs.failed == $SY_F and .jobs.done == $SY_D" \
	".sessions.ended == $SY_E" \
	'.sessions | keys == ["active","ended","ending","failed","pending"]'
STACK_TOKEN=$SY_SAVED_TOKEN
