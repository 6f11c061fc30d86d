/* store_install.c: this installation's id (store_install.h). */
#include "store_install.h"

#include <string.h>

#include "db.h"
#include "ids.h"
#include "store.h"
#include "store_row.h"

/* The stored id into out: STORE_OK, STORE_NOT_FOUND when there is none yet, or an
 * error. */
static int install_read(struct db *db, char out[INSTALL_ID_LEN + 1])
{
	struct db_res *res = NULL;
	const char *id;
	int rc = db_exec(db, "SELECT id FROM install WHERE one = 1", 0, NULL, &res);

	if (rc != DB_OK) {
		db_res_free(res);
		return store_rc_of(rc);
	}
	id = db_res_rows(res) == 1 ? db_res_get(res, 0, 0) : NULL;
	if (!id || strlen(id) != INSTALL_ID_LEN) {
		db_res_free(res);
		return STORE_NOT_FOUND;
	}
	memcpy(out, id, INSTALL_ID_LEN + 1);
	db_res_free(res);
	return STORE_OK;
}

int store_install_id(struct db *db, char out[INSTALL_ID_LEN + 1])
{
	char made[INSTALL_ID_LEN + 1];
	const char *params[1] = { made };
	int rc = install_read(db, out);

	if (rc != STORE_NOT_FOUND)
		return rc;
	/* A helperd starting beside us may insert first: then its id is the one, and the
	 * read below returns it to both. */
	ids_base32(made, INSTALL_ID_LEN);
	rc = db_exec(db, "INSERT INTO install (one, id) VALUES (1, $1) ON CONFLICT DO NOTHING", 1,
	             params, NULL);
	if (rc != DB_OK)
		return store_rc_of(rc);
	return install_read(db, out);
}
