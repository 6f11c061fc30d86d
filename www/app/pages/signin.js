// signin.js: #/signin. Email and password (and, in multi mode on a host that is no
// tenant's subdomain, an optional tenant code: empty signs staff in); one message for
// every wrong combination (the API's); a 429 lock says how long to wait.
import { h, errorBox, plural } from '../dom.js';
import { serverInfo, setTenant } from '../api.js';
import * as session from '../session.js';

export const title = 'Sign in';
const isPublic = true;
export { isPublic as public };

function waitText(err) {
  if (err.retryAfter !== null && err.retryAfter !== undefined) {
    const s = err.retryAfter;
    const t = s >= 120 ? plural(Math.ceil(s / 60), 'minute') : plural(s, 'second');
    return `Too many sign-in attempts. Try again in ${t}.`;
  }
  return err.message;
}

export async function render(ctx) {
  const email = h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'username', required: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  let askTenant = false;
  try {
    const info = await serverInfo();
    askTenant = info && info.mode === 'multi' && !info.tenant_host;
  } catch (e) {
    askTenant = false; // the sign-in itself will say what is wrong
  }
  if (!ctx.current()) return;
  const tenantCode = askTenant ? h('input', {
    id: 'tenant', name: 'tenant', type: 'text', autocomplete: 'organization',
    autocapitalize: 'none', spellcheck: 'false', maxlength: '63',
    'aria-describedby': 'tenant-help',
  }) : null;
  const button = h('button', { type: 'submit', id: 'signin' }, 'Sign in');
  const msg = h('div', { id: 'signin-message', 'aria-live': 'polite' });
  const form = h('form.card.signin', { novalidate: false },
    h('h1', {}, 'Sign in to Kaiden'),
    h('label', { for: 'email' }, 'Email'), email,
    // Before the password, so that Enter there signs in with everything filled.
    tenantCode ? [h('label', { for: 'tenant' }, 'Tenant code'), tenantCode,
      h('p.hint', { id: 'tenant-help' }, 'Leave empty if you are Kaiden staff.')] : null,
    h('label', { for: 'password' }, 'Password'), password,
    msg, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.replaceChildren();
    button.disabled = true;
    button.textContent = 'Signing in…';
    try {
      setTenant(null);
      const code = tenantCode ? tenantCode.value.trim().toLowerCase() : '';
      const me = await session.signIn(email.value.trim(), password.value, code || undefined);
      password.value = '';
      if (!me) throw new Error('Signed in, but the server did not keep the sign-in (are cookies blocked?).');
      const next = ctx.query.next && ctx.query.next.startsWith('/') ? ctx.query.next : '/devices';
      ctx.navigate(next);
    } catch (e) {
      password.value = '';
      msg.replaceChildren(e && e.status === 429 ? h('p.error', { role: 'alert' }, waitText(e)) : errorBox(e));
      button.disabled = false;
      button.textContent = 'Sign in';
      password.focus();
    }
  });
  ctx.main.append(form);
  email.focus();
}
