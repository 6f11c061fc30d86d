#!/usr/bin/env bash
# test_helperd_status_start.sh: kaiden-helperd does not start when it cannot write its
# heartbeat row (helperd/status.c). The row is the lease its job claims stand on
# (migration 0021, common/store_job.c CLAIM_HOLDER_DEAD): a helperd restarted under its
# old name that went on without one would claim under its previous run's stale row, and
# its new jobs would be taken over as a dead holder's. One helperd on SQLite, its
# database refusing every write to helperd_status (triggers): it must exit non-zero,
# say why, and leave the jobs table as it found it (its previous run's job still running
# under its name, not requeued or claimed). Without the triggers it starts and writes
# its row.
#
#   B=build bash tests/scripts/test_helperd_status_start.sh      (KEEP=1 keeps the directory)
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
. tests/scripts/lib.sh
. scripts/stack.sh

kaiden_env_clear
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-status.XXXXXX")
chmod 0711 "$WORK"

finish() {
	stack_helperd_stop >/dev/null 2>&1
	stack_stop >/dev/null 2>&1
	if [ -n "${KEEP:-}" ]; then echo "  kept $WORK"; else rm -rf "$WORK"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2034 # read by scripts/stack.sh
STACK_QUIET=1
stack_init "$WORK/stack" sqlite auto || exit 1
if ! { stack_db_start && stack_migrate; }; then
	bad "the stack's database" "did not start"
	summary
	exit 1
fi
export KAIDEN_HELPERD_INSTANCE=status-test
LOG=$STACK_DIR/log/kaiden-helperd.log
sq() { sqlite3 -batch "$STACK_DB_PATH" "$@"; }

# Its previous run: a stale row, and a job it still holds.
sq "INSERT INTO helperd_status (instance, version, started_at, heartbeat_at, every_s, agents,
      relay_streams) VALUES ('status-test', '0.0.1', '2026-01-01T00:00:00.000Z',
      '2026-01-01T00:00:05.000Z', 5, 0, 0);
    INSERT INTO jobs (id, tenant_id, kind, state, attempts, locked_by, locked_until)
      VALUES ('01a24000-0000-7000-8000-000000000001', (SELECT id FROM tenants LIMIT 1),
      'session.end', 'running', 1, 'status-test', '2099-01-01T00:00:00.000Z')" ||
	bad "its previous run's row and job" "the INSERTs failed"
sq "CREATE TRIGGER no_beat_insert BEFORE INSERT ON helperd_status
      BEGIN SELECT RAISE(ABORT, 'test: no heartbeat'); END;
    CREATE TRIGGER no_beat_update BEFORE UPDATE ON helperd_status
      BEGIN SELECT RAISE(ABORT, 'test: no heartbeat'); END;"
jobs_before=$(sq "SELECT * FROM jobs ORDER BY id")

if stack_helperd_start 2>"$WORK/start.err"; then
	bad "helperd does not start without its heartbeat row" "it started (pid $STACK_HELPERD_PID)"
else
	ok "helperd does not start without its heartbeat row"
fi
check "... and says why" grep -q "cannot write the heartbeat row; not starting" "$LOG"
if [ -S "$(stack_helperd_socket 1)" ]; then
	bad "... before it listened for agents" "its socket is there"
else
	ok "... before it listened for agents"
fi
if [ -n "$jobs_before" ] && [ "$(sq "SELECT * FROM jobs ORDER BY id")" = "$jobs_before" ]; then
	ok "... and the jobs table is as it was"
else
	bad "... and the jobs table is as it was" "it changed"
fi

sq "DROP TRIGGER no_beat_insert; DROP TRIGGER no_beat_update;"
if stack_helperd_start 2>>"$WORK/start.err"; then
	ok "with its row writable, helperd starts"
	n=$(sq "SELECT count(*) FROM helperd_status WHERE instance = 'status-test' AND heartbeat_at > '2026-01-01T00:00:05.000Z'")
	if [ "$n" = 1 ]; then ok "... and has written its row"; else
		bad "... and has written its row" "rows with a new beat: $n"
	fi
else
	bad "with its row writable, helperd starts" "$(tail -5 "$LOG")"
fi
summary
