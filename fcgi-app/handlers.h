/* handlers.h: the request handlers named in the route table, one file per resource
 * (h_health.c, h_devices.c, h_clusters.c, h_sessions.c, h_auth.c, h_users.c, h_tenants.c,
 * h_tenant.c, h_tickets.c, h_audit.c, h_system.c, h_webhooks.c, h_catalog.c). A handler validates its
 * input, calls store_*, and fills rs; it never touches FastCGI. */
#ifndef KAIDEN_HANDLERS_H
#define KAIDEN_HANDLERS_H

#include "req.h"
#include "resp.h"
#include "secret.h"

struct jsonx_field;
/* Parses the request body as a JSON object and checks it against fields (jsonx.h):
 * 0 with *out (owned), or -1 with the 400 reply already in rs. (h_util.c) */
int h_body_object(struct req *r, struct resp *rs, const struct jsonx_field *fields, size_t n,
                  json_object **out) WUR;

/* A new agent secret (secret_random_text) into secret and its argon2id hash into hash:
 * 0, or -1 with the 500 reply in rs. what names the owner ("device", "cluster") in the
 * log line and the reply; the secret itself is never logged. (h_util.c) */
int h_secret_make(struct req *r, struct resp *rs, const char *what,
                  char secret[SECRET_TEXT_LEN], char hash[SECRET_HASH_LEN]) WUR;

struct store_page;
/* The list parameters limit and cursor (req_page): 0, or -1 with the 400 invalid_query
 * reply naming the one at fault already in rs. (h_util.c) */
int h_page(struct req *r, struct resp *rs, struct store_page *page,
           char cursor[UUID_STR_LEN]) WUR;

/* The server an agent or a command should reach: server.public_url, else where the
 * caller reached us ("" when neither is known). (h_util.c) */
const char *h_server_url(const struct req *r);

void h_healthz(struct req *r, struct resp *rs);

void h_devices_create(struct req *r, struct resp *rs);
void h_devices_list(struct req *r, struct resp *rs);
void h_device_get(struct req *r, struct resp *rs);
void h_device_delete(struct req *r, struct resp *rs);
void h_device_rotate(struct req *r, struct resp *rs);

/* h_clusters.c */
void h_clusters_create(struct req *r, struct resp *rs);
void h_clusters_list(struct req *r, struct resp *rs);
void h_cluster_get(struct req *r, struct resp *rs);
void h_cluster_patch(struct req *r, struct resp *rs);
void h_cluster_delete(struct req *r, struct resp *rs);
void h_cluster_nodes(struct req *r, struct resp *rs);
void h_cluster_rotate(struct req *r, struct resp *rs);

void h_sessions_create(struct req *r, struct resp *rs);
void h_sessions_list(struct req *r, struct resp *rs);
void h_session_get(struct req *r, struct resp *rs);
void h_session_patch(struct req *r, struct resp *rs);
void h_session_delete(struct req *r, struct resp *rs);

/* h_auth.c */
void h_auth_login(struct req *r, struct resp *rs);
void h_auth_me(struct req *r, struct resp *rs);
void h_auth_logout(struct req *r, struct resp *rs);
void h_tokens_create(struct req *r, struct resp *rs);
void h_tokens_list(struct req *r, struct resp *rs);
void h_token_delete(struct req *r, struct resp *rs);

/* h_users.c */
void h_users_create(struct req *r, struct resp *rs);
void h_users_list(struct req *r, struct resp *rs);
void h_user_get(struct req *r, struct resp *rs);
void h_user_patch(struct req *r, struct resp *rs);
void h_user_delete(struct req *r, struct resp *rs);

/* h_tenants.c (platform: /admin/tenants) */
void h_tenants_create(struct req *r, struct resp *rs);
void h_tenants_list(struct req *r, struct resp *rs);
void h_tenant_admin_get(struct req *r, struct resp *rs);
void h_tenant_admin_patch(struct req *r, struct resp *rs);
void h_tenant_admin_delete(struct req *r, struct resp *rs);

/* h_tenant.c (the caller's tenant: /tenant) */
void h_tenant_get(struct req *r, struct resp *rs);
void h_tenant_patch(struct req *r, struct resp *rs);
void h_tenant_usage(struct req *r, struct resp *rs);
void h_tenant_export(struct req *r, struct resp *rs);
void h_tenant_import(struct req *r, struct resp *rs);

/* h_tickets.c */
void h_tickets_create(struct req *r, struct resp *rs);
void h_tickets_list(struct req *r, struct resp *rs);
void h_ticket_get(struct req *r, struct resp *rs);
void h_ticket_patch(struct req *r, struct resp *rs);
void h_ticket_comments_create(struct req *r, struct resp *rs);
void h_ticket_comments_list(struct req *r, struct resp *rs);

/* h_audit.c */
void h_audit_list(struct req *r, struct resp *rs);

/* h_system.c (platform: /admin/system) */
void h_system_status(struct req *r, struct resp *rs);

/* h_webhooks.c */
void h_webhooks_create(struct req *r, struct resp *rs);
void h_webhooks_list(struct req *r, struct resp *rs);
void h_webhook_get(struct req *r, struct resp *rs);
void h_webhook_patch(struct req *r, struct resp *rs);
void h_webhook_delete(struct req *r, struct resp *rs);
void h_webhook_rotate(struct req *r, struct resp *rs);
void h_webhook_deliveries(struct req *r, struct resp *rs);

/* h_services.c */
void h_services_create(struct req *r, struct resp *rs);
void h_services_list(struct req *r, struct resp *rs);
void h_service_get(struct req *r, struct resp *rs);
void h_service_patch(struct req *r, struct resp *rs);
void h_service_delete(struct req *r, struct resp *rs);
void h_service_revisions(struct req *r, struct resp *rs);
void h_service_rollback(struct req *r, struct resp *rs);
void h_service_domain_put(struct req *r, struct resp *rs);
void h_service_domain_delete(struct req *r, struct resp *rs);
void h_service_domain_verify(struct req *r, struct resp *rs);

/* h_catalog.c */
void h_catalog_list(struct req *r, struct resp *rs);
void h_catalog_get(struct req *r, struct resp *rs);
void h_catalog_create(struct req *r, struct resp *rs);
void h_catalog_patch(struct req *r, struct resp *rs);
void h_catalog_delete(struct req *r, struct resp *rs);

#endif
