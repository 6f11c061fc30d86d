// ticket.js: #/tickets/ID. One ticket: its facts (status, priority, device, who has it);
// the status moves this caller may make (roles.js ticketMoves: staff every allowed one,
// the tenant's people close and reopen); for staff, priority and assignee (the platform's
// staff, GET /users?scope=platform) and "Take it"; the conversation, oldest first, with
// system entries (status changes, sessions) drawn as events and internal notes marked;
// a comment box (staff: an "internal note" toggle); the ticket's sessions; and for those
// who run sessions, "Start a session" on a device (the ticket's by default), whose
// progress is then shown here, followed live (progress.js, as on the session page).
// The ticket is read again after every change this page makes, when its live session
// changes status (the API writes a system comment for a session's start and end), and
// when a change made elsewhere moved its updated_at (checked every 10 s while shown).
import { h, ago, when, statusBadge, errorBox } from '../dom.js';
import { get, patch, post, pager } from '../api.js';
import { mayUseTickets, mayHandleTickets, mayRunSessions, engineerName, ticketMoves } from '../roles.js';
import { PRIORITIES, priorityWord, statusWord, moveWord, ticketStatusBadge, priorityBadge, deviceNames, eventText } from '../tickets.js';
import { sessionProgress } from '../progress.js';
import { staffNames, assignee } from './tickets.js';
import { signedOut } from './user-fields.js';

export const title = 'Ticket';

const LIVE = ['pending', 'active', 'ending'];
const COMMENT_PAGE = 100;

// Every comment, oldest first (the API's order), page after page.
async function readComments(id) {
  const pages = pager('tickets/' + encodeURIComponent(id) + '/comments', {}, COMMENT_PAGE);
  const all = [];
  while (!pages.done) all.push(...await pages.next());
  return all;
}

function commentItem(c, me, names) {
  const time = h('time', { datetime: c.created_at, title: when(c.created_at) }, ago(c.created_at));
  if (c.type === 'system' || c.type === 'status_change') {
    return h('li.event.event-' + c.type, { 'data-type': c.type, 'data-id': c.id },
      h('span.event-mark', { 'aria-hidden': 'true' }, c.type === 'status_change' ? '⇄' : '•'),
      h('span.sr', {}, c.type === 'status_change' ? 'Status change: ' : 'Event: '),
      h('span.event-text', {}, h('span.event-body', {}, eventText(c, names, me)), ' ', time));
  }
  const mine = me && me.user && me.user.id === c.author_id;
  return h('li.comment' + (c.internal ? '.internal' : ''), { 'data-type': c.type, 'data-id': c.id, 'data-internal': c.internal ? 'true' : 'false' },
    h('p.comment-head', {},
      h('span.comment-author', {}, mine ? 'You' : (c.author_name || 'Someone')),
      c.internal ? h('span.badge.internal-badge', {}, 'Internal note') : null,
      time),
    h('p.comment-body', {}, c.body));
}

const FOLLOW_MS = 10000;

