/* service_store.h: the store table service.c runs with in kaiden-helperd
 * (service_store.c, over common/store_service.h on helperd's connection). */
#ifndef KAIDEN_SERVICE_STORE_H
#define KAIDEN_SERVICE_STORE_H

#include "service.h"

extern const struct service_store service_store_db;

/* Loads services.key_file's key (values_seal.h) for opening the secret values: 0, or -1
 * (then service_store_key_error says why, and an operation on a service with secret
 * values fails with that sentence; services without any still run). */
int service_store_init(void);
/* NULL when the key is loaded, else why not (borrowed). */
const char *service_store_key_error(void);
/* Wipes the key. */
void service_store_shutdown(void);

#endif
