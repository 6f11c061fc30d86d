# shellcheck shell=sh
# Tickets (issue 11): numbers TKT-<today UTC>-NNN from 001, consecutive, also for 20
# creates sent at once; every validation error names its field; list filters, q and
# pages; the status workflow (409 invalid_transition naming the allowed statuses,
# resolved_at set and cleared) with its automatic comments; what a customer may not do
# (403 naming the field) and may not see (internal notes, by any path); assignees must
# be active staff; the max_open_tickets quota (a reopen counts) and usage's
# open_tickets; the audit entries.
#
# Both databases, in a tenant of its own ("tk", made by a platform admin) so that its
# numbers start at 001. Its credentials come from the command line, as in case-80:
# a service token (staff's rights in its tenant), a tenant admin's and a customer's API
# tokens. Staff proper (an engineer naming the tenant with X-Kaiden-Tenant) act in
# another tenant than the default only in multi mode: the PostgreSQL pass; the SQLite
# pass runs the staff steps with the service token.

TK_SAVED_TOKEN=$STACK_TOKEN
TK_DAY=$(date -u +%Y%m%d)
TK_NOID=00000000-0000-7000-8000-000000000000

tk_as() {
	eval "STACK_TOKEN=\$$1"
	CALL_HEADER=
}

# tk_staff: the following requests as staff in tenant tk (see above).
tk_staff() {
	if [ "$SUITE_DB" = postgres ]; then
		STACK_TOKEN=$TK_ENG
		CALL_HEADER="X-Kaiden-Tenant: tk"
	else
		STACK_TOKEN=$TK_SVC
		CALL_HEADER=
	fi
}

# ---- the tenant and its people ----------------------------------------------------------
printf '%s' 'tk-admin-password-1' >"$T/tk.pw"
cli "a platform admin" TK_OUT user add --email tk-admin@kaiden.test --name 'TK Admin' \
	--role admin --password-file "$T/tk.pw"
raw POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary \
	'{"email":"tk-admin@kaiden.test","password":"tk-admin-password-1"}'
expect "the platform admin logs in" 200 '.token | type == "string"'
save TK_ADMIN .token
tk_as TK_ADMIN
t "a tenant for the tickets" POST /api/v1/admin/tenants '{"code":"tk","name":"Tickets Inc"}' 201
save TK_ID .id
cli "an engineer" TK_OUT user add --email tk-eng@kaiden.test --name 'Erin Engineer' \
	--role engineer --password-file "$T/tk.pw"
TK_ENG_ID=$(printf '%s' "$TK_OUT" | jq -r .id 2>/dev/null)
cli "... and an API token of theirs" TK_ENG token create --user tk-eng@kaiden.test --name eng
cli "a second engineer, disabled" TK_OUT user add --email tk-gone@kaiden.test \
	--name 'Gone Engineer' --role engineer --password-file "$T/tk.pw"
TK_GONE_ID=$(printf '%s' "$TK_OUT" | jq -r .id 2>/dev/null)
dbq "UPDATE users SET status = 'disabled' WHERE id = '$TK_GONE_ID'"
cli "a service token of the tenant" TK_SVC token create --tenant tk --name 'tk svc'
cli "a tenant admin" TK_OUT user add --email tina@tk.test --name 'Tina Admin' \
	--role tenant_admin --tenant tk --password-file "$T/tk.pw"
TK_TADM_ID=$(printf '%s' "$TK_OUT" | jq -r .id 2>/dev/null)
cli "... with an API token" TK_TADM token create --user tina@tk.test --tenant tk --name tina
cli "a customer" TK_OUT user add --email carl@tk.test --name 'Carl Customer' \
	--role customer --tenant tk --password-file "$T/tk.pw"
TK_CUST_ID=$(printf '%s' "$TK_OUT" | jq -r .id 2>/dev/null)
cli "... with an API token" TK_CUST token create --user carl@tk.test --tenant tk --name carl
tk_as TK_TADM
t "the tenant admin registers a device" POST /api/v1/devices '{"name":"tk-host"}' 201
save TK_DEV .id
tk_as TK_SAVED_TOKEN
t "a device of another tenant (the default)" POST /api/v1/devices '{"name":"not-tk"}' 201
save TK_OTHER_DEV .id

