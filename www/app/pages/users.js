// users.js: #/users. The users GET /users gives this caller: a tenant's (tenant admins,
// service tokens, staff acting in a tenant) or the platform's staff (staff at platform
// level, multi mode). Search and role filter kept in the URL (#/users?q=..&role=..),
// "More" by the API's cursor, "New user" only for those who may create one (engineers
// read the list without it).
import { h, ago, when, statusBadge } from '../dom.js';
import { filterForm, filterField, listTable, pagedList } from '../list.js';
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
  const form = filterForm(ctx, '/users', {
    fields: [filterField('user-q', 'Search', search, true), filterField('user-role', 'Role', filter)],
    params: () => ({ q: search.value.trim(), role: filter.value, scope: sq ? 'platform' : '' }),
    auto: [filter],
  });

  const scope = !platform
    ? 'The people of this tenant: tenant admins manage devices and users, customers see devices and sessions.'
    : 'Platform staff: administrators do everything, engineers run sessions in every tenant.';
  const view = listTable({ id: 'users', caption: 'Users', columns: ['Name', 'Email', 'Role', 'Status', 'Last sign-in'],
    stateId: 'users-state', moreId: 'users-more', loading: 'Loading users…' });
  ctx.main.append(
    h('div.titlebar', {}, h('h1', {}, platform ? 'Staff' : 'Users'),
      mayManageUsers(ctx.me) ? h('a.button', { href: '#/users/new' + sq, id: 'user-new' }, 'New user') : null),
    // Staff acting in a tenant choose between its people and the platform's staff.
    isStaff(ctx.me) && ctx.me.acting_tenant_id ? h('nav.tabs', { 'aria-label': 'Whose users' },
      h('a', { href: '#/users', id: 'users-tab-tenant', 'aria-current': platform ? null : 'page' }, 'This tenant\'s users'),
      h('a', { href: '#/users?scope=platform', id: 'users-tab-staff', 'aria-current': platform ? 'page' : null }, 'Staff')) : '',
    h('p.hint', {}, scope),
    form, view.table, view.state, view.more);

  const list = pagedList(ctx, view, {
    pages: pager('users', { q, role, scope: sq ? 'platform' : '' }),
    row: (u) => h('tr', { 'data-email': u.email },
      h('td', { 'data-label': 'Name' },
        h('a', { href: '#/users/' + encodeURIComponent(u.id) + sq }, u.name),
        ctx.me.user && ctx.me.user.id === u.id ? h('span.hint', {}, ' (you)') : null),
      h('td', { 'data-label': 'Email' }, u.email),
      h('td', { 'data-label': 'Role' }, roleLabel(u.role)),
      h('td', { 'data-label': 'Status' }, statusBadge(u.status)),
      h('td', { 'data-label': 'Last sign-in', title: when(u.last_login_at) }, ago(u.last_login_at))),
    empty: () => (q || role ? 'No user matches this search.'
      : mayManageUsers(ctx.me) ? 'No users yet. Add one with New user.' : 'No users yet.'),
  });
  await list.load();
}
