# shellcheck shell=sh
# Sessions: create (pending, public URL from KAIDEN_CF_DOMAIN, a session.start job),
# list with filters, get, PATCH notes, DELETE (202 ending, then 200 unchanged, one
# session.end job), device_busy, invalid_reference, and a device's history.

NOID=00000000-0000-7000-8000-000000000000
call POST /api/v1/devices '{"name":"sess-dev-b"}'
save DEV_B .id

t "create a session" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_A\",\"engineer_name\":\"Mia Chen\",\"notes\":\"disk full\\non /var\\tcheck\"}" 201 \
	'.status == "pending"' ".device_id == \"$DEV_A\"" '.engineer_name == "Mia Chen"' \
	'.notes == "disk full\non /var\tcheck"' \
	'.public_url | test("^https://sess-[a-z0-9]{10}\\.kaiden\\.test$")' \
	'.ssh_hostname == (.public_url | ltrimstr("https://") | sub("\\.kaiden\\.test$"; "-ssh.kaiden.test"))' \
	'.ssh_port == 22' '.web_port == 8080' '.ended_at == null' \
	'.id | test("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")'
save S1 .id
loc=$(hval Location)
if [ "$loc" = "/api/v1/sessions/$S1" ]; then ok "201 carries Location"; else bad "201 carries Location" "Location: '$loc'"; fi
dbcheck "a session.start job was written with the session" \
	"SELECT count(*) FROM jobs WHERE session_id = '$S1' AND kind = 'session.start'" 1

t "create a second session on the same device" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_A\",\"engineer_name\":\"Ola\"}" 201 '.notes == null'
save S2 .id
t "create a session on another device (notes null)" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_B\",\"engineer_name\":\"Ola\",\"notes\":null}" 201 '.notes == null'
save S3 .id
call GET "/api/v1/sessions/$S1"
save URL1 .public_url
t "... each with its own public URL" GET "/api/v1/sessions/$S2" '' 200 ".public_url != \"$URL1\""
dbcheck "one session.start job per session" \
	"SELECT count(*) FROM jobs WHERE kind = 'session.start'" 3

t "get a session" GET "/api/v1/sessions/$S1" '' 200 ".id == \"$S1\"" '.status == "pending"'
t "HEAD a session" HEAD "/api/v1/sessions/$S1" '' 200
t "get: malformed session id" GET /api/v1/sessions/nope '' 404 "$(E not_found)"
t "get: unknown session id" GET "/api/v1/sessions/$NOID" '' 404 "$(E not_found)"

# Lists.
t "list sessions" GET /api/v1/sessions '' 200 "[.items[].id] == [\"$S3\",\"$S2\",\"$S1\"]" '.next_cursor == null'
t "list by device_id" GET "/api/v1/sessions?device_id=$DEV_A" '' 200 "[.items[].id] == [\"$S2\",\"$S1\"]"
t "list by another device_id" GET "/api/v1/sessions?device_id=$DEV_B" '' 200 "[.items[].id] == [\"$S3\"]"
t "list by an unknown device_id" GET "/api/v1/sessions?device_id=$NOID" '' 200 '.items == []'
t "list by status=pending" GET "/api/v1/sessions?status=pending" '' 200 '.items | length == 3'
t "list by status=active" GET "/api/v1/sessions?status=active" '' 200 '.items == []'
t "list sessions, page 1 of 2" GET "/api/v1/sessions?limit=2" '' 200 "[.items[].id] == [\"$S3\",\"$S2\"]"
save CUR .next_cursor
t "list sessions, page 2 of 2" GET "/api/v1/sessions?limit=2&cursor=$CUR" '' 200 "[.items[].id] == [\"$S1\"]" '.next_cursor == null'
t "list: malformed device_id" GET "/api/v1/sessions?device_id=abc" '' 400 "$(E invalid_query device_id)"
t "list: status=bogus" GET "/api/v1/sessions?status=bogus" '' 400 "$(E invalid_query status)"
t "list: limit=0" GET "/api/v1/sessions?limit=0" '' 400 "$(E invalid_query limit)"
t "list: malformed cursor" GET "/api/v1/sessions?cursor=zz" '' 400 "$(E invalid_query cursor)"

# Validation of the create body; none of it may write a row.
snap
t "create: device_id missing" POST /api/v1/sessions '{"engineer_name":"x"}' 400 "$(E missing_field device_id)"
t "create: engineer_name missing" POST /api/v1/sessions "{\"device_id\":\"$DEV_A\"}" 400 "$(E missing_field engineer_name)"
t "create: device_id malformed" POST /api/v1/sessions '{"device_id":"dev-1","engineer_name":"x"}' 400 "$(E invalid_field device_id)"
t "create: device_id a number" POST /api/v1/sessions '{"device_id":7,"engineer_name":"x"}' 400 "$(E invalid_field device_id)"
t "create: engineer_name empty" POST /api/v1/sessions "{\"device_id\":\"$DEV_A\",\"engineer_name\":\"\"}" 400 "$(E invalid_field engineer_name)"
t "create: engineer_name 129 characters" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_A\",\"engineer_name\":\"$(repeat 129 e)\"}" 400 "$(E invalid_field engineer_name)"
t "create: notes 4097 characters" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_A\",\"engineer_name\":\"x\",\"notes\":\"$(repeat 4097 n)\"}" 400 "$(E invalid_field notes)"
t "create: unknown member" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_A\",\"engineer_name\":\"x\",\"status\":\"active\"}" 400 "$(E unknown_field status)"
t "create: unknown device" POST /api/v1/sessions \
	"{\"device_id\":\"$NOID\",\"engineer_name\":\"x\"}" 422 "$(E invalid_reference device_id)"