# ---- create --------------------------------------------------------------------------------
tk_as TK_CUST
t "a customer opens a ticket" POST /api/v1/tickets \
	"{\"title\":\"Printer on fire\",\"description\":\"It smokes.\\nA lot.\",\"device_id\":\"$TK_DEV\"}" 201 \
	".number == \"TKT-$TK_DAY-001\"" '.status == "open"' '.priority == "normal"' \
	".device_id == \"$TK_DEV\"" ".created_by == \"$TK_CUST_ID\"" '.assigned_to == null' \
	'.resolved_at == null' '.cluster_id == null' '.description == "It smokes.\nA lot."' \
	'.created_at == .updated_at'
save TK_T1 .id
loc=$(hval Location)
if [ "$loc" = "/api/v1/tickets/$TK_T1" ]; then ok "201 carries Location"; else bad "201 carries Location" "Location: '$loc'"; fi
tk_as TK_TADM
t "the tenant admin opens the second: 002" POST /api/v1/tickets \
	'{"title":"VPN drops","priority":"high"}' 201 ".number == \"TKT-$TK_DAY-002\"" \
	'.priority == "high"' ".created_by == \"$TK_TADM_ID\"" '.description == ""'
save TK_T2 .id
tk_staff
t "staff open the third: 003" POST /api/v1/tickets '{"title":"Disk 90% full","priority":"low","description":"on db-2"}' 201 \
	".number == \"TKT-$TK_DAY-003\"" '.priority == "low"'
save TK_T3 .id

tk_as TK_CUST
snap
t "no title" POST /api/v1/tickets '{"description":"x"}' 400 "$(E missing_field title)"
t "an empty title" POST /api/v1/tickets '{"title":""}' 400 "$(E invalid_field title)"
t "a blank title" POST /api/v1/tickets '{"title":"   "}' 400 "$(E invalid_field title)"
t "a 201-character title" POST /api/v1/tickets "{\"title\":\"$(repeat 201 t)\"}" 400 \
	"$(E invalid_field title)"
t "a title with a newline" POST /api/v1/tickets '{"title":"a\nb"}' 400 "$(E invalid_field title)"
t "a title that is no string" POST /api/v1/tickets '{"title":7}' 400 "$(E invalid_field title)"
printf '{"title":"long","description":"%s"}' "$(repeat 20001 d)" >"$T/tk-long.json"
t "a description of 20001 characters" POST /api/v1/tickets "@$T/tk-long.json" 400 \
	"$(E invalid_field description)"
t "an unknown priority" POST /api/v1/tickets '{"title":"x","priority":"asap"}' 400 \
	"$(E invalid_field priority)"
t "a device id that is no id" POST /api/v1/tickets '{"title":"x","device_id":"nope"}' 400 \
	"$(E invalid_field device_id)"
t "an unknown device" POST /api/v1/tickets "{\"title\":\"x\",\"device_id\":\"$TK_NOID\"}" 422 \
	"$(E invalid_reference device_id)"
t "another tenant's device" POST /api/v1/tickets \
	"{\"title\":\"x\",\"device_id\":\"$TK_OTHER_DEV\"}" 422 "$(E invalid_reference device_id)"
t "an unknown cluster" POST /api/v1/tickets "{\"title\":\"x\",\"cluster_id\":\"$TK_NOID\"}" 422 \
	"$(E invalid_reference cluster_id)" '.error.message | test("no such cluster")'
t "a cluster id that is no id" POST /api/v1/tickets '{"title":"x","cluster_id":"nope"}' 400 \
	"$(E invalid_field cluster_id)"
t "an unknown field" POST /api/v1/tickets '{"title":"x","status":"closed"}' 400 \
	"$(E unknown_field status)"
t "not JSON" POST /api/v1/tickets '{"title":' 400 "$(E invalid_json)"
unchanged "no refused create wrote a row"
dbcheck "no refused create took a number" \
	"SELECT last FROM ticket_counters WHERE tenant_id = '$TK_ID' AND day = '$TK_DAY'" 3

# ---- read ---------------------------------------------------------------------------------
t "a customer reads a ticket of their tenant" GET "/api/v1/tickets/$TK_T2" '' 200 \
	".id == \"$TK_T2\"" '.title == "VPN drops"'
