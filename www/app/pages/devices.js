// devices.js: #/devices. The tenant's devices: name, status, last seen, OS, agent
// version; a search box and a status filter (kept in the URL: #/devices?q=..&status=..);
// "More" reads the next page with the API's cursor.
import { h, ago, when, statusBadge } from '../dom.js';
import { filterForm, filterField, listTable, pagedList } from '../list.js';
import { pager } from '../api.js';
import { mayRegister } from '../roles.js';
import { watch } from '../events.js';

export const title = 'Devices';
export const nav = 'Devices';

export async function render(ctx) {
  const q = ctx.query.q || '';
  const status = ['online', 'offline'].includes(ctx.query.status) ? ctx.query.status : '';
  const search = h('input', { id: 'device-q', type: 'search', name: 'q', value: q, placeholder: 'Name or hostname' });
  const filter = h('select', { id: 'device-status', name: 'status' },
    [['', 'Any status'], ['online', 'Online'], ['offline', 'Offline']].map(([v, l]) =>
      h('option', { value: v, selected: v === status }, l)));
  const form = filterForm(ctx, '/devices', {
    fields: [filterField('device-q', 'Search', search, true), filterField('device-status', 'Status', filter)],
    params: () => ({ q: search.value.trim(), status: filter.value }),
    auto: [filter],
  });

  const view = listTable({ id: 'devices', caption: 'Devices', columns: ['Name', 'Status', 'Last seen', 'OS', 'Agent'],
    stateId: 'devices-state', moreId: 'devices-more', loading: 'Loading devices…' });
  ctx.main.append(h('div.titlebar', {}, h('h1', {}, 'Devices'),
    mayRegister(ctx.me) ? h('a.button', { href: '#/devices/new', id: 'device-register' }, 'Register a device') : null),
    form, view.table, view.state, view.more);

  // Live: each shown row's status and last seen, by device id.
  const rows = new Map();
  function update(d) {
    const row = rows.get(d.id);
    if (!row) return;
    row.status.replaceChildren(statusBadge(d.status));
    row.seen.title = when(d.last_seen);
    row.seen.textContent = ago(d.last_seen);
    // An online event carries what the agent reported; a re-read the whole device.
    if (d.os !== undefined) row.os.textContent = d.os || '—';
    if (d.agent_version !== undefined) row.agent.textContent = d.agent_version || '—';
  }
  function row(d) {
    const cells = {
      status: h('td', { 'data-label': 'Status' }, statusBadge(d.status)),
      seen: h('td', { 'data-label': 'Last seen', title: when(d.last_seen) }, ago(d.last_seen)),
      os: h('td', { 'data-label': 'OS' }, d.os || '—'),
      agent: h('td', { 'data-label': 'Agent' }, d.agent_version || '—'),
    };
    rows.set(d.id, cells);
    return h('tr', { 'data-device-id': d.id },
      h('td', { 'data-label': 'Name' }, h('a', { href: '#/devices/' + encodeURIComponent(d.id) }, d.name)),
      cells.status, cells.seen, cells.os, cells.agent);
  }
  const list = pagedList(ctx, view, {
    pages: pager('devices', { q, status }),
    row,
    empty: () => (q || status ? 'No device matches this search.'
      : 'No devices yet. A device appears here once it is registered.'),
  });
  await list.load();
  if (!ctx.current()) return;

  // Live updates: a device event changes its row in place; without the event stream
  // the first page is read again now and then (a row's order and the filter are left
  // as they were until the page is reloaded).
  let rereading = false;
  async function reread() {
    if (rereading) return;
    rereading = true;
    try {
      for (const d of await pager('devices', { q, status }).next()) update(d);
    } catch (e) {
      // The next event or re-read will do; an expired login shows on the next page.
    } finally {
      rereading = false;
    }
  }
  const stop = watch('devices', (ev) => {
    if (!ctx.current()) { stop(); return; }
    if (ev) update(ev);
    else reread();
  }, { fallbackMs: 10000 });
  window.addEventListener('hashchange', stop, { once: true });
}
