// layout.js: the frame around every page: a "Skip to main content" link (shown when it
// has the keyboard focus), a header with the product name, the menu, the signed-in user
// and a sign-out button, then the page's <main>. Signed out, only the name.
// Staff in multi mode also get the tenant switcher: the tenant their tenant pages act in
// (api.js sends it as X-Kaiden-Tenant); the default tenant until they choose another.
import { h } from './dom.js';
import { get, query, tenant, setTenant } from './api.js';
import { isStaff, mayUseTokens } from './roles.js';
import { navigate } from './router.js';
import { forget } from './session.js';

// Staff act platform-wide (multi mode) when /auth/me, asked without a tenant, named
// none; once a tenant is chosen, api.js names it on every request.
function multiStaff(me) {
  return isStaff(me) && (tenant() !== null || me.acting_tenant_id === null);
}

function switcher() {
  const current = tenant();
  const select = h('select', { id: 'tenant-switch', name: 'tenant' },
    h('option', { value: current }, current));
  const box = h('span.tenant-switch', {},
    h('label', { for: 'tenant-switch' }, 'Tenant'), select);
  select.addEventListener('change', () => {
    setTenant(select.value, true);
    forget(); // who the caller is there (acting_tenant_id) is asked again
    const path = location.hash.replace(/^#/, '');
    // Platform pages stay; a tenant's page (a device, a session) is not in the next one.
    navigate(path.startsWith('/admin') || path.startsWith('/audit') ? path : '/devices');
  });
  get('admin/tenants' + query({ limit: 200 }), { tenant: null }).then((reply) => {
    const items = (reply && reply.items) || [];
    const opts = items.map((t) => h('option', {
      value: t.code, selected: t.code === current || t.id === current,
      title: t.name,
    }, t.code));
    if (!items.some((t) => t.code === current || t.id === current)) {
      opts.unshift(h('option', { value: current, selected: true }, current));
    }
    select.replaceChildren(...opts);
  }).catch(() => {
    select.title = 'The tenant list could not be read.';
  });
  return box;
}

export function frame(root, { me, nav, active, onSignOut }) {
  const who = me ? (me.user ? me.user.email : 'service token') : null;
  const multi = me ? multiStaff(me) : false;
  if (multi && tenant() === null) setTenant('default', false);
  const header = h('header.top', {},
    h('div.wrap.bar', {},
      h('a.brand', { href: '#/' }, 'Kaiden'),
      me ? h('nav', { 'aria-label': 'Main' },
        nav.map(([path, label]) => h('a', {
          href: '#' + path, 'aria-current': active === path ? 'page' : null,
        }, label))) : null,
      h('span.spacer', {}),
      multi ? switcher() : null,
      me ? h('span.who', { title: me.role || '' }, who, me.role ? h('span.role', {}, me.role) : null) : null,
      mayUseTokens(me) ? h('a.help', {
        href: '#/tokens', id: 'nav-tokens', 'aria-current': location.hash.startsWith('#/tokens') ? 'page' : null,
      }, 'API tokens') : null,
      me ? h('button.link', { type: 'button', onclick: onSignOut, id: 'signout' }, 'Sign out') : null,
      h('a.help', { href: '/help.html' }, 'Help')));
  const main = h('main.wrap', { id: 'main', tabindex: '-1' });
  // Not a plain href="#main": the hash is the router's, and would leave the page.
  const skip = h('a.skip', {
    href: '#main',
    onclick: (ev) => { ev.preventDefault(); main.focus(); },
  }, 'Skip to main content');
  root.replaceChildren(skip, header, main);
  return main;
}
