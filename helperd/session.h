/* session.h: the session lifecycle, run as persisted state machines (the heart of the
 * product; the states and steps are documented at the top of session.c).
 *
 * jobs.c hands it claimed jobs ("session.start", "session.end"); it drives the tunnel
 * provider and the agent (through hub.h), writes every step and every created object's
 * id to the session row before the next step, and calls jobs_finish at the end. After a
 * restart it resumes from the recorded step. */
#ifndef KAIDEN_SESSION_H
#define KAIDEN_SESSION_H

#include <json-c/json.h>
#include "compat.h"
#include "proto.h"
#include "store.h"

/* Starts the tunnel providers (provider.h's provider_start: the relay, and Cloudflare
 * when the KAIDEN_CF_* settings are complete), logging which new sessions get. Each
 * session then runs with the provider its row names; one whose provider cannot work
 * here fails with a reason that says which settings to set. */
int session_init(void) WUR;
void session_shutdown(void);

/* Runs a claimed job (copied). */
void session_job_start(const struct store_job *job);

/* Hub events (the hub_events callbacks point here). A heartbeat that lacks an active
 * session, or a tunnel.failed for one, restores its tunnel (session.c, "Restore"). */
void session_agent_online(const char *device_id, int online);
void session_agent_message(const char *device_id, const struct proto_msg *msg);
void session_agent_running(const char *device_id, json_object *sessions);

/* Periodic work (sweep.c calls it): ends sessions past session.max_duration or whose
 * device has been offline past session.offline_grace. (The providers' orphan sweeps
 * are sweep.c's to start: provider_sweep.) */
void session_sweep(void);

/* ---- for tests: the machine's table (check_session) ------------------------------ */

/* How many phases and events there are: phase 0 is "new" (a machine just made from
 * its row), the last phase "done" (the machine is freed). */
int session_machine_phases(void);
int session_machine_events(void);
/* Their names as in the logs (borrowed), or NULL out of range. */
const char *session_machine_phase_name(int phase);
const char *session_machine_event_name(int event);
/* The table's row for (phase, event): the phase it moves to (phase itself when it
 * stays) with *has_action set, -1 when no row has the pair, -2 when more than one
 * has it. */
int session_machine_next(int phase, int event, int *has_action);
/* Feeds event to a machine in phase that holds no session, job or timer, and returns
 * its phase afterwards; -1 when the pair's row has an action (refused: nothing to act
 * on) or out of range. */
int session_machine_probe(int phase, int event);

#endif
