// session.js: #/sessions/ID. One session: its status and step, read again every second
// while it is pending or ending (and never after the page is left), the time it has
// run; for a relay session the kaiden-connect commands to copy, for a Cloudflare one its
// public URL and ssh host name; its notes (editable by those who may); End.
import { h, when, statusBadge, errorBox } from '../dom.js';
import { get, patch, del } from '../api.js';
import { mayRunSessions } from '../roles.js';
import { commandBox } from '../copy.js';

export const title = 'Session';

const LIVE = ['pending', 'active', 'ending'];
const MOVING = ['pending', 'ending'];

function duration(s) {
  s = Math.max(0, Math.floor(s));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

function elapsed(s) {
  const from = Date.parse(s.started_at || s.created_at);
  const to = s.ended_at ? Date.parse(s.ended_at) : Date.now();
  return isFinite(from) && isFinite(to) ? duration((to - from) / 1000) : '—';
}

const STEP_TEXT = {
  pending: 'Waiting for the device\'s agent to open the tunnel.',
  active: 'The tunnel is open.',
  ending: 'Closing the tunnel.',
  ended: 'The session has ended.',
  failed: 'The session failed.',
};

export async function render(ctx) {
  const id = ctx.params.id;
  const state = h('p.state', { 'aria-live': 'polite' }, 'Loading the session…');
  const crumbs = h('p.crumbs', {}, h('a', { href: '#/devices' }, '← Devices'));
  ctx.main.append(crumbs, state);
  let s = await get('sessions/' + encodeURIComponent(id));
  if (!ctx.current()) return;
  state.remove();
  crumbs.replaceChildren(h('a', { href: '#/devices/' + encodeURIComponent(s.device_id) }, '← The device'));
  const may = mayRunSessions(ctx.me);
  get('devices/' + encodeURIComponent(s.device_id)).then((d) => {
    if (!ctx.current()) return;
    crumbs.firstChild.textContent = '← ' + d.name;
    heading.textContent = 'Session on ' + d.name;
  }, () => {}); // a deleted device keeps its sessions: the heading stays plain

  const heading = h('h1', {}, 'Session');
  const facts = h('dl.facts', { id: 'session-facts' });
  const access = h('section', { id: 'session-access' });
  const msg = h('div', { id: 'session-message', 'aria-live': 'polite' });
  const endButton = h('button.danger', { type: 'button', id: 'session-end' }, 'End the session');
  const notes = h('textarea', { id: 'session-notes', name: 'notes', rows: '4', maxlength: '4096', readOnly: !may });
  const saveNotes = h('button', { type: 'button', id: 'session-notes-save' }, 'Save notes');
  const notesMsg = h('span.state', { id: 'session-notes-state', 'aria-live': 'polite' });
  notes.value = s.notes || '';

  ctx.main.append(heading,
    h('section.card', {}, facts, may ? h('p.actions', {}, endButton) : null, msg),
    access,
    h('h2', {}, h('label', { for: 'session-notes' }, 'Notes')),
    h('div.card.stack', {}, notes, may ? h('p.actions', {}, saveNotes, notesMsg) : null));

  let elapsedEl = null;
  function draw() {
    document.title = `Session ${s.status} · Kaiden`;
    elapsedEl = h('span', { id: 'session-elapsed' }, elapsed(s));
    const rows = [
      ['Status', h('span', { id: 'session-status' }, statusBadge(s.status))],
      ['Step', h('span', { id: 'session-step' }, s.step || STEP_TEXT[s.status] || '—')],
      s.error ? ['Error', h('span.error-text', { id: 'session-error' }, s.error)] : null,
      [s.ended_at ? 'Lasted' : 'Running for', elapsedEl],
      ['Engineer', s.engineer_name || '—'],
      ['Tunnel', s.provider === 'cloudflare' ? 'Cloudflare' : 'Kaiden relay'],
      ['Started', when(s.started_at || s.created_at)],
      ['Ended', when(s.ended_at)],
      ['Id', h('code', {}, s.id)],
    ].filter(Boolean);
    facts.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    endButton.hidden = !['pending', 'active'].includes(s.status);
    drawAccess();
  }

  function drawAccess() {
    const parts = [];
    if (LIVE.includes(s.status) && s.status !== 'ending') {
      if (s.provider === 'cloudflare') {
        if (s.public_url) parts.push(h('p', {}, 'Web: ', h('a', { href: s.public_url, rel: 'noopener noreferrer', target: '_blank', id: 'session-url' }, s.public_url)));
        if (s.ssh_hostname) parts.push(h('p', {}, 'SSH host: ', h('code', { id: 'session-ssh-host' }, s.ssh_hostname)));
      } else if (s.connect) {
        parts.push(
          h('p', {}, s.connect.token),
          h('h3', {}, 'SSH to the machine'), commandBox('connect-ssh', s.connect.ssh, 'the ssh command'),
          h('h3', {}, 'Its web page on this computer'), commandBox('connect-web', s.connect.web, 'the web command'),
          h('p.hint', {}, 'Then browse to http://127.0.0.1:18080.'));
      }
      if (s.status === 'pending' && parts.length) {
        parts.unshift(h('p.hint', {}, 'These work once the session is active.'));
      }
    }
    access.replaceChildren(...(parts.length ? [h('h2', {}, 'Connect'), h('div.card', {}, parts)] : []));
  }

  draw();

  // Polling: a GET each second while the session moves on its own (pending, ending);
  // the elapsed time ticks each second while it is live. Both stop when the page is left.
  let polling = false;
  async function poll() {
    if (!ctx.current() || !MOVING.includes(s.status)) { polling = false; return; }
    try {
      const fresh = await get('sessions/' + encodeURIComponent(id));
      if (!ctx.current()) return;
      s = fresh;
      draw();
      msg.replaceChildren();
    } catch (e) {
      if (!ctx.current()) return;
      msg.replaceChildren(errorBox(e));
      if (e.status === 401 || e.status === 403 || e.status === 404) { polling = false; return; }
    }
    setTimeout(poll, 1000);
  }
  function startPolling() {
    if (polling || !MOVING.includes(s.status)) return;
    polling = true;
    setTimeout(poll, 1000);
  }
  function tick() {
    if (!ctx.current()) return;
    if (elapsedEl && !s.ended_at) elapsedEl.textContent = elapsed(s);
    if (LIVE.includes(s.status)) setTimeout(tick, 1000);
  }
  startPolling();
  tick();

  endButton.addEventListener('click', async () => {
    endButton.disabled = true;
    endButton.textContent = 'Ending…';
    msg.replaceChildren();
    try {
      s = await del('sessions/' + encodeURIComponent(id));
      if (!ctx.current()) return;
      draw();
      startPolling();
    } catch (e) {
      msg.replaceChildren(errorBox(e));
    }
    endButton.disabled = false;
    endButton.textContent = 'End the session';
  });

  saveNotes.addEventListener('click', async () => {
    saveNotes.disabled = true;
    notesMsg.textContent = 'Saving…';
    try {
      const v = notes.value;
      const fresh = await patch('sessions/' + encodeURIComponent(id), { notes: v === '' ? null : v });
      if (!ctx.current()) return;
      s = fresh;
      draw();
      notesMsg.textContent = 'Saved.';
    } catch (e) {
      notesMsg.replaceChildren(errorBox(e));
    }
    saveNotes.disabled = false;
  });
}