t "an unknown ticket" GET "/api/v1/tickets/$TK_NOID" '' 404 "$(E not_found)"
t "a malformed id" GET /api/v1/tickets/nope '' 404 "$(E not_found)"
t "the list, newest first" GET /api/v1/tickets '' 200 \
	"[.items[].id] == [\"$TK_T3\", \"$TK_T2\", \"$TK_T1\"]" '.next_cursor == null'
t "by priority" GET '/api/v1/tickets?priority=high' '' 200 "[.items[].id] == [\"$TK_T2\"]"
t "a queue's order: the most urgent first" GET '/api/v1/tickets?sort=priority' '' 200 \
	"[.items[].id] == [\"$TK_T2\", \"$TK_T1\", \"$TK_T3\"]"
t "... in pages: 1" GET '/api/v1/tickets?sort=priority&limit=1' '' 200 \
	"[.items[].id] == [\"$TK_T2\"]" ".next_cursor == \"$TK_T2\""
t "... 2" GET "/api/v1/tickets?sort=priority&limit=1&cursor=$TK_T2" '' 200 \
	"[.items[].id] == [\"$TK_T1\"]" ".next_cursor == \"$TK_T1\""
t "... 3" GET "/api/v1/tickets?sort=priority&limit=1&cursor=$TK_T1" '' 200 \
	"[.items[].id] == [\"$TK_T3\"]" '.next_cursor == null'
t "sort=newest is the default order" GET '/api/v1/tickets?sort=newest' '' 200 \
	"[.items[].id] == [\"$TK_T3\", \"$TK_T2\", \"$TK_T1\"]"
t "by device" GET "/api/v1/tickets?device_id=$TK_DEV" '' 200 "[.items[].id] == [\"$TK_T1\"]"
t "q in the title, any case" GET '/api/v1/tickets?q=PRINTER' '' 200 "[.items[].id] == [\"$TK_T1\"]"
t "q in the description" GET '/api/v1/tickets?q=db-2' '' 200 "[.items[].id] == [\"$TK_T3\"]"
t "q on the number" GET "/api/v1/tickets?q=$TK_DAY-002" '' 200 "[.items[].id] == [\"$TK_T2\"]"
t "q is literal (% matches a %)" GET '/api/v1/tickets?q=%25' '' 200 "[.items[].id] == [\"$TK_T3\"]"
t "q is literal (_ matches no other character)" GET '/api/v1/tickets?q=VPN_' '' 200 '.items == []'
t "unassigned" GET '/api/v1/tickets?assigned_to=none' '' 200 '.items | length == 3'
t "status open" GET '/api/v1/tickets?status=open' '' 200 '.items | length == 3'
t "page 1 of 2" GET '/api/v1/tickets?limit=2' '' 200 "[.items[].id] == [\"$TK_T3\", \"$TK_T2\"]" \
	".next_cursor == \"$TK_T2\""
t "page 2 of 2" GET "/api/v1/tickets?limit=2&cursor=$TK_T2" '' 200 \
	"[.items[].id] == [\"$TK_T1\"]" '.next_cursor == null'
t "a bad status filter" GET '/api/v1/tickets?status=done' '' 400 "$(E invalid_query status)"
t "a bad priority filter" GET '/api/v1/tickets?priority=9' '' 400 "$(E invalid_query priority)"
t "a bad sort" GET '/api/v1/tickets?sort=oldest' '' 400 "$(E invalid_query sort)" \
	'.error.message | test("newest or priority")'
t "a bad assigned_to" GET '/api/v1/tickets?assigned_to=bob' '' 400 "$(E invalid_query assigned_to)"
t "a bad device_id" GET '/api/v1/tickets?device_id=x' '' 400 "$(E invalid_query device_id)"
t "a bad limit" GET '/api/v1/tickets?limit=0' '' 400 "$(E invalid_query limit)"
t "a bad cursor" GET '/api/v1/tickets?cursor=x' '' 400 "$(E invalid_query cursor)"
tk_as TK_SVC
t "me: a service token is no user" GET '/api/v1/tickets?assigned_to=me' '' 400 \
	"$(E invalid_query assigned_to)"

# ---- assignment and the workflow, as staff ---------------------------------------------------
tk_staff
t "assign to a tenant user: refused" PATCH "/api/v1/tickets/$TK_T1" \
	"{\"assigned_to\":\"$TK_CUST_ID\"}" 422 "$(E invalid_reference assigned_to)"
