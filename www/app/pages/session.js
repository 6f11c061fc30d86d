// session.js: #/sessions/ID. One session: its progress, followed live, and how to
// connect (progress.js, shared with the ticket page); its facts; its notes (editable by
// those who may); End. Its ticket, when it was started from one, is linked.
import { h, when, errorBox } from '../dom.js';
import { get, patch } from '../api.js';
import { mayRunSessions } from '../roles.js';
import { sessionProgress } from '../progress.js';

export const title = 'Session';

export async function render(ctx) {
  const id = ctx.params.id;
  const state = h('p.state', { 'aria-live': 'polite' }, 'Loading the session…');
  const crumbs = h('p.crumbs', {}, h('a', { href: '#/sessions' }, '← Sessions'));
  ctx.main.append(crumbs, state);
  const s = await get('sessions/' + encodeURIComponent(id));
  if (!ctx.current()) return;
  state.remove();
  crumbs.replaceChildren(h('a', { href: '#/devices/' + encodeURIComponent(s.device_id) }, '← The device'),
    ' · ', h('a', { href: '#/sessions' }, 'All sessions'),
    ...(s.ticket_id ? [' · ', h('a', { href: '#/tickets/' + encodeURIComponent(s.ticket_id), id: 'session-ticket' }, 'Its ticket')] : []));
  const may = mayRunSessions(ctx.me);
  // The API names the device (a removed device's name too).
  const heading = h('h1', {}, s.device_name ? 'Session on ' + s.device_name : 'Session');
  if (s.device_name) crumbs.firstChild.textContent = '← ' + s.device_name;
  const facts = h('dl.facts', { id: 'session-facts' });
  const notes = h('textarea', { id: 'session-notes', name: 'notes', rows: '4', maxlength: '4096', readOnly: !may });
  const saveNotes = h('button', { type: 'button', id: 'session-notes-save' }, 'Save notes');
  const notesMsg = h('span.state', { id: 'session-notes-state', 'aria-live': 'polite' });
  notes.value = s.notes || '';

  function drawFacts(x) {
    document.title = `Session ${x.status} · Kaiden`;
    const rows = [
      x.error ? ['Error', h('span.error-text', { id: 'session-error' }, x.error)] : null,
      ['Engineer', x.engineer_name || '—'],
      ['Tunnel', x.provider === 'cloudflare' ? 'Cloudflare' : 'Kaiden relay'],
      ['Started', when(x.started_at || x.created_at)],
      ['Ended', when(x.ended_at)],
      ['Id', h('code', {}, x.id)],
    ].filter(Boolean);
    facts.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }
  const live = sessionProgress(ctx, s, { may, onDraw: drawFacts });
  ctx.main.append(heading, ...live.parts,
    h('h2', {}, 'Details'),
    h('section.card', {}, facts),
    h('h2', {}, h('label', { for: 'session-notes' }, 'Notes')),
    h('div.card.stack', {}, notes, may ? h('p.actions', {}, saveNotes, notesMsg) : null));

  saveNotes.addEventListener('click', async () => {
    saveNotes.disabled = true;
    notesMsg.textContent = 'Saving…';
    try {
      const v = notes.value;
      const fresh = await patch('sessions/' + encodeURIComponent(id), { notes: v === '' ? null : v });
      if (!ctx.current()) return;
      live.set(fresh);
      notesMsg.textContent = 'Saved.';
    } catch (e) {
      notesMsg.replaceChildren(errorBox(e));
    }
    saveNotes.disabled = false;
  });
}
