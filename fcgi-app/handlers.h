/* handlers.h: the request handlers named in the route table, one file per resource
 * (h_health.c, h_devices.c, h_sessions.c). A handler validates its input, calls store_*,
 * and fills rs; it never touches FastCGI. */
#ifndef KAIDEN_HANDLERS_H
#define KAIDEN_HANDLERS_H

#include "req.h"
#include "resp.h"

void h_healthz(struct req *r, struct resp *rs);

void h_devices_create(struct req *r, struct resp *rs);
void h_devices_list(struct req *r, struct resp *rs);
void h_device_get(struct req *r, struct resp *rs);
void h_device_delete(struct req *r, struct resp *rs);

void h_sessions_create(struct req *r, struct resp *rs);
void h_sessions_list(struct req *r, struct resp *rs);
void h_session_get(struct req *r, struct resp *rs);
void h_session_patch(struct req *r, struct resp *rs);
void h_session_delete(struct req *r, struct resp *rs);

#endif