t "assign to a disabled engineer: refused" PATCH "/api/v1/tickets/$TK_T1" \
	"{\"assigned_to\":\"$TK_GONE_ID\"}" 422 "$(E invalid_reference assigned_to)"
t "assign to nobody known: refused" PATCH "/api/v1/tickets/$TK_T1" \
	"{\"assigned_to\":\"$TK_NOID\"}" 422 "$(E invalid_reference assigned_to)"
t "assign to an id that is no id" PATCH "/api/v1/tickets/$TK_T1" '{"assigned_to":"x"}' 400 \
	"$(E invalid_field assigned_to)"
t "an empty patch" PATCH "/api/v1/tickets/$TK_T1" '{}' 400 "$(E missing_field)"
t "an unknown status" PATCH "/api/v1/tickets/$TK_T1" '{"status":"done"}' 400 "$(E invalid_field status)"
t "a patch with a cluster" PATCH "/api/v1/tickets/$TK_T1" "{\"cluster_id\":\"$TK_NOID\"}" 422 \
	"$(E invalid_reference cluster_id)"
t "another tenant's device" PATCH "/api/v1/tickets/$TK_T1" "{\"device_id\":\"$TK_OTHER_DEV\"}" 422 \
	"$(E invalid_reference device_id)"
t "open -> resolved is refused, naming in_progress" PATCH "/api/v1/tickets/$TK_T1" \
	'{"status":"resolved"}' 409 "$(E invalid_transition status)" \
	'.error.message | test("in_progress")'
t "assign the engineer, raise the priority, start work" PATCH "/api/v1/tickets/$TK_T1" \
	"{\"assigned_to\":\"$TK_ENG_ID\",\"priority\":\"urgent\",\"status\":\"in_progress\"}" 200 \
	".assigned_to == \"$TK_ENG_ID\"" '.priority == "urgent"' '.status == "in_progress"' \
	'.updated_at > .created_at'
t "in_progress -> open is refused, naming resolved" PATCH "/api/v1/tickets/$TK_T1" \
	'{"status":"open"}' 409 "$(E invalid_transition status)" '.error.message | test("resolved")'
t "resolve" PATCH "/api/v1/tickets/$TK_T1" '{"status":"resolved"}' 200 '.status == "resolved"' \
	'.resolved_at | type == "string"'
t "resolved -> in_progress is refused, naming closed and open" PATCH "/api/v1/tickets/$TK_T1" \
	'{"status":"in_progress"}' 409 "$(E invalid_transition status)" \
	'.error.message | test("closed") and test("open")'
if [ "$SUITE_DB" = postgres ]; then
	t "assigned_to=me for the engineer" GET '/api/v1/tickets?assigned_to=me' '' 200 \
		"[.items[].id] == [\"$TK_T1\"]"
fi
t "assigned_to=<id>" GET "/api/v1/tickets?assigned_to=$TK_ENG_ID" '' 200 "[.items[].id] == [\"$TK_T1\"]"
t "status resolved" GET '/api/v1/tickets?status=resolved' '' 200 "[.items[].id] == [\"$TK_T1\"]"
t "the changes wrote their comments" GET "/api/v1/tickets/$TK_T1/comments" '' 200 \
	'[.items[] | select(.type == "status_change") | .body] == ["status: open -> in_progress", "status: in_progress -> resolved"]' \
	'[.items[] | select(.type == "system") | .body] | (any(test("^priority: normal -> urgent$")) and any(test("^assigned_to: none -> ")))' \
	'[.items[] | .internal] | all(. == false)'
if [ "$SUITE_DB" = postgres ]; then
	expect "... signed with the engineer's name" 200 \
		"[.items[] | select(.type != \"comment\") | .author_name] | all(. == \"Erin Engineer\")" \
		"[.items[] | .author_id] | all(. == \"$TK_ENG_ID\")"
else
	expect "... signed with the service token's name" 200 \
		'[.items[] | select(.type != "comment") | .author_name] | all(. == "tk svc")' \
		'[.items[] | .author_id] | all(. == null)'
fi
t "staff write an internal note" POST "/api/v1/tickets/$TK_T1/comments" \
	'{"body":"customer uses an unsupported toner","internal":true}' 201 '.internal == true' \
	'.type == "comment"'
