/* store_install.h: this installation's id (sql/<backend>/0008_install.sql).
 *
 * Made once, by the first caller, and kept in the database: helperd puts it in the name
 * and DNS comment of every Cloudflare object it makes, so that installs sharing one
 * Cloudflare account tell their objects apart. Platform-wide (no tenant). */
#ifndef KAIDEN_STORE_INSTALL_H
#define KAIDEN_STORE_INSTALL_H

#include "compat.h"

struct db;

#define INSTALL_ID_LEN 8 /* characters of [a-z2-7] (40 bits), without the NUL */

/* The id, made and stored first if the database has none (two callers at once agree
 * on one). STORE_OK or a store.h error; out is written only on success. */
int store_install_id(struct db *db, char out[INSTALL_ID_LEN + 1]) WUR;

#endif
