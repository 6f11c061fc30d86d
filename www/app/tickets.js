// tickets.js: what the ticket pages share (not a page): the statuses and priorities in
// the API's order with the words people read, their badges, and a person's name for an
// id the ticket carries (assigned_to, created_by).
import { h } from './dom.js';

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
    h('span.sr', {}, 'Priority: '), priorityWord(priority));
}
