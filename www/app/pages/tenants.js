// tenants.js: #/admin/tenants (platform staff). Every tenant: code, name, status, plan,
// trial end; a search and a status filter kept in the URL (#/admin/tenants?q=..&status=..);
// "More" reads the next page with the API's cursor. Admins get "New tenant".
import { h, when, statusBadge } from '../dom.js';
import { filterForm, filterField, listTable, pagedList } from '../list.js';
import { pager } from '../api.js';
import { mayReadTenants, mayAdminTenants } from '../roles.js';

export const title = 'Tenants';
export const nav = 'Tenants';
export const navIf = mayReadTenants;

const STATUSES = [['', 'Any status'], ['active', 'Active'], ['trial', 'Trial'], ['suspended', 'Suspended']];

export async function render(ctx) {
  ctx.main.append(h('div.titlebar', {}, h('h1', {}, 'Tenants'),
    mayAdminTenants(ctx.me) ? h('span.actions', {},
      h('a.button.secondary', { href: '#/admin/tenants/import', id: 'tenant-import' }, 'Import'),
      h('a.button', { href: '#/admin/tenants/new', id: 'tenant-create' }, 'New tenant')) : null));
  if (!mayReadTenants(ctx.me)) {
    ctx.main.append(h('p.error', { role: 'alert' }, 'Only Kaiden staff see the tenants.'));
    return;
  }
  const q = ctx.query.q || '';
  const status = STATUSES.some(([v]) => v && v === ctx.query.status) ? ctx.query.status : '';
  const search = h('input', { id: 'tenants-q', type: 'search', name: 'q', value: q, placeholder: 'Code or name' });
  const filter = h('select', { id: 'tenants-status', name: 'status' },
    STATUSES.map(([v, l]) => h('option', { value: v, selected: v === status }, l)));
  const form = filterForm(ctx, '/admin/tenants', {
    fields: [filterField('tenants-q', 'Search', search, true), filterField('tenants-status', 'Status', filter)],
    params: () => ({ q: search.value.trim(), status: filter.value }),
    auto: [filter],
  });

  const view = listTable({ id: 'tenants', caption: 'Tenants', columns: ['Name', 'Code', 'Status', 'Plan', 'Trial ends', 'Created'],
    stateId: 'tenants-state', moreId: 'tenants-more', loading: 'Loading tenants…' });
  ctx.main.append(form, view.table, view.state, view.more);

  const list = pagedList(ctx, view, {
    // Platform level: no X-Kaiden-Tenant (the switcher's tenant is not asked about here).
    pages: pager('admin/tenants', { q, status }, 50, { tenant: null }),
    row: (t) => h('tr', {},
      h('td', { 'data-label': 'Name' }, h('a', { href: '#/admin/tenants/' + encodeURIComponent(t.id) }, t.name)),
      h('td', { 'data-label': 'Code' }, h('code', {}, t.code)),
      h('td', { 'data-label': 'Status' }, statusBadge(t.status)),
      h('td', { 'data-label': 'Plan' }, t.plan || '—'),
      h('td', { 'data-label': 'Trial ends' }, t.trial_ends_at ? when(t.trial_ends_at) : '—'),
      h('td', { 'data-label': 'Created' }, when(t.created_at))),
    empty: () => (q || status ? 'No tenant matches this search.' : 'No tenants yet.'),
  });
  await list.load();
}
