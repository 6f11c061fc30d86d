// tickets.js: #/tickets. The tenant's tickets: number, title, status, priority, device,
// who has it, last change. Staff (who handle them) get the queue's tabs, kept in the URL
// as ?view=: Unassigned (assigned_to=none), Mine (assigned_to=me), All; everyone filters
// by status, priority and a search (title, description, number), and orders them newest
// first or most urgent first (?sort=priority, staff's default: the API's queue order,
// urgent, high, normal, low, each oldest first), all kept in the URL. "New ticket" opens the form; "More" reads on with the cursor.
import { h, ago, when } from '../dom.js';
import { filterForm, filterField, listTable, pagedList } from '../list.js';
import { get, pager, query } from '../api.js';
import { mayUseTickets, mayHandleTickets, platformQuery } from '../roles.js';
import { STATUSES, PRIORITIES, statusWord, priorityWord, ticketStatusBadge, priorityBadge, deviceNames } from '../tickets.js';

export const title = 'Tickets';
export const nav = 'Tickets';
export const navIf = mayUseTickets;

const VIEWS = [['unassigned', 'Unassigned', 'none'], ['mine', 'Mine', 'me'], ['all', 'All', '']];
const SORTS = [['priority', 'Most urgent first'], ['newest', 'Newest first']];
const PAGE = 50;

// {id: name} of the platform's staff (those a ticket is assigned to), for staff; empty
// when they cannot be read (the rows then say "assigned").
export async function staffNames(me) {
  const names = new Map();
  if (!mayHandleTickets(me) || !me.user) return names;
  try {
    const sq = platformQuery(me, { scope: 'platform' });
    const reply = await get('users' + (sq ? sq + '&' : '?') + 'limit=200');
    for (const u of reply.items || []) if (['admin', 'engineer'].includes(u.role)) names.set(u.id, u.name || u.email);
  } catch (e) {
    if (e.status === 401) throw e;
  }
  return names;
}

// Who has a ticket, in words.
export function assignee(t, names, me) {
  if (!t.assigned_to) return 'Nobody yet';
  if (me && me.user && me.user.id === t.assigned_to) return 'You';
  return t.assigned_to_name || names.get(t.assigned_to) || 'An engineer';
}

export async function render(ctx) {
  const staff = mayHandleTickets(ctx.me);
  const q = ctx.query;
  const view = staff ? (VIEWS.find(([v]) => v === q.view) || VIEWS[0]) : VIEWS[2];
  const f = {
    status: STATUSES.includes(q.status) ? q.status : '',
    priority: PRIORITIES.includes(q.priority) ? q.priority : '',
    q: (q.q || '').trim(),
  };
  const filtered = Object.values(f).some(Boolean);
  const sortBy = SORTS.some(([v]) => v === q.sort) ? q.sort : staff ? 'priority' : 'newest';
  const here = (v) => '/tickets' + query({ view: v, ...f, sort: q.sort ? sortBy : '' });

  const status = h('select', { id: 'tickets-status', name: 'status' },
    [['', 'Any status'], ...STATUSES.map((s) => [s, statusWord(s)])].map(([v, l]) =>
      h('option', { value: v, selected: v === f.status }, l)));
  const priority = h('select', { id: 'tickets-priority', name: 'priority' },
    [['', 'Any priority'], ...PRIORITIES.map((p) => [p, priorityWord(p)])].map(([v, l]) =>
      h('option', { value: v, selected: v === f.priority }, l)));
  const sort = h('select', { id: 'tickets-sort', name: 'sort' },
    SORTS.map(([v, l]) => h('option', { value: v, selected: v === sortBy }, l)));
  const search = h('input', { id: 'tickets-q', type: 'search', name: 'q', value: f.q, placeholder: 'Title, text or number', maxlength: '200' });
  const form = filterForm(ctx, '/tickets', {
    attrs: { 'aria-label': 'Filter the tickets' },
    fields: [filterField('tickets-q', 'Search', search, true), filterField('tickets-status', 'Status', status),
      filterField('tickets-priority', 'Priority', priority), filterField('tickets-sort', 'Order', sort)],
    params: () => ({ view: staff ? view[0] : '', q: search.value.trim(), status: status.value, priority: priority.value,
      sort: sort.value === (staff ? 'priority' : 'newest') ? '' : sort.value }),
    auto: [status, priority, sort],
    applyId: 'tickets-apply',
    after: filtered ? h('a', { href: '#' + (staff ? '/tickets?view=' + view[0] : '/tickets'), id: 'tickets-clear' }, 'Clear filters') : null,
  });

  const columns = ['Ticket', 'Title', 'Status', 'Priority', 'Device', staff ? 'Assigned to' : 'Handled by', 'Updated'];
  const list = listTable({ id: 'tickets', caption: staff ? view[1] + ' tickets' : 'Tickets', columns,
    stateId: 'tickets-state', moreId: 'tickets-more', loading: 'Loading tickets…' });
  ctx.main.append(
    h('div.titlebar', {}, h('h1', {}, staff ? 'Ticket queue' : 'Tickets'),
      h('a.button', { href: '#/tickets/new', id: 'ticket-new' }, 'New ticket')),
    staff ? h('nav.tabs', { 'aria-label': 'Which tickets' }, VIEWS.map(([v, label]) =>
      h('a', { href: '#' + here(v), id: 'tickets-tab-' + v, 'aria-current': v === view[0] ? 'page' : null }, label))) : '',
    h('p.hint', {}, staff
      ? 'The tickets of this tenant. Take one from Unassigned; yours are under Mine.'
      : 'Problems reported by your organisation, and what the support team did about them.'),
    form, list.table, list.state, list.more);

  const [names, devices] = await Promise.all([staffNames(ctx.me), deviceNames()]);
  if (!ctx.current()) return;
  const row = (t) => h('tr', { 'data-ticket': t.number, 'data-id': t.id },
    h('td', { 'data-label': 'Ticket' }, h('a', { href: '#/tickets/' + encodeURIComponent(t.id) }, t.number)),
    h('td.title', { 'data-label': 'Title' }, t.title),
    h('td', { 'data-label': 'Status' }, ticketStatusBadge(t.status)),
    h('td', { 'data-label': 'Priority' }, priorityBadge(t.priority)),
    h('td', { 'data-label': 'Device' }, t.device_id
      ? h('a', { href: '#/devices/' + encodeURIComponent(t.device_id) }, devices.get(t.device_id) || 'A device') : '—'),
    h('td', { 'data-label': columns[5] }, assignee(t, names, ctx.me)),
    h('td', { 'data-label': 'Updated', title: when(t.updated_at) }, ago(t.updated_at)));
  const paged = pagedList(ctx, list, {
    pages: pager('tickets', { ...f, assigned_to: view[2], sort: sortBy }, PAGE),
    row,
    empty: () => (filtered ? 'No ticket matches these filters.'
      : view[0] === 'unassigned' ? 'No unassigned tickets: the queue is empty.'
        : view[0] === 'mine' ? 'No tickets are assigned to you.'
          : 'No tickets yet. Open one with New ticket when something needs the support team.'),
  });
  await paged.load();
}
