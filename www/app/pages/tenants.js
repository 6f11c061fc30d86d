// tenants.js: #/admin/tenants (platform staff). Every tenant: code, name, status, plan,
// trial end; a search and a status filter kept in the URL (#/admin/tenants?q=..&status=..);
// "More" reads the next page with the API's cursor. Admins get "New tenant".
import { h, when, statusBadge, errorBox } from '../dom.js';
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
  const form = h('form.filters', { role: 'search' },
    h('span.field.grow', {}, h('label', { for: 'tenants-q' }, 'Search'), search),
    h('span.field', {}, h('label', { for: 'tenants-status' }, 'Status'), filter),
    h('button', { type: 'submit' }, 'Apply'));
  const apply = (ev) => {
    if (ev) ev.preventDefault();
    const p = new URLSearchParams();
    if (search.value.trim()) p.set('q', search.value.trim());
    if (filter.value) p.set('status', filter.value);
    const s = p.toString();
    ctx.navigate('/admin/tenants' + (s ? '?' + s : ''));
  };
  form.addEventListener('submit', apply);
  filter.addEventListener('change', apply);

  const body = h('tbody', {});
  const table = h('table.list', { id: 'tenants' },
    h('caption.sr', {}, 'Tenants'),
    h('thead', {}, h('tr', {}, ['Name', 'Code', 'Status', 'Plan', 'Trial ends', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
    body);
  const state = h('p.state', { id: 'tenants-state', 'aria-live': 'polite' }, 'Loading tenants…');
  const more = h('button', { type: 'button', id: 'tenants-more', hidden: true }, 'More');
  ctx.main.append(form, table, state, more);
  table.hidden = true;

  // Platform level: no X-Kaiden-Tenant (the switcher's tenant is not asked about here).
  const pages = pager('admin/tenants', { q, status }, 50, { tenant: null });
  let shown = 0;
  async function load() {
    more.disabled = true;
    state.hidden = false;
    state.textContent = shown ? 'Loading more…' : 'Loading tenants…';
    let items;
    try {
      items = await pages.next();
    } catch (e) {
      if (e.status === 401) throw e;
      state.replaceChildren(errorBox(e));
      more.disabled = false;
      return;
    }
    if (!ctx.current()) return;
    for (const t of items) {
      body.append(h('tr', {},
        h('td', { 'data-label': 'Name' }, h('a', { href: '#/admin/tenants/' + encodeURIComponent(t.id) }, t.name)),
        h('td', { 'data-label': 'Code' }, h('code', {}, t.code)),
        h('td', { 'data-label': 'Status' }, statusBadge(t.status)),
        h('td', { 'data-label': 'Plan' }, t.plan || '—'),
        h('td', { 'data-label': 'Trial ends' }, t.trial_ends_at ? when(t.trial_ends_at) : '—'),
        h('td', { 'data-label': 'Created' }, when(t.created_at))));
    }
    shown += items.length;
    table.hidden = shown === 0;
    if (shown === 0) {
      state.textContent = q || status ? 'No tenant matches this search.' : 'No tenants yet.';
    } else {
      state.hidden = true;
    }
    more.hidden = pages.done;
    more.disabled = false;
  }
  more.addEventListener('click', () => load());
  await load();
}
