// ticket-new.js: #/tickets/new. Open a ticket (POST /tickets): a title, what happened,
// a priority (normal unless chosen) and, optionally, the device it is about (a select of
// the tenant's devices; #/tickets/new?device_id=ID, the device page's link, chooses it).
// The API's error is shown next to the field it names; then the new ticket's page.
import { h } from '../dom.js';
import { get, post } from '../api.js';
import { mayUseTickets } from '../roles.js';
import { PRIORITIES, priorityWord } from '../tickets.js';
import { field, clearErrors, showError, signedOut } from './user-fields.js';

export const title = 'New ticket';

const DEVICE_OPTIONS = 200; // one API page of devices

export async function render(ctx) {
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/tickets' }, '← Tickets')), h('h1', {}, 'New ticket'));
  if (!mayUseTickets(ctx.me)) {
    ctx.main.append(h('p.error', { role: 'alert', id: 'tickets-refused' }, 'Your role may not open tickets.'));
    return;
  }
  const device = h('select', { name: 'device_id' }, h('option', { value: '' }, 'No particular device'));
  const fields = {
    title: field('ticket-title', 'Title', h('input', { name: 'title', required: true, maxlength: '200', autocomplete: 'off', placeholder: 'e.g. The till cannot print receipts' }),
      'One line: what is wrong.'),
    description: field('ticket-description', 'What happened', h('textarea', { name: 'description', rows: '6', maxlength: '10000' }),
      'What you saw, since when, and what you tried. Do not paste passwords.'),
    priority: field('ticket-priority', 'Priority', h('select', { name: 'priority' },
      PRIORITIES.map((p) => h('option', { value: p, selected: p === 'normal' }, priorityWord(p)))),
    'Urgent: work has stopped. High: work is hard. Normal: everything else.'),
    device_id: field('ticket-device', 'Device', device, 'The computer this is about, if it is one of yours.'),
  };
  const general = h('div', { id: 'ticket-new-message', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', id: 'ticket-create' }, 'Open the ticket');
  const form = h('form.card.stack', { id: 'ticket-new-form' },
    Object.values(fields).map((f) => f.el), general, h('p.actions', {}, button));
  ctx.main.append(form);
  fields.title.input.focus();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(fields, general);
    const body = {
      title: fields.title.input.value.trim(),
      description: fields.description.input.value.trim(),
      priority: fields.priority.input.value,
    };
    if (device.value) body.device_id = device.value;
    button.disabled = true;
    button.textContent = 'Opening…';
    try {
      const t = await post('tickets', body);
      if (!ctx.current()) return;
      ctx.navigate('/tickets/' + encodeURIComponent(t.id) + '?created=1');
    } catch (e) {
      if (!ctx.current()) return;
      if (e.status === 401) { signedOut(ctx); return; }
      showError(e, fields, general);
      button.disabled = false;
      button.textContent = 'Open the ticket';
    }
  });

  // The devices, for the select (a failure leaves "No particular device" only).
  try {
    const reply = await get('devices?limit=' + DEVICE_OPTIONS);
    if (!ctx.current()) return;
    const list = (reply.items || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    device.append(...list.map((d) => h('option', { value: d.id, selected: d.id === ctx.query.device_id }, d.name)));
  } catch (e) {
    if (e.status === 401) throw e;
    fields.device_id.el.append(h('p.hint', {}, 'The devices could not be read: ' + e.message));
  }
}
