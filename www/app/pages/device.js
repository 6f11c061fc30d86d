// device.js: #/devices/ID. The device's facts and its sessions, newest first; a link to
// open a ticket about it. A Kubernetes node's facts too (its cluster, Ready, resources).
// For those who may register devices: a new secret (asked first; shown once with the
// agent's commands, as after registering) and removal.
import { h, ago, when, statusBadge, errorBox } from '../dom.js';
import { get, post, del, pager } from '../api.js';
import { mayRunSessions, mayRegister, mayUseTickets, engineerName } from '../roles.js';
import { confirming } from '../confirm.js';
import { watch } from '../events.js';
import { nodeFacts } from '../clusters.js';
import { onceCard } from '../copy.js';
import { agentCommands } from './device-new.js';

export const title = 'Device';

// The device's facts; live.status and live.seen are the cells that change live.
function facts(d, live) {
  live.status = h('span', { id: 'device-status' }, statusBadge(d.status));
  live.seen = h('span', { title: when(d.last_seen) }, ago(d.last_seen));
  const rows = [
    ['Status', live.status],
    ['Last seen', live.seen],
    ['Hostname', live.hostname = h('span', {}, d.hostname || '—')],
    ['OS', live.os = h('span', {}, d.os || '—')],
    ['IP address', d.ip_address || '—'],
    ['Agent version', live.agent = h('span', {}, d.agent_version || '—')],
    ['Registered', when(d.created_at)],
    ['Id', h('code', {}, d.id)],
    // A Kubernetes node (issue 12): its cluster and what its agent read of the node.
    ...(d.cluster_id ? nodeFacts(d) : []),
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
  const live = {};
  let factList = facts(d, live);
  ctx.main.append(h('h1', {}, d.name), h('section.card', {}, factList,
    mayRunSessions(ctx.me) ? h('p.actions', {}, start) : null, startMsg),
    h('h2', {}, 'Sessions'), table, sstate, more,
    h('p', {}, h('a', { href: '#/sessions?device_id=' + encodeURIComponent(d.id), id: 'device-all-sessions' }, 'All sessions of this device, with filters')),
    ...(mayUseTickets(ctx.me) ? [h('p', {}, h('a', { href: '#/tickets/new?device_id=' + encodeURIComponent(d.id), id: 'device-new-ticket' }, 'Report a problem with this device (a new ticket)'))] : []));
  if (mayRegister(ctx.me)) ctx.main.append(rotation(ctx, d), removal(ctx, d));
  table.hidden = true;

  let pages = pager('sessions', { device_id: d.id });
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
    show(items);
  }
  function show(items) {
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
  if (!ctx.current()) return;

  // Live updates: the device's status and last seen from its events; the sessions list
  // read again from its first page when one of its sessions moves. Without the event
  // stream both are read again now and then.
  function showDevice(x) {
    live.status.replaceChildren(statusBadge(x.status));
    live.seen.title = when(x.last_seen);
    live.seen.textContent = ago(x.last_seen);
    if (x.hostname !== undefined) live.hostname.textContent = x.hostname || '—';
    if (x.os !== undefined) live.os.textContent = x.os || '—';
    if (x.agent_version !== undefined) live.agent.textContent = x.agent_version || '—';
  }
  let reloading = false, again = false;
  async function reloadSessions() {
    if (reloading) { again = true; return; }
    reloading = true;
    try {
      do {
        again = false;
        const fresh = pager('sessions', { device_id: d.id });
        const items = await fresh.next();
        if (!ctx.current()) return;
        pages = fresh;
        shown = 0;
        body.replaceChildren();
        show(items);
      } while (again);
    } finally {
      reloading = false;
    }
  }
  const stops = [
    watch('devices', (ev) => {
      if (!ctx.current()) { stopAll(); return; }
      if (!ev) {
        get('devices/' + encodeURIComponent(d.id)).then((x) => { if (ctx.current()) showDevice(x); }, () => {});
      } else if (ev.id === d.id) {
        showDevice(ev);
      }
    }, { fallbackMs: 10000 }),
    // A node's reading (Ready, cordon, labels, resources): the device read again and its
    // facts drawn anew.
    ...(d.cluster_id ? [watch('nodes', (ev) => {
      if (!ctx.current()) { stopAll(); return; }
      if (ev && ev.id !== d.id) return;
      return get('devices/' + encodeURIComponent(d.id)).then((x) => {
        if (!ctx.current()) return;
        const fresh = facts(x, live);
        factList.replaceWith(fresh);
        factList = fresh;
      }, () => {});
    }, { fallbackMs: 10000 })] : []),
    watch('sessions', (ev) => {
      if (!ctx.current()) { stopAll(); return; }
      if (!ev || ev.device_id === d.id) reloadSessions().catch(() => {});
    }, { fallbackMs: 10000 }),
  ];
  function stopAll() { for (const s of stops) s(); }
  window.addEventListener('hashchange', stopAll, { once: true });
}

// "Rotate secret" (POST /devices/{id}/rotate-secret: those who may register a device),
// asked first; the new secret is then shown once, in the commands that put it on the
// machine, and lives only in the card's elements. A node's agent uses its cluster's
// secret: its page says so and links the cluster, where that secret is made anew.
function rotation(ctx, d) {
  if (d.cluster_id) {
    return h('section', {}, h('h2', {}, 'Secret'),
      h('div.card', {}, h('p', { id: 'device-rotate-node' },
        'This node\'s agent signs in with its cluster\'s secret: make a new one on ',
        h('a', { href: '#/clusters/' + encodeURIComponent(d.cluster_id) }, 'the cluster\'s page'), '.')));
  }
  const shown = h('div', { id: 'device-rotate-shown' });
  const msg = h('div', { id: 'device-rotate-message', 'aria-live': 'polite' });
  const button = h('button.secondary', { type: 'button', id: 'device-rotate' }, 'Rotate secret');
  const ask = confirming(button, {
    question: `Make a new secret for ${d.name}? The old one stops working for new sign-ins at once: ` +
      'an agent connected now stays until it reconnects, then needs the new one.',
    yes: 'Make a new secret',
    id: 'device-rotate',
    onYes: async () => {
      msg.replaceChildren();
      let reply;
      try {
        reply = await post('devices/' + encodeURIComponent(d.id) + '/rotate-secret');
      } catch (e) {
        if (e.status === 401) throw e;
        msg.replaceChildren(errorBox(e));
        return false;
      }
      if (!ctx.current()) return true;
      const card = onceCard({
        id: 'device-secret', heading: `${d.name}'s new secret`,
        warning: 'This is the only time the new secret is shown. Copy it now: Kaiden keeps only a hash ' +
          'of it, and the old secret no longer lets the agent in.',
        before: [
          h('dl.facts', {},
            h('dt', {}, 'Device id'), h('dd', {}, h('code', {}, d.id)),
            h('dt', {}, 'Secret'), h('dd', {}, h('code.secret', { id: 'rotated-device-secret' }, reply.secret))),
          h('p', {}, 'On the machine, as root: replace the secret file, then restart the agent with it:'),
        ],
        boxId: 'agent-commands', secret: agentCommands(location.host, d.id, reply.secret),
        label: 'the agent commands with the new secret',
        doneId: 'device-secret-done', onDone: () => button.focus(),
      });
      shown.replaceChildren(card);
      ask.replaceChildren(button); // the question answered: the button back, for Done's focus
      card.focus();
      return true;
    },
  });
  return h('section', {}, h('h2', {}, 'Secret'),
    h('div.card.stack', {},
      h('p', {}, 'A new secret is shown once; the old one stops letting the agent in at once.'),
      h('p.actions', {}, ask), msg),
    shown);
}

// "Remove this device" (DELETE /devices/{id}: those who may register one), asked first.
// Its sessions stay in the history under its name; its agent can no longer sign in. A
// session still running on it is refused by the server (409 device_busy), said here.
function removal(ctx, d) {
  const button = h('button.danger', { type: 'button', id: 'device-delete' }, 'Remove this device');
  const msg = h('div', { id: 'device-delete-message', 'aria-live': 'polite' });
  const ask = confirming(button, {
    question: `Remove ${d.name}? Its agent will no longer be let in.`,
    yes: 'Remove',
    id: 'device-delete',
    onYes: async () => {
      msg.replaceChildren();
      try {
        await del('devices/' + encodeURIComponent(d.id));
      } catch (e) {
        if (e.status === 401) throw e;
        msg.replaceChildren(errorBox(e));
        return false;
      }
      if (ctx.current()) ctx.navigate('/devices');
      return true;
    },
  });
  return h('section', {}, h('h2', {}, 'Remove'),
    h('div.card.stack', {},
      h('p', {}, 'The device leaves the list; its sessions stay in the history under its name.'),
      h('p.actions', {}, ask), msg));
}
