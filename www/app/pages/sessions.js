// sessions.js: #/sessions. The tenant's session history, newest first: device, engineer,
// status, start, duration, the notes' first line. Filters (kept in the URL, so a link
// such as the device page's #/sessions?device_id=ID opens them set): device (a select of
// the tenant's devices), engineer (part of a name), status, from / to (dates, local
// time, both days included). "More" reads the next page with the API's cursor; ?limit=N
// sets the page size (default 50).
import { h, when, statusBadge, errorBox } from '../dom.js';
import { filterForm, filterField, listTable, pagedList } from '../list.js';
import { get, pager } from '../api.js';

export const title = 'Sessions';
export const nav = 'Sessions';

const STATUSES = ['pending', 'active', 'ending', 'ended', 'failed'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEVICE_OPTIONS = 200; // the select lists this many devices (one API page)

// 'YYYY-MM-DD' -> a Date at that day's local midnight (+ days), or null.
function day(text, days = 0) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || '');
  if (!m) return null;
  const y = Number(m[1]), mo = Number(m[2]) - 1, dd = Number(m[3]);
  const d = new Date(y, mo, dd);
  if (d.getFullYear() !== y || d.getMonth() !== mo || d.getDate() !== dd) return null;
  return days ? new Date(y, mo, dd + days) : d;
}

// "45 s", "12 min", "2 h 05 min".
function span(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

function duration(s) {
  const from = Date.parse(s.started_at || s.created_at);
  if (!isFinite(from)) return '—';
  if (s.ended_at) return span((Date.parse(s.ended_at) - from) / 1000);
  if (['pending', 'active', 'ending'].includes(s.status)) return span((Date.now() - from) / 1000) + ' so far';
  return '—';
}

function firstLine(notes) {
  const line = (notes || '').split('\n')[0].trim();
  return line.length > 80 ? line.slice(0, 79) + '…' : line;
}

export async function render(ctx) {
  const q = ctx.query;
  const f = {
    device_id: UUID.test(q.device_id || '') ? q.device_id.toLowerCase() : '',
    engineer: (q.engineer || '').trim(),
    status: STATUSES.includes(q.status) ? q.status : '',
    from: day(q.from) ? q.from : '',
    to: day(q.to) ? q.to : '',
  };
  const limit = /^\d+$/.test(q.limit || '') && +q.limit >= 1 && +q.limit <= 200 ? +q.limit : 50;
  const filtered = Object.values(f).some(Boolean);

  const device = h('select', { id: 'sessions-device', name: 'device_id' },
    h('option', { value: '' }, 'Any device'));
  const engineer = h('input', { id: 'sessions-engineer', type: 'search', name: 'engineer', value: f.engineer, placeholder: 'Part of a name', maxlength: '128' });
  const status = h('select', { id: 'sessions-status', name: 'status' },
    [['', 'Any status'], ...STATUSES.map((s) => [s, s[0].toUpperCase() + s.slice(1)])].map(([v, l]) =>
      h('option', { value: v, selected: v === f.status }, l)));
  const from = h('input', { id: 'sessions-from', type: 'date', name: 'from', value: f.from });
  const to = h('input', { id: 'sessions-to', type: 'date', name: 'to', value: f.to });
  const form = filterForm(ctx, '/sessions', {
    attrs: { 'aria-label': 'Filter the sessions' },
    fields: [filterField('sessions-device', 'Device', device), filterField('sessions-engineer', 'Engineer', engineer, true),
      filterField('sessions-status', 'Status', status), filterField('sessions-from', 'From', from),
      filterField('sessions-to', 'To', to)],
    params: () => ({
      device_id: device.value, engineer: engineer.value.trim(), status: status.value,
      from: from.value, to: to.value, limit: q.limit ? String(limit) : '',
    }),
    auto: [device, status],
    applyId: 'sessions-apply',
    after: filtered ? h('a', { href: '#/sessions', id: 'sessions-clear' }, 'Clear filters') : null,
  });

  const view = listTable({ id: 'sessions', caption: 'Sessions', columns: ['Device', 'Engineer', 'Status', 'Started', 'Duration', 'Notes'],
    stateId: 'sessions-list-state', moreId: 'sessions-more', loading: 'Loading sessions…' });
  const { body, state } = view;
  ctx.main.append(h('div.titlebar', {}, h('h1', {}, 'Sessions')), form, view.table, state, view.more);

  if (f.from && f.to && day(f.to) < day(f.from)) {
    state.replaceChildren(errorBox(new Error('The “To” date is before the “From” date.')));
    return;
  }

  // Device names, for the select: the first page of devices (the rows carry their own).
  const names = new Map();
  const devicesRead = get('devices?limit=' + DEVICE_OPTIONS).then((reply) => {
    const list = (reply.items || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    for (const d of list) names.set(d.id, d.name);
    device.append(...list.map((d) => h('option', { value: d.id }, d.name)));
  }, (e) => {
    if (e.status === 401) throw e;
    form.after(errorBox(e));
  });

  function row(s) {
    const deviceCell = h('td', { 'data-label': 'Device' });
    const link = (name) => h('a', { href: '#/devices/' + encodeURIComponent(s.device_id) }, name);
    // The API names the device on each session (a removed device's name too).
    deviceCell.append(link(s.device_name || names.get(s.device_id) || s.device_id.slice(0, 8) + '…'));
    const note = firstLine(s.notes);
    return h('tr', {},
      deviceCell,
      h('td', { 'data-label': 'Engineer' }, s.engineer_name || '—'),
      h('td', { 'data-label': 'Status' }, statusBadge(s.status)),
      h('td', { 'data-label': 'Started' }, h('a', { href: '#/sessions/' + encodeURIComponent(s.id) }, when(s.started_at || s.created_at))),
      h('td', { 'data-label': 'Duration' }, duration(s)),
      h('td.notes', { 'data-label': 'Notes', title: s.notes || null }, note));
  }

  const { load } = pagedList(ctx, view, {
    pages: pager('sessions', {
      device_id: f.device_id,
      engineer: f.engineer,
      status: f.status,
      since: f.from ? day(f.from).toISOString() : '',
      until: f.to ? day(f.to, 1).toISOString() : '',
    }, limit),
    row,
    empty: () => (filtered ? 'No session matches these filters.'
      : 'No sessions yet. A session appears here once someone starts one on a device.'),
  });

  // The select first (so the rows name their devices), then the first page.
  await devicesRead;
  if (!ctx.current()) return;
  if (f.device_id) {
    let extra = null;
    if (!names.has(f.device_id)) {
      // Beyond the first page, or removed: named by its sessions once they are read.
      extra = h('option', { value: f.device_id }, 'This device (' + f.device_id.slice(0, 8) + '…)');
      device.append(extra);
    }
    device.value = f.device_id;
    await load();
    const named = body.querySelector('td a');
    if (extra && named && ctx.current()) extra.textContent = named.textContent;
    return;
  }
  await load();
}
