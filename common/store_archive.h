/* store_archive.h: the archive of one tenant's rows, exported from one deployment and
 * imported into another (or into the same one after the tenant was deleted).
 * Conventions as store.h.
 *
 * The archive is one JSON document (served as application/json):
 *   {"format":"kaiden-tenant-export","version":1,"exported_at":...,"schema":<migration
 *    version>,"tenant":{...row...},"tables":{"users":[...],"devices":[...],
 *    "sessions":[...],"audit_log":[...]}}
 * Rows carry their columns as the database's text (or null), ids kept, except what
 * would let an archive carry a way in (docs/decisions.md, issue 8):
 *  - no credentials of people: users.password_hash is null and API tokens are not
 *    exported; an import writes neither (an older archive's are checked, then dropped).
 *    A moved tenant's users get a new password from an admin, and tokens are made anew.
 *    Device secret hashes do travel: an agent acts only as its own device in its tenant.
 *  - a row may name other rows (a session its device and engineer, an audit entry its
 *    actor...) only inside the archive. Export writes null where a row names one outside
 *    the tenant (a staff engineer or actor, a login); import refuses an archive whose
 *    rows name anything outside it, or whose ids exist here in any tenant.
 * Which columns name which table is one table in store_archive.c. Jobs and logins are
 * never exported. */
#ifndef KAIDEN_STORE_ARCHIVE_H
#define KAIDEN_STORE_ARCHIVE_H

#include <json-c/json.h>
#include "compat.h"
#include "ids.h"
#include "store.h"

/* Why an import refused an archive. */
struct store_archive_why {
	char text[512];            /* what is wrong and where, for a person ("" if nothing) */
	char table[32];            /* a refused row (a reference outside the archive, an id */
	char row_id[UUID_STR_LEN]; /* that exists here or twice): its table, its id and the */
	char column[64];           /* column at fault ("id" for the id); all "" otherwise */
};

/* The tenant's archive. staff_rows 0 (an export a tenant user asks for) leaves out the
 * rows only staff may read: internal ticket comments (staff's notes, never shown to a
 * tenant's users). */
int store_archive_export(struct db *db, const char *tenant_id, int staff_rows,
                         json_object **out) WUR;

/* Loads an archive in one transaction, ids kept; on any refusal nothing is written.
 *  STORE_OK: *out the tenant JSON.
 *  STORE_CONFLICT: the tenant's id or code, or another unique key of a row (a session's
 *    short id) exists here; why->text says which.
 *  STORE_ERR with why->column set: a row names a row that is not in the archive, or its
 *    id exists here (in any tenant; an audit entry of this same tenant excepted: it is the
 *    same event, kept when the tenant was deleted, and is skipped) or twice in the archive.
 *  STORE_ERR with only why->text: the archive is malformed or a row is refused by the
 *    database (the first problem, and where).
 *  STORE_ERR with why->text "", STORE_BUSY: the database failed.
 * why may be NULL. */
int store_archive_import(struct db *db, json_object *archive, json_object **out,
                         struct store_archive_why *why) WUR;

/* The "tables" member of tenant_id's export, as export writes it for staff (owned).
 * Usage's storage_bytes measures it. */
int store_archive_tables(struct db *db, const char *tenant_id, json_object **out) WUR;

/* The i-th table whose rows of a tenant a tenant delete removes, in an order that
 * removes whatever names a row before the row; NULL past the last. Audit entries are
 * not among them: they outlive their tenant. */
const char *store_archive_delete_order(size_t i);

/* What the archive knows of table.column, for the test that compares it with the
 * schema's foreign keys: 1 with *target the table it names ("" when it may name a row of
 * any table of the archive, or the tenant), 0 when it names nothing, -1 when the archive
 * does not know the table. A tenant_id column names the tenant in every table. */
int store_archive_reference(const char *table, const char *column, const char **target);

#endif
