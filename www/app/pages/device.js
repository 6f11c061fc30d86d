// device.js: #/devices/ID. The device's facts and its sessions, newest first.
import { h, ago, when, statusBadge, errorBox } from '../dom.js';
import { get, post, pager } from '../api.js';
import { mayRunSessions, engineerName } from '../roles.js';

export const title = 'Device';

function facts(d) {
  const rows = [
    ['Status', statusBadge(d.status)],
    ['Last seen', h('span', { title: when(d.last_seen) }, ago(d.last_seen))],
    ['Hostname', d.hostname || '—'],
    ['OS', d.os || '—'],
    ['IP address', d.ip_address || '—'],
    ['Agent version', d.agent_version || '—'],
    ['Registered', when(d.created_at)],
    ['Id', h('code', {}, d.id)],
  ];
  return h('dl.facts', {}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export async function render(ctx) {
  const state = h('p.state', { 'aria-live': 'polite' }, 'Loading the device…');
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/devices' }, '← Devices')), state);
  const d = await get('devices/' + encodeURIComponent(ctx.params.id));
  if (!ctx.current()) return;
  document.title = `${d.name} · Kaiden`;
  state.remove();
  const body = h('tbody', {});
  const table = h('table.list', { id: 'device-sessions' },
    h('caption.sr', {}, 'Sessions on this device'),
    h('thead', {}, h('tr', {}, ['Started', 'Engineer', 'Status', 'Ended', 'Notes'].map((c) => h('th', { scope: 'col' }, c)))),
    body);
  const sstate = h('p.state', { id: 'sessions-state', 'aria-live': 'polite' }, 'Loading sessions…');
  const more = h('button', { type: 'button', hidden: true }, 'More');
  const start = h('button', { type: 'button', id: 'session-start' }, 'Start a session');
  const startMsg = h('div', { id: 'session-start-message', 'aria-live': 'polite' });
  start.addEventListener('click', async () => {
    start.disabled = true;
    start.textContent = 'Starting…';
    startMsg.replaceChildren();
    try {
      const s = await post('sessions', { device_id: d.id, engineer_name: engineerName(ctx.me) });
      if (ctx.current()) ctx.navigate('/sessions/' + encodeURIComponent(s.id));
    } catch (e) {
      startMsg.replaceChildren(errorBox(e));
      start.disabled = false;
      start.textContent = 'Start a session';
    }
  });
  ctx.main.append(h('h1', {}, d.name), h('section.card', {}, facts(d),
    mayRunSessions(ctx.me) ? h('p.actions', {}, start) : null, startMsg),
    h('h2', {}, 'Sessions'), table, sstate, more,
    h('p', {}, h('a', { href: '#/sessions?device_id=' + encodeURIComponent(d.id), id: 'device-all-sessions' }, 'All sessions of this device, with filters')));
  table.hidden = true;

  const pages = pager('sessions', { device_id: d.id });
  let shown = 0;
  async function load() {
    more.disabled = true;
    let items;
    try {
      items = await pages.next();
    } catch (e) {
      sstate.replaceChildren(errorBox(e));
      more.disabled = false;
      return;
    }
    if (!ctx.current()) return;
    for (const s of items) {
      body.append(h('tr', {},
        h('td', { 'data-label': 'Started' }, h('a', { href: '#/sessions/' + encodeURIComponent(s.id) }, when(s.started_at || s.created_at))),
        h('td', { 'data-label': 'Engineer' }, s.engineer_name || '—'),
        h('td', { 'data-label': 'Status' }, statusBadge(s.status)),
        h('td', { 'data-label': 'Ended' }, when(s.ended_at)),
        h('td.notes', { 'data-label': 'Notes' }, s.notes || '')));
    }
    shown += items.length;
    table.hidden = shown === 0;
    sstate.hidden = shown !== 0;
    if (shown === 0) sstate.textContent = 'No sessions on this device yet.';
    more.hidden = pages.done;
    more.disabled = false;
  }
  more.addEventListener('click', load);
  await load();
}
