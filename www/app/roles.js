// roles.js: what the signed-in caller may do, as fcgi-app/route.c's table says (a page
// shows a button only when the server would accept the request behind it).

const role = (me) => (me && me.role) || '';

// POST /devices: staff, tenant admins, service tokens.
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

// Platform staff: admins and engineers (no tenant of their own).
export function isStaff(me) {
  return ['admin', 'engineer'].includes(role(me));
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

