// devices.js: #/devices. The tenant's devices: name, status, last seen, OS, agent
// version; a search box and a status filter (kept in the URL: #/devices?q=..&status=..);
// "More" reads the next page with the API's cursor.
import { h, ago, when, statusBadge, errorBox } from '../dom.js';
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
  const form = h('form.filters', { role: 'search' },
    h('span.field.grow', {}, h('label', { for: 'device-q' }, 'Search'), search),
    h('span.field', {}, h('label', { for: 'device-status' }, 'Status'), filter),
    h('button', { type: 'submit' }, 'Apply'));
  const apply = (ev) => {
    if (ev) ev.preventDefault();
    const p = new URLSearchParams();
    if (search.value.trim()) p.set('q', search.value.trim());
    if (filter.value) p.set('status', filter.value);
    const s = p.toString();
    ctx.navigate('/devices' + (s ? '?' + s : ''));
  };
  form.addEventListener('submit', apply);
  filter.addEventListener('change', apply);

  const body = h('tbody', {});
  const table = h('table.list', { id: 'devices' },
    h('caption.sr', {}, 'Devices'),
    h('thead', {}, h('tr', {}, ['Name', 'Status', 'Last seen', 'OS', 'Agent'].map((c) => h('th', { scope: 'col' }, c)))),
    body);
  const state = h('p.state', { id: 'devices-state', 'aria-live': 'polite' }, 'Loading devices…');
  const more = h('button', { type: 'button', id: 'devices-more', hidden: true }, 'More');
  ctx.main.append(h('div.titlebar', {}, h('h1', {}, 'Devices'),
    mayRegister(ctx.me) ? h('a.button', { href: '#/devices/new', id: 'device-register' }, 'Register a device') : null),
    form, table, state, more);

  const pages = pager('devices', { q, status });
  let shown = 0;
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
  async function load() {
    more.disabled = true;
    state.textContent = shown ? 'Loading more…' : 'Loading devices…';
    state.hidden = false;
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
    for (const d of items) {
      const row = {
        status: h('td', { 'data-label': 'Status' }, statusBadge(d.status)),
        seen: h('td', { 'data-label': 'Last seen', title: when(d.last_seen) }, ago(d.last_seen)),
        os: h('td', { 'data-label': 'OS' }, d.os || '—'),
        agent: h('td', { 'data-label': 'Agent' }, d.agent_version || '—'),
      };
      rows.set(d.id, row);
      body.append(h('tr', { 'data-device-id': d.id },
        h('td', { 'data-label': 'Name' }, h('a', { href: '#/devices/' + encodeURIComponent(d.id) }, d.name)),
        row.status, row.seen, row.os, row.agent));
    }
    shown += items.length;
    table.hidden = shown === 0;
    if (shown === 0) {
      state.textContent = q || status ? 'No device matches this search.'
        : 'No devices yet. A device appears here once it is registered.';
    } else {
      state.hidden = true;
    }
    more.hidden = pages.done;
    more.disabled = false;
  }
  more.addEventListener('click', () => load().catch((e) => state.replaceChildren(errorBox(e))));
  table.hidden = true;
  await load();
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
