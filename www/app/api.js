// api.js: the one way the portal talks to the server. Every call goes to /api/v1/ with
// the session cookie (credentials: 'same-origin'); the token itself is never read or
// kept by a script (the API sets it as an HttpOnly cookie at login). Writes carry the
// X-Kaiden-CSRF header, copied from the readable kaiden_csrf cookie. An error reply
// becomes an ApiError whose message is a plain sentence a page can show as it is.

export class ApiError extends Error {
  constructor(status, code, message, field, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
    this.retryAfter = retryAfter; // seconds, or null
  }
}

export function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      return decodeURIComponent(part.slice(eq + 1).trim());
    }
  }
  return null;
}

// True when the browser holds a login (the readable half of it): a page can skip
// asking the server when it surely does not.
export function maybeSignedIn() {
  return cookie('kaiden_csrf') !== null;
}

const FALLBACK = {
  400: 'The request was not accepted.',
  401: 'You are not signed in, or your sign-in has expired.',
  403: 'You are not allowed to do this.',
  404: 'This was not found.',
  409: 'This conflicts with the current state; reload and try again.',
  429: 'Too many attempts; wait and try again.',
  502: 'The Kaiden service is not running.',
  503: 'The Kaiden service is not available; try again later.',
};

function sentence(s) {
  s = String(s).trim();
  if (!s) return s;
  s = s[0].toUpperCase() + s.slice(1);
  return /[.!?]$/.test(s) ? s : s + '.';
}

// The tenant staff act in (multi mode): sent as X-Kaiden-Tenant on every request
// (layout.js's switcher sets it). Kept in sessionStorage (this tab only, so a reload
// keeps it; cleared on sign-out) when chosen; the default tenant, taken when staff
// chose nothing, is kept in memory only.
const TENANT_KEY = 'kaiden.tenant';
let tenantCode = null;
try { tenantCode = sessionStorage.getItem(TENANT_KEY); } catch (e) { tenantCode = null; }

// tenant() -> the code (or id) sent as X-Kaiden-Tenant, or null.
export function tenant() {
  return tenantCode;
}

// setTenant(code, remember = true); setTenant(null) forgets it (sign-out).
export function setTenant(code, remember = true) {
  tenantCode = code || null;
  try {
    if (tenantCode && remember) sessionStorage.setItem(TENANT_KEY, tenantCode);
    else sessionStorage.removeItem(TENANT_KEY);
  } catch (e) {
    // Storage refused: the choice lasts until the page is reloaded.
  }
}

// What the server says of itself without a sign-in (GET /healthz: mode single|multi,
// tenant_host), read once per page load.
let info = null;
export function serverInfo() {
  if (!info) {
    info = request('GET', '/healthz').catch((e) => {
      info = null;
      throw e;
    });
  }
  return info;
}

// request(method, path, body?, opts?) -> the parsed JSON reply (null for 204). path is
// relative to /api/v1/ ("devices?status=online") or absolute ("/api/v1/...").
// opts.tenant: the X-Kaiden-Tenant for this request instead of tenant() (null: none,
// i.e. platform level for staff); opts.raw: body is already JSON text (a file's), sent
// as it is.
export async function request(method, path, body, opts) {
  const url = path.startsWith('/') ? path : '/api/v1/' + path;
  const headers = { Accept: 'application/json' };
  const t = opts && opts.tenant !== undefined ? opts.tenant : tenantCode;
  if (t) headers['X-Kaiden-Tenant'] = t;
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = cookie('kaiden_csrf');
    if (csrf) headers['X-Kaiden-CSRF'] = csrf;
  }
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = opts && opts.raw ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'The server could not be reached; check your connection.');
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  if (res.ok) return data;
  const err = data && data.error ? data.error : {};
  // The chosen tenant is gone (deleted since): forget it, so the next page acts in the
  // default one instead of failing on every request.
  if (res.status === 404 && err.field === 'X-Kaiden-Tenant' && t === tenantCode) setTenant(null);
  const ra = res.headers.get('Retry-After');
  const retryAfter = ra !== null && /^\d+$/.test(ra) ? Number(ra) : null;
  const msg = err.message ? sentence(err.message) : (FALLBACK[res.status] || `The server answered ${res.status}.`);
  throw new ApiError(res.status, err.code || 'http_' + res.status, msg, err.field, retryAfter);
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body === undefined ? {} : body, opts);
export const patch = (path, body, opts) => request('PATCH', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);

// query({a: 1, b: ''}) -> "?a=1" (empty values left out).
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// pager(path, params): a list read page by page with the API's cursor.
//   const p = pager('devices', {status: 'online'});
//   const items = await p.next();   // [] once p.done
export function pager(path, params, limit = 50, opts) {
  let cursor = null;
  const p = {
    done: false,
    async next() {
      if (p.done) return [];
      const reply = await get(path + query({ ...params, limit, cursor }), opts);
      cursor = reply.next_cursor || null;
      p.done = cursor === null;
      return reply.items || [];
    },
  };
  return p;
}