t "create: deleted device" POST /api/v1/sessions \
	"{\"device_id\":\"$DEV_PCT\",\"engineer_name\":\"x\"}" 422 "$(E invalid_reference device_id)"
unchanged "refused session creates wrote nothing"

# PATCH notes.
t "patch notes" PATCH "/api/v1/sessions/$S2" '{"notes":"called the customer"}' 200 \
	'.notes == "called the customer"' ".id == \"$S2\"" '.status == "pending"'
t "... and get shows them" GET "/api/v1/sessions/$S2" '' 200 '.notes == "called the customer"'
t "patch notes to null clears them" PATCH "/api/v1/sessions/$S2" '{"notes":null}' 200 '.notes == null'
t "patch 4096-character notes" PATCH "/api/v1/sessions/$S2" "{\"notes\":\"$(repeat 4096 z)\"}" 200 '.notes | length == 4096'
snap
t "patch: 4097-character notes" PATCH "/api/v1/sessions/$S2" "{\"notes\":\"$(repeat 4097 z)\"}" 400 "$(E invalid_field notes)"
t "patch: notes missing" PATCH "/api/v1/sessions/$S2" '{}' 400 "$(E missing_field notes)"
t "patch: notes a number" PATCH "/api/v1/sessions/$S2" '{"notes":5}' 400 "$(E invalid_field notes)"
t "patch: other member" PATCH "/api/v1/sessions/$S2" '{"notes":"a","status":"ended"}' 400 "$(E unknown_field status)"
t "patch: control character in notes" PATCH "/api/v1/sessions/$S2" '{"notes":"bell\u0007"}' 400 "$(E invalid_field notes)"
t "patch: unknown session" PATCH "/api/v1/sessions/$NOID" '{"notes":"a"}' 404 "$(E not_found)"
t "patch: malformed id" PATCH /api/v1/sessions/xyz '{"notes":"a"}' 404 "$(E not_found)"
t "patch: no body" PATCH "/api/v1/sessions/$S2" '' 415 "$(E unsupported_media_type)"
t "... the notes are as they were" GET "/api/v1/sessions/$S2" '' 200 '.notes | length == 4096'
unchanged "refused patches wrote nothing"

# A device with a live session cannot go.
t "delete a device with a pending session: 409" DELETE "/api/v1/devices/$DEV_A" '' 409 "$(E device_busy)"
t "... it is still there" GET "/api/v1/devices/$DEV_A" '' 200

# DELETE ends a session.
t "end a session: 202 ending" DELETE "/api/v1/sessions/$S1" '' 202 ".id == \"$S1\"" '.status == "ending"'
dbcheck "a session.end job was written" \
	"SELECT count(*) FROM jobs WHERE session_id = '$S1' AND kind = 'session.end'" 1
t "end it again: 200, unchanged" DELETE "/api/v1/sessions/$S1" '' 200 '.status == "ending"'
dbcheck "no second session.end job" \
	"SELECT count(*) FROM jobs WHERE session_id = '$S1' AND kind = 'session.end'" 1
t "list by status=ending" GET "/api/v1/sessions?status=ending" '' 200 "[.items[].id] == [\"$S1\"]"
t "end: unknown session" DELETE "/api/v1/sessions/$NOID" '' 404 "$(E not_found)"
t "end: malformed id" DELETE /api/v1/sessions/1 '' 404 "$(E not_found)"
t "an ending session still holds the device: 409" DELETE "/api/v1/devices/$DEV_A" '' 409 "$(E device_busy)"
t "end the second session" DELETE "/api/v1/sessions/$S2" '' 202 '.status == "ending"'

# helperd (not yet written) moves ending -> ended; stand in for it in the database,
# then the device can go, and its sessions stay readable.
dbq "UPDATE sessions SET status = 'ended' WHERE device_id = '$DEV_A'" >/dev/null
t "an ended session: DELETE answers 200 unchanged" DELETE "/api/v1/sessions/$S1" '' 200 '.status == "ended"'
dbcheck "... and writes no job" \
	"SELECT count(*) FROM jobs WHERE session_id = '$S1' AND kind = 'session.end'" 1
t "delete the device once its sessions ended" DELETE "/api/v1/devices/$DEV_A" '' 204
t "its sessions stay" GET "/api/v1/sessions?device_id=$DEV_A" '' 200 '.items | length == 2'
t "... and read" GET "/api/v1/sessions/$S1" '' 200 ".device_id == \"$DEV_A\""
dbq "UPDATE sessions SET status = 'failed' WHERE id = '$S3'" >/dev/null
t "a failed session: DELETE answers 200 unchanged" DELETE "/api/v1/sessions/$S3" '' 200 '.status == "failed"'
