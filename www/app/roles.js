// roles.js: what the signed-in caller may do, as fcgi-app/route.c's table says (a page
// shows a button only when the server would accept the request behind it).

const role = (me) => (me && me.role) || '';

// POST /devices, POST /devices/{id}/rotate-secret, DELETE /devices/{id}: staff, tenant
// admins, service tokens.
export function mayRegister(me) {
  return ['admin', 'engineer', 'tenant_admin', 'service'].includes(role(me));
}

// POST /sessions, PATCH and DELETE /sessions/{id}: staff and service tokens.
export function mayRunSessions(me) {
  return ['admin', 'engineer', 'service'].includes(role(me));
}

// The engineer_name a session started here records.
export function engineerName(me) {
  if (me && me.user) return me.user.name || me.user.email;
  return 'service token';
}

// GET /users, GET /users/{id}: staff, tenant admins, service tokens.
export function mayListUsers(me) {
  return ['admin', 'engineer', 'tenant_admin', 'service'].includes(role(me));
}

// POST /users, PATCH and DELETE /users/{id}: admins, tenant admins, service tokens.
export function mayManageUsers(me) {
  return ['admin', 'tenant_admin', 'service'].includes(role(me));
}

// Platform staff (admins, engineers): they act in a tenant or, with ?scope=platform, at
// platform level (fcgi-app/auth.c).

// Platform staff: admins and engineers (no tenant of their own).
export function isStaff(me) {
  return ['admin', 'engineer'].includes(role(me));
}

// The roles a user made or changed here may get (h_users.c): at platform level (staff
// with no tenant to act in, or asking for it: platform = true) staff roles, in a tenant
// the tenant's roles.
export function rolesToGive(me, platform) {
  return me && me.acting_tenant_id && !platform ? ['tenant_admin', 'customer'] : ['admin', 'engineer'];
}

// Whether a users page shows the platform's staff: staff asking for it (#/users?scope=
// platform), or staff with no tenant to act in. Such a page's requests carry
// ?scope=platform (platformQuery) whenever the caller would otherwise act in a tenant.
export function staffView(me, query) {
  return isStaff(me) && (!me.acting_tenant_id || (query && query.scope === 'platform'));
}

export function platformQuery(me, query) {
  return staffView(me, query) && me.acting_tenant_id ? '?scope=platform' : '';
}

// POST, GET /auth/tokens, DELETE /auth/tokens/{id}: every role but service tokens.
export function mayUseTokens(me) {
  return ['admin', 'engineer', 'tenant_admin', 'customer'].includes(role(me));
}

// GET /tenant/usage: staff, tenant admins, service tokens.
export function maySeeUsage(me) {
  return ['admin', 'engineer', 'tenant_admin', 'service'].includes(role(me));
}

// PATCH /tenant (its name): admins, tenant admins, service tokens.
export function mayEditTenant(me) {
  return ['admin', 'tenant_admin', 'service'].includes(role(me));
}

// POST /tenant/export (all of the tenant's data as one archive): admins, tenant admins,
// service tokens.
export function mayExport(me) {
  return ['admin', 'tenant_admin', 'service'].includes(role(me));
}

// A role's name as people say it.
export function roleLabel(r) {
  return { admin: 'Administrator', engineer: 'Engineer', tenant_admin: 'Tenant admin',
    customer: 'Customer', service: 'Service token' }[r] || r;
}

// GET /admin/tenants, GET /admin/tenants/{id}, GET /admin/system: staff.
export function mayReadTenants(me) {
  return isStaff(me);
}

// POST, PATCH and DELETE /admin/tenants: admins only.
export function mayAdminTenants(me) {
  return role(me) === 'admin';
}

// GET /admin/system: staff.
export function mayReadSystem(me) {
  return isStaff(me);
}

// GET /audit: staff, tenant admins, service tokens.
export function mayReadAudit(me) {
  return ['admin', 'engineer', 'tenant_admin', 'service'].includes(role(me));
}


// Tickets (issue 11). GET /tickets and /tickets/{id}, POST /tickets and comments: every
// role (a tenant's users in their tenant, staff in the tenant they act in).
export function mayUseTickets(me) {
  return ['admin', 'engineer', 'tenant_admin', 'customer', 'service'].includes(role(me));
}

// Who handles tickets: assigns, reprioritises, moves to in_progress and resolved, writes
// and reads internal notes, starts sessions from them (staff, service tokens). Tenant
// roles only comment, close and reopen.
export function mayHandleTickets(me) {
  return ['admin', 'engineer', 'service'].includes(role(me));
}

// The statuses a ticket in STATUS may be moved to by ME (PATCH /tickets/{id} {status}):
// open -> in_progress -> resolved -> closed; resolved and closed reopen to open. Tenant
// roles close and reopen only.
export function ticketMoves(me, status) {
  const all = { open: ['in_progress'], in_progress: ['resolved'], resolved: ['closed', 'open'], closed: ['open'] }[status] || [];
  return mayHandleTickets(me) ? all : all.filter((s) => s === 'closed' || s === 'open');
}

// Webhooks (issue 11), a tenant's or (staff, ?scope=platform) the platform's. GET
// /webhooks, /webhooks/{id} and its deliveries: staff, tenant admins, service tokens.
export function mayReadWebhooks(me) {
  return ['admin', 'engineer', 'tenant_admin', 'service'].includes(role(me));
}

// POST /webhooks, PATCH and DELETE /webhooks/{id}, POST /webhooks/{id}/rotate: admins,
// tenant admins, service tokens (engineers read only).
export function mayManageWebhooks(me) {
  return ['admin', 'tenant_admin', 'service'].includes(role(me));
}

// Clusters (issue 12). GET /clusters, /clusters/{id} and its nodes: every role of the
// tenant (customers read them).
export function mayReadClusters(me) {
  return ['admin', 'engineer', 'tenant_admin', 'customer', 'service'].includes(role(me));
}

// POST /clusters, PATCH and DELETE /clusters/{id}, POST /clusters/{id}/rotate-secret:
// staff, tenant admins, service tokens (as for devices).
export function mayManageClusters(me) {
  return ['admin', 'engineer', 'tenant_admin', 'service'].includes(role(me));
}

// Cloud services (issue 13). GET /services, /services/{id} and its revisions: every role
// of the tenant (customers read them); the marketplace (GET /catalog) every signed-in
// role.
export function mayReadServices(me) {
  return ['admin', 'engineer', 'tenant_admin', 'customer', 'service'].includes(role(me));
}

// POST /services, PATCH and DELETE /services/{id}, rollback, the custom domain: staff,
// tenant admins, service tokens (customers read only).
export function mayManageServices(me) {
  return ['admin', 'engineer', 'tenant_admin', 'service'].includes(role(me));
}
