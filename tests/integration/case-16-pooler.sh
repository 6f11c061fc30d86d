# shellcheck shell=sh
# database.pooler (issue 15). With `transaction` (kaiden-api behind PgBouncer in
# transaction mode) an admin command refuses to run: its session-wide staff switch
# (kaiden.staff = on) would stay on a server connection the pooler lends to requests
# next. It says which setting, and writes nothing. On SQLite the setting changes
# nothing. The pgbouncer suite runs every other case with kaiden-api serve through the
# pooler; its admin commands there use the direct DSN, as this says they must.

P16_N=$(dbq "SELECT count(*) FROM api_tokens")
KAIDEN_DATABASE_POOLER=transaction
export KAIDEN_DATABASE_POOLER
if [ "$SUITE_DB" = postgres ]; then
	if "$STACK_BIN" token create --name p16 >"$T/p16.out" 2>"$T/p16.err"; then
		LAST="kaiden-api token create (KAIDEN_DATABASE_POOLER=transaction)"
		CODE=-
		bad "an admin command with database.pooler=transaction is refused" "it succeeded"
	elif grep -q 'database.pooler' "$T/p16.err" && [ ! -s "$T/p16.out" ]; then
		ok "an admin command with database.pooler=transaction is refused, naming the setting"
	else
		bad "an admin command with database.pooler=transaction is refused, naming the setting" \
			"$(head -c 300 "$T/p16.err")"
	fi
	dbcheck "it wrote no token" "SELECT count(*) FROM api_tokens" "$P16_N"
else
	cli "database.pooler=transaction changes nothing on SQLite" P16_TOKEN token create --name p16
	dbcheck "the token was made" "SELECT count(*) FROM api_tokens" "$((P16_N + 1))"
fi
unset KAIDEN_DATABASE_POOLER
