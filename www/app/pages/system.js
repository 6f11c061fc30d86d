// system.js: #/admin/system (platform staff). GET /admin/system: each kaiden-helperd
// (running or not, version, since when, last heartbeat, agents, relay streams, the
// Cloudflare budget spent), jobs queued / running / failed, devices online of total,
// sessions by status. Read again every 10 s while the page is open (and on Refresh).
import { h, when, ago, errorBox, statusBadge } from '../dom.js';
import { get } from '../api.js';
import { mayReadSystem } from '../roles.js';

export const title = 'System';
export const nav = 'System';
export const navIf = mayReadSystem;

const EVERY_MS = 10000;

function figures(id, caption, rows) {
  return h('section.card.figures', { id },
    h('h2', {}, caption),
    h('dl.facts', {}, rows.map(([k, key, v]) => [h('dt', {}, k), h('dd', { id: key }, String(v))])));
}

function helperdRow(d) {
  const cf = d.cloudflare;
  return h('tr', {},
    h('td', { 'data-label': 'Instance' }, h('code', {}, d.instance)),
    h('td', { 'data-label': 'State' }, statusBadge(d.running ? 'running' : 'stopped'),
      d.running ? null : h('span.hint', {}, ' not running')),
    h('td', { 'data-label': 'Version' }, d.version),
    h('td', { 'data-label': 'Started' }, when(d.started_at)),
    h('td', { 'data-label': 'Heartbeat', title: when(d.heartbeat_at) }, ago(d.heartbeat_at)),
    h('td', { 'data-label': 'Agents' }, d.running ? String(d.agents) : '—'),
    h('td', { 'data-label': 'Relay streams' }, d.running ? String(d.relay_streams) : '—'),
    h('td', { 'data-label': 'Cloudflare' }, cf
      ? `${cf.calls_used} of ${cf.budget} calls per ${Math.round(cf.window_seconds / 60)} min`
      : 'not configured'));
}

export async function render(ctx) {
  ctx.main.append(h('div.titlebar', {}, h('h1', {}, 'System')));
  if (!mayReadSystem(ctx.me)) {
    ctx.main.append(h('p.error', { role: 'alert' }, 'Only Kaiden staff see the system status.'));
    return;
  }
  const refresh = h('button', { type: 'button', id: 'system-refresh' }, 'Refresh');
  const checked = h('p.state', { id: 'system-checked', 'aria-live': 'polite' }, 'Loading the system status…');
  const out = h('div', { id: 'system' });
  ctx.main.querySelector('.titlebar').append(refresh);
  ctx.main.append(checked, out);

  function draw(s) {
    const hb = h('tbody', {}, s.helperds.map(helperdRow));
    const running = s.helperds.filter((d) => d.running).length;
    out.replaceChildren(...[
      h('h2', {}, 'kaiden-helperd'),
      s.helperds.length
        ? h('table.list', { id: 'system-helperds' },
          h('caption.sr', {}, 'kaiden-helperd instances'),
          h('thead', {}, h('tr', {}, ['Instance', 'State', 'Version', 'Started', 'Heartbeat', 'Agents', 'Relay streams', 'Cloudflare']
            .map((c) => h('th', { scope: 'col' }, c)))), hb)
        : null,
      h('p', { id: 'system-helperd-summary', class: running ? 'state' : 'error', role: running ? null : 'alert' },
        s.helperds.length === 0 ? 'No kaiden-helperd has reported: agents cannot connect and sessions do not start.'
          : running === 0 ? 'No kaiden-helperd is running: agents cannot connect and sessions do not start.'
            : `${running} of ${s.helperds.length} running.`),
      h('div.figure-grid', {},
        figures('system-jobs', 'Jobs', [['Queued', 'jobs-queued', s.jobs.queued], ['Running', 'jobs-running', s.jobs.running],
          ['Failed', 'jobs-failed', s.jobs.failed], ['Done', 'jobs-done', s.jobs.done]]),
        figures('system-devices', 'Devices', [['Online', 'devices-online', s.devices.online], ['Total', 'devices-total', s.devices.total]]),
        figures('system-sessions', 'Sessions', ['pending', 'active', 'ending', 'ended', 'failed']
          .map((k) => [k[0].toUpperCase() + k.slice(1), 'sessions-' + k, s.sessions[k]]))),
    ].filter(Boolean));
    checked.textContent = 'Checked ' + when(s.checked_at) + '.';
  }

  let timer = null;
  async function load() {
    refresh.disabled = true;
    try {
      const s = await get('admin/system', { tenant: null });
      if (!ctx.current()) return;
      draw(s);
    } catch (e) {
      if (!ctx.current()) return;
      if (e.status === 401) throw e;
      checked.replaceChildren(errorBox(e));
    } finally {
      refresh.disabled = false;
    }
    clearTimeout(timer);
    timer = setTimeout(() => { if (ctx.current()) load().catch(() => {}); }, EVERY_MS);
  }
  refresh.addEventListener('click', () => load().catch(() => {}));
  await load();
}