save TK_NOTE .id
t "and a public answer" POST "/api/v1/tickets/$TK_T1/comments" '{"body":"Fixed: new toner."}' 201 \
	'.internal == false'
t "staff see the internal note" GET "/api/v1/tickets/$TK_T1/comments" '' 200 \
	"[.items[].id] | index(\"$TK_NOTE\") != null"

# ---- what a customer may and may not do ----------------------------------------------------
for cred in TK_CUST TK_TADM; do
	tk_as "$cred"
	snap
	TK_BEFORE=$(dbq "SELECT status || priority || coalesce(CAST(assigned_to AS TEXT), '-') FROM tickets WHERE id = '$TK_T2'")
	t "$cred may not assign" PATCH "/api/v1/tickets/$TK_T2" "{\"assigned_to\":\"$TK_ENG_ID\"}" 403 \
		"$(E forbidden assigned_to)"
	t "$cred may not reprioritise" PATCH "/api/v1/tickets/$TK_T2" '{"priority":"urgent"}' 403 \
		"$(E forbidden priority)"
	t "$cred may not move to in_progress" PATCH "/api/v1/tickets/$TK_T2" '{"status":"in_progress"}' 403 \
		"$(E forbidden status)"
	t "$cred may not resolve" PATCH "/api/v1/tickets/$TK_T2" '{"status":"resolved"}' 403 \
		"$(E forbidden status)"
	t "$cred may not write internal notes" POST "/api/v1/tickets/$TK_T2/comments" \
		'{"body":"psst","internal":true}' 403 "$(E forbidden internal)"
	unchanged "$cred's refusals wrote nothing"
	t "$cred: the same priority again is no change" PATCH "/api/v1/tickets/$TK_T2" \
		'{"priority":"high","title":"VPN drops"}' 200 '.priority == "high"'
	dbcheck "$cred changed nothing of the ticket" \
		"SELECT status || priority || coalesce(CAST(assigned_to AS TEXT), '-') FROM tickets WHERE id = '$TK_T2'" \
		"$TK_BEFORE"
	t "$cred does not see the internal note" GET "/api/v1/tickets/$TK_T1/comments" '' 200 \
		"[.items[].id] | index(\"$TK_NOTE\") == null" '[.items[] | .internal] | all(. == false)' \
		'[.items[] | .body] | index("Fixed: new toner.") != null'
	t "$cred: not by paging either" GET "/api/v1/tickets/$TK_T1/comments?limit=1" '' 200 \
		'.items | length == 1' '.items[0].internal == false'
	for _c in $(jq -r '.next_cursor // empty' "$T/body"); do
		t "$cred: ... nor from the cursor on" GET "/api/v1/tickets/$TK_T1/comments?cursor=$_c&limit=200" '' 200 \
			"[.items[].id] | index(\"$TK_NOTE\") == null"
	done
	t "$cred: the note's id as a cursor shows only public comments" GET \
		"/api/v1/tickets/$TK_T1/comments?cursor=$TK_NOTE" '' 200 '[.items[] | .internal] | all(. == false)'
	t "$cred: the note's id is no ticket" GET "/api/v1/tickets/$TK_NOTE" '' 404 "$(E not_found)"
	t "$cred: nor has comments" GET "/api/v1/tickets/$TK_NOTE/comments" '' 404 "$(E not_found)"
	if grep -q 'unsupported toner' "$T/body"; then bad "$cred never reads the note's text" "it is in a reply"; else ok "$cred never reads the note's text"; fi
done
tk_as TK_CUST
t "a customer comments" POST "/api/v1/tickets/$TK_T1/comments" '{"body":"Thanks!"}' 201 \
	".author_id == \"$TK_CUST_ID\"" '.author_name == "Carl Customer"' '.internal == false' \
	".ticket_id == \"$TK_T1\""
t "a blank comment" POST "/api/v1/tickets/$TK_T1/comments" '{"body":"  "}' 400 "$(E invalid_field body)"
t "no body" POST "/api/v1/tickets/$TK_T1/comments" '{}' 400 "$(E missing_field body)"
printf '{"body":"%s"}' "$(repeat 20001 b)" >"$T/tk-long.json"
t "a body of 20001 characters" POST "/api/v1/tickets/$TK_T1/comments" "@$T/tk-long.json" 400 \
	"$(E invalid_field body)"
