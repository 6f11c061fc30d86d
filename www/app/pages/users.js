// users.js: #/users. The users GET /users gives this caller: a tenant's (tenant admins,
// service tokens, staff acting in a tenant) or the platform's staff (staff at platform
// level, multi mode). Search and role filter kept in the URL (#/users?q=..&role=..),
// "More" by the API's cursor, "New user" only for those who may create one (engineers
// read the list without it).
import { h, ago, when, statusBadge, errorBox } from '../dom.js';
import { pager } from '../api.js';
import { mayListUsers, mayManageUsers, rolesToGive, roleLabel, isStaff, staffView, platformQuery } from '../roles.js';

export const title = 'Users';
export const nav = 'Users';
export const navIf = mayListUsers;

export function refused(ctx, heading) {
  ctx.main.append(h('h1', {}, heading),
    h('p.error', { role: 'alert', id: 'users-refused' },
      'Your role may not see or manage users. Ask your administrator if you need a colleague added.'));
}

export async function render(ctx) {
  if (!mayListUsers(ctx.me)) {
    refused(ctx, 'Users');
    return;
  }
  const platform = staffView(ctx.me, ctx.query);
  const sq = platformQuery(ctx.me, ctx.query); // '?scope=platform' or ''
  const roles = rolesToGive(ctx.me, platform);
  const q = ctx.query.q || '';
  const role = roles.includes(ctx.query.role) ? ctx.query.role : '';
  const search = h('input', { id: 'user-q', type: 'search', name: 'q', value: q, placeholder: 'Name or email' });
  const filter = h('select', { id: 'user-role', name: 'role' },
    h('option', { value: '' }, 'Any role'),
    roles.map((r) => h('option', { value: r, selected: r === role }, roleLabel(r))));
  const form = h('form.filters', { role: 'search' },
    h('span.field.grow', {}, h('label', { for: 'user-q' }, 'Search'), search),
    h('span.field', {}, h('label', { for: 'user-role' }, 'Role'), filter),
    h('button', { type: 'submit' }, 'Apply'));
  const apply = (ev) => {
    if (ev) ev.preventDefault();
    const p = new URLSearchParams();
    if (search.value.trim()) p.set('q', search.value.trim());
    if (filter.value) p.set('role', filter.value);
    if (sq) p.set('scope', 'platform');
    const s = p.toString();
    ctx.navigate('/users' + (s ? '?' + s : ''));
  };
  form.addEventListener('submit', apply);
  filter.addEventListener('change', apply);

  const scope = !platform
    ? 'The people of this tenant: tenant admins manage devices and users, customers see devices and sessions.'
    : 'Platform staff: administrators do everything, engineers run sessions in every tenant.';
  const body = h('tbody', {});
  const table = h('table.list', { id: 'users', hidden: true },
    h('caption.sr', {}, 'Users'),
    h('thead', {}, h('tr', {}, ['Name', 'Email', 'Role', 'Status', 'Last sign-in'].map((c) => h('th', { scope: 'col' }, c)))),
    body);
  const state = h('p.state', { id: 'users-state', 'aria-live': 'polite' }, 'Loading users…');
  const more = h('button', { type: 'button', id: 'users-more', hidden: true }, 'More');
  ctx.main.append(
    h('div.titlebar', {}, h('h1', {}, platform ? 'Staff' : 'Users'),
      mayManageUsers(ctx.me) ? h('a.button', { href: '#/users/new' + sq, id: 'user-new' }, 'New user') : null),
    // Staff acting in a tenant choose between its people and the platform's staff.
    isStaff(ctx.me) && ctx.me.acting_tenant_id ? h('nav.tabs', { 'aria-label': 'Whose users' },
      h('a', { href: '#/users', id: 'users-tab-tenant', 'aria-current': platform ? null : 'page' }, 'This tenant\'s users'),
      h('a', { href: '#/users?scope=platform', id: 'users-tab-staff', 'aria-current': platform ? 'page' : null }, 'Staff')) : null,
    h('p.hint', {}, scope),
    form, table, state, more);

  const pages = pager('users', { q, role, scope: sq ? 'platform' : '' });
  let shown = 0;
  async function load() {
    more.disabled = true;
    state.textContent = shown ? 'Loading more…' : 'Loading users…';
    state.hidden = false;
    let items;
    try {
      items = await pages.next();
    } catch (e) {
      if (e.status === 401) throw e;
      if (!ctx.current()) return;
      state.replaceChildren(errorBox(e));
      more.disabled = false;
      return;
    }
    if (!ctx.current()) return;
    for (const u of items) {
      const self = ctx.me.user && ctx.me.user.id === u.id;
      body.append(h('tr', { 'data-email': u.email },
        h('td', { 'data-label': 'Name' },
          h('a', { href: '#/users/' + encodeURIComponent(u.id) + sq }, u.name),
          self ? h('span.hint', {}, ' (you)') : null),
        h('td', { 'data-label': 'Email' }, u.email),
        h('td', { 'data-label': 'Role' }, roleLabel(u.role)),
        h('td', { 'data-label': 'Status' }, statusBadge(u.status)),
        h('td', { 'data-label': 'Last sign-in', title: when(u.last_login_at) }, ago(u.last_login_at))));
    }
    shown += items.length;
    table.hidden = shown === 0;
    if (shown === 0) {
      state.textContent = q || role ? 'No user matches this search.'
        : mayManageUsers(ctx.me) ? 'No users yet. Add one with New user.' : 'No users yet.';
    } else {
      state.hidden = true;
    }
    more.hidden = pages.done;
    more.disabled = false;
  }
  more.addEventListener('click', () => load().catch((e) => state.replaceChildren(errorBox(e))));
  await load();
}
