// tickets.js: what the ticket pages share (not a page): the statuses and priorities in
// the API's order with the words people read, their badges, and the names of the
// tenant's devices (a ticket carries only its device_id).
import { h } from './dom.js';
import { get } from './api.js';

export const STATUSES = ['open', 'in_progress', 'resolved', 'closed'];
export const PRIORITIES = ['low', 'normal', 'high', 'urgent'];

const STATUS_WORD = { open: 'Open', in_progress: 'In progress', resolved: 'Resolved', closed: 'Closed' };
const PRIORITY_WORD = { low: 'Low', normal: 'Normal', high: 'High', urgent: 'Urgent' };

export const statusWord = (s) => STATUS_WORD[s] || s;
export const priorityWord = (p) => PRIORITY_WORD[p] || p;

// The button that moves a ticket to a status, as a verb.
export function moveWord(to, from) {
  if (to === 'open') return from === 'closed' || from === 'resolved' ? 'Reopen' : 'Open';
  return { in_progress: 'Start work', resolved: 'Mark resolved', closed: 'Close the ticket' }[to] || to;
}

export function ticketStatusBadge(status) {
  return h('span.badge.ticket-' + String(status).replace(/[^a-z_]/g, ''), { 'data-status': status }, statusWord(status));
}

export function priorityBadge(priority) {
  return h('span.badge.priority-' + String(priority).replace(/[^a-z]/g, ''), { 'data-priority': priority },
    priorityWord(priority));
}

// {id: name} of the tenant's devices (the first 200, one API page); empty when they
// cannot be read (the pages then say "the device").
export async function deviceNames() {
  const names = new Map();
  try {
    const reply = await get('devices?limit=200');
    for (const d of reply.items || []) names.set(d.id, d.name);
  } catch (e) {
    if (e.status === 401) throw e;
  }
  return names;
}

// The sentence for a change the API recorded by itself ("status: open -> in_progress",
// "priority: normal -> high", "assigned_to: none -> ID"; store_ticket.c writes them),
// with the names people know; any other entry (a session's start or end) as it is.
export function eventText(c, names, me) {
  const m = /^(status|priority|assigned_to): (\S+) -> (\S+)$/.exec(c.body || '');
  const by = c.author_name ? ' by ' + c.author_name : '';
  if (!m) return c.body ? c.body[0].toUpperCase() + c.body.slice(1) : '';
  const [, what, from, to] = m;
  if (what === 'status') return `Status changed from ${statusWord(from)} to ${statusWord(to)}${by}.`;
  if (what === 'priority') return `Priority changed from ${priorityWord(from)} to ${priorityWord(to)}${by}.`;
  const person = (id) => (me && me.user && me.user.id === id ? 'you' : names.get(id) || 'an engineer');
  if (to === 'none') return `Unassigned${by}.`;
  if (to === c.author_id && c.author_name) return `${c.author_name} took the ticket.`;
  return `Assigned to ${person(to)}${by}.`;
}