t "internal must be a boolean" POST "/api/v1/tickets/$TK_T1/comments" '{"body":"x","internal":"no"}' 400 \
	"$(E invalid_field internal)"
t "a customer closes the resolved ticket" PATCH "/api/v1/tickets/$TK_T1" '{"status":"closed"}' 200 \
	'.status == "closed"' '.resolved_at | type == "string"'
t "... and reopens it: resolved_at cleared" PATCH "/api/v1/tickets/$TK_T1" '{"status":"open"}' 200 \
	'.status == "open"' '.resolved_at == null'
t "closing an open ticket: 409 naming in_progress" PATCH "/api/v1/tickets/$TK_T1" \
	'{"status":"closed"}' 409 "$(E invalid_transition status)" '.error.message | test("in_progress")'
t "a customer edits the title" PATCH "/api/v1/tickets/$TK_T2" '{"title":"VPN drops hourly"}' 200 \
	'.title == "VPN drops hourly"'
t "the customer's status change is signed by them" GET "/api/v1/tickets/$TK_T1/comments?limit=200" '' 200 \
	'[.items[] | select(.type == "status_change")] | last | .body == "status: closed -> open"' \
	'[.items[] | select(.type == "status_change")] | last | .author_name == "Carl Customer"'

# ---- 20 creates at once ---------------------------------------------------------------------
TK_LAST=$(dbq "SELECT last FROM ticket_counters WHERE tenant_id = '$TK_ID' AND day = '$TK_DAY'")
# tk_burst N: N creates sent at once by the customer; each reply in $T/tk-par/<i>.json,
# and their statuses counted in TK_CODES (" <count> <status>" lines, joined).
tk_burst() {
	mkdir -p "$T/tk-par"
	rm -f "$T/tk-par/"*
	_pids=
	for i in $(seq 1 "$1"); do
		curl -sS --max-time 30 -o "$T/tk-par/$i.json" -w '%{http_code}' \
			-H "Authorization: Bearer $TK_CUST" -H 'Content-Type: application/json' \
			--data-binary "{\"title\":\"parallel $i\"}" "$STACK_URL/api/v1/tickets" \
			>"$T/tk-par/$i.code" 2>/dev/null &
		_pids="$_pids $!"
	done
	# shellcheck disable=SC2086
	wait $_pids
	TK_CODES=$(for f in "$T/tk-par/"*.code; do cat "$f"; echo; done | sort | uniq -c | tr '\n' ' ' | tr -s ' ')
}
tk_burst 20
if [ "$TK_CODES" = " 20 201 " ]; then ok "20 parallel creates: all 201"; else bad "20 parallel creates: all 201" "$TK_CODES"; fi
_got=$(cat "$T/tk-par/"*.json | jq -r '.number' | sort | tr '\n' ' ')
_want=$(for i in $(seq 1 20); do printf 'TKT-%s-%03d ' "$TK_DAY" $((TK_LAST + i)); done)
if [ "$_got" = "$_want" ]; then
	ok "20 parallel creates got 20 consecutive numbers"
else
	LAST=
	bad "20 parallel creates got 20 consecutive numbers" "got $_got want $_want"
fi
dbcheck "the counter says 20 more" \
	"SELECT last FROM ticket_counters WHERE tenant_id = '$TK_ID' AND day = '$TK_DAY'" $((TK_LAST + 20))

# ---- the quota and usage ---------------------------------------------------------------------
tk_as TK_TADM
t "usage counts open tickets (open and in_progress)" GET /api/v1/tenant/usage '' 200 \
	'.open_tickets == 23'
tk_as TK_ADMIN
t "a max_open_tickets of 0 is refused" PATCH "/api/v1/admin/tenants/$TK_ID" \
	'{"quotas":{"max_open_tickets":0}}' 400 "$(E invalid_field quotas)"
t "max_open_tickets is a quota" PATCH "/api/v1/admin/tenants/$TK_ID" \
	'{"quotas":{"max_open_tickets":23}}' 200 '.quotas == {"max_open_tickets":23}'
tk_as TK_CUST
snap
t "at the quota a create is refused" POST /api/v1/tickets '{"title":"one too many"}' 409 \
	"$(E quota_exceeded)" '.error.message | test("max_open_tickets") and test("23")'