export async function render(ctx) {
  const id = ctx.params.id;
  const path = 'tickets/' + encodeURIComponent(id);
  const state = h('p.state', { 'aria-live': 'polite' }, 'Loading the ticket…');
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/tickets' }, '← Tickets')), state);
  if (!mayUseTickets(ctx.me)) {
    state.replaceWith(h('h1', {}, 'Ticket'), h('p.error', { role: 'alert', id: 'tickets-refused' }, 'Your role may not see tickets.'));
    return;
  }
  const staff = mayHandleTickets(ctx.me);
  const runs = mayRunSessions(ctx.me);
  let [t, comments, names, devices] = await Promise.all([get(path), readComments(id), staffNames(ctx.me), deviceNames()]);
  if (!ctx.current()) return;
  state.remove();

  const heading = h('h1', {});
  const facts = h('dl.facts', { id: 'ticket-facts' });
  const moves = h('p.actions', { id: 'ticket-moves' });
  const movesMsg = h('div', { id: 'ticket-moves-message', 'aria-live': 'polite' });
  const description = h('p.ticket-description', { id: 'ticket-description' });
  const convo = h('ol.conversation', { id: 'ticket-comments', 'aria-labelledby': 'ticket-comments-title' });
  const sessionsBody = h('tbody', {});
  const sessionsTable = h('table.list', { id: 'ticket-sessions' },
    h('caption.sr', {}, 'Sessions started from this ticket'),
    h('thead', {}, h('tr', {}, ['Started', 'Device', 'Engineer', 'Status', 'Ended'].map((c) => h('th', { scope: 'col' }, c)))),
    sessionsBody);
  const sessionsState = h('p.state', { id: 'ticket-sessions-state' });
  const notice = h('div', { 'aria-live': 'polite' });
  if (ctx.query.created) notice.append(h('p.notice.ok', { id: 'ticket-created' }, `Ticket ${t.number} is open. The support team will answer here.`));

  // Reading it again: the ticket (its sessions too) and its conversation.
  let reading = null;
  async function reload() {
    if (reading) return reading;
    reading = (async () => {
      try {
        const [fresh, cs] = await Promise.all([get(path), readComments(id)]);
        if (!ctx.current()) return;
        t = fresh;
        comments = cs;
        draw();
      } finally {
        reading = null;
      }
    })();
    return reading;
  }

  // A failed action, said where it happened; a 401 ends the page.
  function failed(e, msg) {
    if (!ctx.current()) return;
    if (e.status === 401) signedOut(ctx);
    else msg.replaceChildren(errorBox(e));
  }

  // A change through PATCH: body, the message box, the control to put the focus back on.
  async function change(body, msg, button) {
    msg.replaceChildren();
    if (button) button.disabled = true;
    try {
      t = await patch(path, body);
      if (!ctx.current()) return false;
      comments = await readComments(id);
      if (!ctx.current()) return false;
      draw();
      msg.replaceChildren(h('p.state', {}, 'Saved.'));
      return true;
    } catch (e) {
      failed(e, msg);
      return false;
    } finally {
      if (button) button.disabled = false;
    }
  }

  // The status moves: staff every allowed one; the tenant's people close and reopen
  // (any ticket of their tenant, as h_tickets.c allows).
  function drawMoves() {
    const to = ticketMoves(ctx.me, t.status);
    moves.replaceChildren(...to.map((s) => {
      const b = h('button', { type: 'button', id: 'ticket-move-' + s, class: s === 'closed' ? 'secondary' : null, 'data-to': s },
        moveWord(s, t.status));
      b.addEventListener('click', async () => {
        if (await change({ status: s }, movesMsg, b)) {
          movesMsg.replaceChildren(h('p.state', {}, `The ticket is now ${statusWord(t.status).toLowerCase()}.`));
          heading.focus();
        }
      });
      return b;
    }));
    moves.hidden = to.length === 0;
  }

  function drawFacts() {
    document.title = `${t.number} · Kaiden`;
    heading.replaceChildren(h('span.ticket-number', {}, t.number), ' ', t.title);
    const rows = [
      ['Status', h('span', { id: 'ticket-status' }, ticketStatusBadge(t.status))],
      ['Priority', h('span', { id: 'ticket-priority-now' }, priorityBadge(t.priority))],
      ['Device', t.device_id ? h('a', { href: '#/devices/' + encodeURIComponent(t.device_id), id: 'ticket-device-link' }, devices.get(t.device_id) || 'The device') : 'None named'],
      ['Assigned to', h('span', { id: 'ticket-assignee-now' }, assignee(t, names, ctx.me))],
      ['Opened', h('span', { title: when(t.created_at) }, ago(t.created_at))],
      ['Updated', h('span', { title: when(t.updated_at) }, ago(t.updated_at))],
      t.resolved_at ? ['Resolved', when(t.resolved_at)] : null,
    ].filter(Boolean);
    facts.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    description.textContent = t.description || 'No description.';
  }

  function drawComments() {
    convo.replaceChildren(...comments.map((c) => commentItem(c, ctx.me, names)));
    if (!comments.length) convo.append(h('li.event', {}, 'Nothing yet.'));
  }

  function drawSessions() {
    const list = t.sessions || [];
    sessionsBody.replaceChildren(...list.map((s) => h('tr', { 'data-session': s.id },
      h('td', { 'data-label': 'Started' }, h('a', { href: '#/sessions/' + encodeURIComponent(s.id) }, when(s.started_at || s.created_at))),
      h('td', { 'data-label': 'Device' }, s.device_name || '—'),
      h('td', { 'data-label': 'Engineer' }, s.engineer_name || '—'),
      h('td', { 'data-label': 'Status' }, statusBadge(s.status)),
      h('td', { 'data-label': 'Ended' }, when(s.ended_at)))));
    sessionsTable.hidden = list.length === 0;
    sessionsState.hidden = list.length !== 0;
    sessionsState.textContent = 'No session has been started from this ticket.';
  }

  const controls = staff ? handling() : null;
  const starter = runs ? sessionStarter() : null;
  function draw() {
    drawFacts();
    drawMoves();
    drawComments();
    drawSessions();
    if (controls) controls.draw();
    if (starter) starter.draw();
  }

  ctx.main.append(...[heading, notice,
    h('section.card', { 'aria-label': 'About this ticket' }, facts, moves, movesMsg),
    controls ? controls.el : null,
    h('h2', {}, 'What happened'), h('div.card', {}, description),
    h('h2', { id: 'ticket-comments-title' }, 'Conversation'), convo, commentForm(),
    h('h2', {}, 'Sessions'), sessionsTable, sessionsState,
    starter ? starter.el : null].filter(Boolean));
  draw();

  // Changes made elsewhere (the other side's reply, a colleague's move; the event stream
  // carries no tickets): while the page is shown the ticket is read every FOLLOW_MS, and
  // the page drawn again, conversation included, when its updated_at moved. A form
  // being filled in (a reply) is not redrawn.
  let follow = null;
  const followOn = () => {
    clearTimeout(follow);
    follow = setTimeout(async () => {
      if (!ctx.current()) return;
      if (!document.hidden && !reading) {
        try {
          const fresh = await get(path);
          if (ctx.current() && fresh.updated_at !== t.updated_at) await reload();
        } catch (e) {
          if (e.status === 401) { if (ctx.current()) signedOut(ctx); return; }
        }
      }
      followOn();
    }, FOLLOW_MS);
  };
  followOn();

  // Staff: priority and assignee, and "Take it".
  function handling() {
    const msg = h('div', { id: 'ticket-handling-message', 'aria-live': 'polite' });
    const prio = h('select', { id: 'ticket-priority', name: 'priority' },
      PRIORITIES.map((p) => h('option', { value: p }, priorityWord(p))));
    const who = h('select', { id: 'ticket-assignee', name: 'assigned_to' });
    const save = h('button', { type: 'submit', id: 'ticket-handling-save' }, 'Save');
    const take = h('button.secondary', { type: 'button', id: 'ticket-take' }, 'Take it (assign to me)');
    const form = h('form.card.handling', { id: 'ticket-handling', 'aria-label': 'Handle this ticket' },
      h('div.handling-fields', {},
        h('span.form-field', {}, h('label', { for: 'ticket-priority' }, 'Priority'), prio),
        h('span.form-field', {}, h('label', { for: 'ticket-assignee' }, 'Assigned to'), who)),
      h('p.actions', {}, save, take), msg);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = {};
      if (prio.value !== t.priority) body.priority = prio.value;
      if ((who.value || null) !== (t.assigned_to || null)) body.assigned_to = who.value || null;
      if (!Object.keys(body).length) {
        msg.replaceChildren(h('p.state', {}, 'Nothing changed.'));
        return;
      }
      await change(body, msg, save);
    });
    take.addEventListener('click', async () => {
      if (await change({ assigned_to: ctx.me.user.id }, msg, take)) who.focus();
    });
    return {
      el: form,
      draw() {
        prio.value = t.priority;
        const opts = [h('option', { value: '' }, 'Nobody')];
        for (const [uid, name] of names) opts.push(h('option', { value: uid }, name + (ctx.me.user && ctx.me.user.id === uid ? ' (you)' : '')));
        if (t.assigned_to && !names.has(t.assigned_to)) opts.push(h('option', { value: t.assigned_to }, assignee(t, names, ctx.me)));
        who.replaceChildren(...opts);
        who.value = t.assigned_to || '';
        take.hidden = !ctx.me.user || t.assigned_to === ctx.me.user.id;
      },
    };
  }

  // Adding to the conversation; staff may make it an internal note.
  function commentForm() {
    const msg = h('div', { id: 'ticket-comment-message', 'aria-live': 'polite' });
    const text = h('textarea', { id: 'ticket-comment', name: 'body', rows: '4', maxlength: '10000', required: true });
    const internal = staff ? h('input', { type: 'checkbox', id: 'ticket-comment-internal', name: 'internal' }) : null;
    const add = h('button', { type: 'submit', id: 'ticket-comment-add' }, 'Add comment');
    const form = h('form.card.stack.comment-form', { id: 'ticket-comment-form' },
      h('label', { for: 'ticket-comment' }, 'Your reply'), text,
      internal ? h('span.check', {}, internal, h('label', { for: 'ticket-comment-internal' },
        'Internal note: seen by staff only, never by the customer')) : null,
      h('p.actions', {}, add), msg);
    if (internal) {
      internal.addEventListener('change', () => {
        form.classList.toggle('internal', internal.checked);
        add.textContent = internal.checked ? 'Add internal note' : 'Add comment';
      });
    }
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      msg.replaceChildren();
      const body = { body: text.value.trim() };
      if (!body.body) {
        msg.replaceChildren(errorBox(new Error('Write something first.')));
        text.focus();
        return;
      }
      if (internal && internal.checked) body.internal = true;
      add.disabled = true;
      try {
        await post(path + '/comments', body);
        if (!ctx.current()) return;
        text.value = '';
        await reload();
        if (!ctx.current()) return;
        msg.replaceChildren(h('p.state', {}, body.internal ? 'Internal note added.' : 'Comment added.'));
        text.focus();
      } catch (e) {
        failed(e, msg);
      } finally {
        add.disabled = false;
      }
    });
    return form;
  }

  // Staff: a session on a device (the ticket's by default), linked to the ticket, its
  // progress shown here. A session of the ticket still live when the page opens is shown
  // the same way.
  function sessionStarter() {
    const msg = h('div', { id: 'ticket-session-message', 'aria-live': 'polite' });
    const device = h('select', { id: 'ticket-session-device', name: 'device_id' });
    const start = h('button', { type: 'submit', id: 'ticket-session-start' }, 'Start a session');
    const form = h('form.card.stack', { id: 'ticket-session-form', 'aria-label': 'Start a session from this ticket' },
      h('span.form-field', {}, h('label', { for: 'ticket-session-device' }, 'Device'), device),
      h('p.actions', {}, start), msg);
    const liveArea = h('div', { id: 'ticket-live' });
    let live = null;
    let liveStatus = null;
    let devicesRead = false;

    async function readDevices() {
      devicesRead = true;
      const opts = [h('option', { value: '' }, 'Choose a device')];
      try {
        const reply = await get('devices?limit=200');
        const list = (reply.items || []).slice().sort((a, b) => a.name.localeCompare(b.name));
        opts.push(...list.map((d) => h('option', { value: d.id }, d.name + ' (' + d.status + ')')));
        if (t.device_id && !list.some((d) => d.id === t.device_id)) opts.push(h('option', { value: t.device_id }, devices.get(t.device_id) || 'The ticket\'s device'));
      } catch (e) {
        if (e.status === 401) throw e;
        msg.replaceChildren(errorBox(e));
      }
      if (!ctx.current()) return;
      device.replaceChildren(...opts);
      device.value = t.device_id || '';
    }

    function show(s) {
      if (live) live.stop();
      liveStatus = s.status;
      live = sessionProgress(ctx, s, {
        may: true,
        heading: 'Session on ' + (s.device_name || devices.get(s.device_id) || 'the device'),
        onDraw: (x) => {
          if (x.status === liveStatus) return;
          liveStatus = x.status;
          // Its start and end write system comments; its row in the list changes.
          reload().catch((e) => msg.replaceChildren(errorBox(e)));
        },
      });
      liveArea.replaceChildren(...live.parts,
        h('p', {}, h('a', { href: '#/sessions/' + encodeURIComponent(s.id), id: 'ticket-live-open' }, 'Open the session\'s own page (notes, details)')));
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      msg.replaceChildren();
      if (!device.value) {
        msg.replaceChildren(errorBox(new Error('Choose the device to connect to.')));
        device.focus();
        return;
      }
      start.disabled = true;
      start.textContent = 'Starting…';
      try {
        const s = await post('sessions', { device_id: device.value, ticket_id: t.id, engineer_name: engineerName(ctx.me) });
        if (!ctx.current()) return;
        show(s);
        await reload();
        if (!ctx.current()) return;
        live.parts[0].focus();
      } catch (e) {
        failed(e, msg);
      } finally {
        start.disabled = false;
        start.textContent = 'Start a session';
      }
    });

    // One of the ticket's sessions still live when the page opens: followed here.
    const open = (t.sessions || []).find((s) => LIVE.includes(s.status));
    if (open) {
      get('sessions/' + encodeURIComponent(open.id)).then((s) => { if (ctx.current() && !live) show(s); },
        (e) => msg.replaceChildren(errorBox(e)));
    }

    const el = h('section', { id: 'ticket-session' }, h('h2', {}, 'Start a session'),
      h('p.hint', {}, 'Connect to the device to fix it; the session is recorded on this ticket.'), form, liveArea);
    return {
      el,
      draw() {
        form.hidden = t.status === 'closed';
        if (!devicesRead && !form.hidden) readDevices().catch((e) => msg.replaceChildren(errorBox(e)));
      },
    };
  }
}
