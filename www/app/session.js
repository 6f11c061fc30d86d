// session.js: who is signed in, as the server says (GET /auth/me with the cookie).
// Nothing here survives a reload or a sign-out: the cookie is the only memory.
import { get, post, maybeSignedIn, ApiError, tenant, setTenant } from './api.js';

let me = null;

export function current() {
  return me;
}

// The signed-in caller, or null. Asks the server only when a login cookie is present.
export async function load() {
  if (me) return me;
  if (!maybeSignedIn()) return null;
  try {
    me = await get('auth/me');
    // Staff acting nowhere: multi mode with no tenant chosen yet. Their tenant pages act
    // in the default tenant until they pick another in the header's switcher, so `me`
    // (acting_tenant_id: what the users page offers, say) is asked again in it.
    if (['admin', 'engineer'].includes(me.role) && me.acting_tenant_id === null && tenant() === null) {
      setTenant('default', false);
      me = await get('auth/me');
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
  return me;
}

// tenantCode: multi mode's tenant_code (undefined: none, e.g. staff).
export async function signIn(email, password, tenantCode) {
  me = null;
  const body = { email, password };
  if (tenantCode) body.tenant_code = tenantCode;
  await post('auth/login', body); // the reply's token is left unread
  return load();
}

export async function signOut() {
  try {
    if (maybeSignedIn()) await post('auth/logout');
  } finally {
    me = null;
  }
}

export function forget() {
  me = null;
}