unchanged "... writing nothing"
dbcheck "... and taking no number" \
	"SELECT last FROM ticket_counters WHERE tenant_id = '$TK_ID' AND day = '$TK_DAY'" $((TK_LAST + 20))
tk_staff
t "resolving one makes room" PATCH "/api/v1/tickets/$TK_T3" '{"status":"in_progress"}' 200
t "..." PATCH "/api/v1/tickets/$TK_T3" '{"status":"resolved"}' 200
tk_as TK_TADM
t "usage: one fewer open" GET /api/v1/tenant/usage '' 200 '.open_tickets == 22' \
	'.quotas.max_open_tickets == 23'
tk_as TK_CUST
t "a create fits again" POST /api/v1/tickets '{"title":"fits"}' 201
t "a reopen counts as opening: refused at the quota" PATCH "/api/v1/tickets/$TK_T3" \
	'{"status":"open"}' 409 "$(E quota_exceeded)"
t "... and left the ticket resolved" GET "/api/v1/tickets/$TK_T3" '' 200 '.status == "resolved"' \
	'.resolved_at | type == "string"'
t "closing it still works" PATCH "/api/v1/tickets/$TK_T3" '{"status":"closed"}' 200 '.status == "closed"'
tk_as TK_ADMIN
t "the quota lifted" PATCH "/api/v1/admin/tenants/$TK_ID" '{"quotas":{}}' 200 '.quotas == {}'
tk_as TK_CUST
t "the reopen goes through" PATCH "/api/v1/tickets/$TK_T3" '{"status":"open"}' 200 '.status == "open"'

# The quota is counted before the insert, in its transaction: of 12 creates sent at once
# with room for 5, exactly 5 get in.
tk_as TK_ADMIN
t "room for 5 more" PATCH "/api/v1/admin/tenants/$TK_ID" '{"quotas":{"max_open_tickets":29}}' 200
tk_as TK_CUST
t "a customer may not read usage" GET /api/v1/tenant/usage '' 403 "$(E forbidden)"
tk_as TK_TADM
t "usage: 24 open" GET /api/v1/tenant/usage '' 200 '.open_tickets == 24'
tk_burst 12
if [ "$TK_CODES" = " 5 201 7 409 " ]; then ok "12 creates at once with room for 5: 5 in, 7 quota_exceeded"; else bad "12 creates at once with room for 5: 5 in, 7 quota_exceeded" "$TK_CODES"; fi
t "usage: at the quota exactly" GET /api/v1/tenant/usage '' 200 '.open_tickets == 29'
_got=$(cat "$T/tk-par/"*.json | jq -r 'select(.error) | .error.code' | sort -u)
if [ "$_got" = quota_exceeded ]; then ok "the refused ones say quota_exceeded"; else bad "the refused ones say quota_exceeded" "$_got"; fi
tk_as TK_ADMIN
t "the quota lifted again" PATCH "/api/v1/admin/tenants/$TK_ID" '{"quotas":{}}' 200

# ---- audit -----------------------------------------------------------------------------------
tk_as TK_TADM
t "ticket.create is audited" GET "/api/v1/audit?action=ticket.create&target_id=$TK_T1" '' 200 \
	'.items | length == 1' ".items[0].actor_id == \"$TK_CUST_ID\"" \
	".items[0].details.number == \"TKT-$TK_DAY-001\""
t "ticket.update names the changed fields" GET "/api/v1/audit?action=ticket.update&target_id=$TK_T1&limit=200" '' 200 \
	'[.items[] | .details.fields] | any(. == ["priority", "status", "assigned_to"])' \
	'[.items[] | .details.status] | index("closed") != null'
t "ticket.comment is audited without the body" GET "/api/v1/audit?action=ticket.comment&target_id=$TK_T1&limit=200" '' 200 \
	'.items | length == 3' '[.items[] | .details.internal] | sort == [false, false, true]' \
	'[.items[] | .details | has("body")] | all(. == false)'
if grep -q 'unsupported toner' "$T/body"; then bad "the audit log never holds a comment's text" "it does"; else ok "the audit log never holds a comment's text"; fi

STACK_TOKEN=$TK_SAVED_TOKEN
CALL_HEADER=
