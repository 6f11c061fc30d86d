// webhook.js: #/webhooks/ID. One webhook: its facts; its delivery log; and for those who
// may change it (engineers read only), a form for its URL, events and description
// (PATCH); Disable / Enable (PATCH status: acts at once, undone by one
// click); a new signing secret (asked first: the old one stops working; the new one is
// shown once); Delete (asked first). The delivery log (GET /webhooks/{id}/deliveries,
// newest first: event, status, attempts, the last answer or error, response time, next
// attempt) is read again with "Refresh".
import { h, ago, when, statusBadge, errorBox } from '../dom.js';
import { listTable, pagedList } from '../list.js';
import { get, patch, post, del, pager } from '../api.js';
import { mayReadWebhooks, mayManageWebhooks } from '../roles.js';
import { confirming } from '../confirm.js';
import { statusToggle } from '../toggle.js';
import { field, clearErrors, showError, signedOut } from './user-fields.js';
import { eventPicker, secretCard, refusedHooks, hookScope } from './webhooks.js';

export const title = 'Webhook';

function lastAnswer(d) {
  const parts = [];
  if (d.last_status) parts.push('HTTP ' + d.last_status);
  if (d.last_error && d.last_error !== parts[0]) parts.push(d.last_error);
  return parts.length ? parts.join(': ') : '—';
}

export async function render(ctx) {
  if (!mayReadWebhooks(ctx.me)) {
    refusedHooks(ctx, 'Webhook');
    return;
  }
  const sq = hookScope(ctx.me, ctx.query);
  const path = 'webhooks/' + encodeURIComponent(ctx.params.id);
  const state = h('p.state', { 'aria-live': 'polite' }, 'Loading the webhook…');
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/webhooks' + sq }, '← Webhooks')), state);
  let w = await get(path + sq);
  if (!ctx.current()) return;
  state.remove();

  const heading = h('h1', {});
  const facts = h('dl.facts', { id: 'webhook-facts' });
  const shown = h('div', { id: 'webhook-shown' });
  function drawFacts() {
    document.title = `Webhook ${w.url} · Kaiden`;
    heading.textContent = 'Webhook: ' + (w.description || w.url);
    facts.replaceChildren(...[
      ['URL', h('code', { id: 'webhook-fact-url' }, w.url)],
      ['Status', h('span', { id: 'webhook-status' }, statusBadge(w.status))],
      w.disabled_reason ? ['Why disabled', h('span', { id: 'webhook-disabled-reason' }, w.disabled_reason)] : null,
      w.failing_since ? ['Failing since', when(w.failing_since)] : null,
      ['Events', (w.events || []).join(', ')],
      ['Created', when(w.created_at)],
      ['Id', h('code', {}, w.id)],
    ].filter(Boolean).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }
  drawFacts();

  const failed = (e, fields, general) => {
    if (!ctx.current()) return;
    if (e.status === 401) signedOut(ctx);
    else showError(e, fields, general);
  };

  // 1. URL, events, description.
  const picker = eventPicker('webhook-edit-events');
  const edit = {
    url: field('webhook-edit-url', 'URL', h('input', { type: 'url', name: 'url', required: true, maxlength: '2048', autocomplete: 'off' })),
    events: picker,
    description: field('webhook-edit-description', 'Description', h('input', { name: 'description', maxlength: '500', autocomplete: 'off' })),
  };
  const editMsg = h('div', { id: 'webhook-edit-message', 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', id: 'webhook-save' }, 'Save');
  const editForm = h('form.card.stack', { id: 'webhook-edit' }, edit.url.el, picker.el, edit.description.el, editMsg, h('p.actions', {}, save));
  const fill = () => {
    edit.url.input.value = w.url;
    edit.description.input.value = w.description || '';
    picker.set(w.events || []);
  };
  fill();
  editForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(edit, editMsg);
    const body = {};
    const url = edit.url.input.value.trim(), description = edit.description.input.value.trim();
    const events = picker.checked();
    if (!events.length) {
      showError({ field: 'events', message: 'Choose at least one event.' }, edit, editMsg);
      return;
    }
    if (url !== w.url) body.url = url;
    if (description !== (w.description || '')) body.description = description;
    if (events.slice().sort().join() !== (w.events || []).slice().sort().join()) body.events = events;
    if (!Object.keys(body).length) {
      editMsg.replaceChildren(h('p.state', {}, 'Nothing changed.'));
      return;
    }
    save.disabled = true;
    try {
      w = await patch(path + sq, body);
      if (!ctx.current()) return;
      drawFacts();
      fill();
      editMsg.replaceChildren(h('p.state', {}, 'Saved.'));
    } catch (e) {
      failed(e, edit, editMsg);
    } finally {
      save.disabled = false;
    }
  });

  // 2. Disable / enable.
  const { button: toggle, message: statusMsg } = statusToggle({
    id: 'webhook-toggle', messageId: 'webhook-toggle-message',
    status: () => w.status,
    change: async (next) => {
      w = await patch(path + sq, { status: next });
      if (!ctx.current()) return false;
      drawFacts();
      return true;
    },
    said: {
      disabled: 'Disabled: no event is sent to it until it is enabled.',
      active: 'Enabled: new events are sent to it again.',
    },
    failed: (e, msg) => failed(e, {}, msg),
  });

  // 3. A new secret, asked first.
  const rotateMsg = h('div', { id: 'webhook-rotate-message', 'aria-live': 'polite' });
  const rotate = confirming(h('button.secondary', { type: 'button', id: 'webhook-rotate' }, 'New signing secret'), {
    question: 'Make a new secret? The old one stops working at once: the receiver must get the new one.',
    yes: 'Make a new secret',
    id: 'webhook-rotate',
    onYes: async () => {
      rotateMsg.replaceChildren();
      let reply;
      try {
        reply = await post(path + '/rotate' + sq);
      } catch (e) {
        failed(e, {}, rotateMsg);
        return false;
      }
      if (!ctx.current()) return true;
      const card = secretCard(reply.secret, 'The new signing secret', () => toggle.focus());
      shown.replaceChildren(card);
      card.focus();
      return true;
    },
  });

  // 4. Delete, asked first.
  const delMsg = h('div', { id: 'webhook-delete-message', 'aria-live': 'polite' });
  const deleting = confirming(h('button.danger', { type: 'button', id: 'webhook-delete' }, 'Delete webhook'), {
    question: `Delete the webhook to ${w.url}? Nothing more is sent to it.`,
    yes: 'Delete',
    id: 'webhook-delete',
    onYes: async () => {
      delMsg.replaceChildren();
      try {
        await del(path + sq);
      } catch (e) {
        failed(e, {}, delMsg);
        return false;
      }
      if (ctx.current()) ctx.navigate('/webhooks' + sq);
      return true;
    },
  });

  // 5. The delivery log.
  const view = listTable({ id: 'webhook-deliveries', caption: 'Deliveries of this webhook',
    columns: ['Event', 'Status', 'Attempts', 'Last answer', 'Response time', 'Next attempt', 'Created'],
    stateId: 'webhook-deliveries-state', moreId: 'webhook-deliveries-more', loading: 'Loading deliveries…' });
  const refresh = h('button.secondary', { type: 'button', id: 'webhook-deliveries-refresh' }, 'Refresh');
  const row = (d) => h('tr', { 'data-id': d.id, 'data-status': d.status },
    h('td', { 'data-label': 'Event' }, h('code', {}, d.event_type || d.type || '—'),
      d.event_id ? h('span.hint.block', { title: 'Kaiden-Event-Id' }, d.event_id) : null),
    h('td', { 'data-label': 'Status' }, statusBadge(d.status)),
    h('td', { 'data-label': 'Attempts' }, String(d.attempts ?? 0)),
    h('td', { 'data-label': 'Last answer', class: d.last_error ? 'error-text' : null }, lastAnswer(d)),
    h('td', { 'data-label': 'Response time' }, d.response_ms === null || d.response_ms === undefined ? '—' : d.response_ms + ' ms'),
    h('td', { 'data-label': 'Next attempt' }, d.status === 'pending' ? when(d.next_attempt_at) : '—'),
    h('td', { 'data-label': 'Created', title: when(d.created_at) }, ago(d.created_at)));
  const log = pagedList(ctx, view, { pages: null, row,
    empty: () => 'Nothing has been sent to this hook yet. Deliveries appear here as events happen.' });
  const readLog = () => log.reset(pager(path + '/deliveries', sq ? { scope: 'platform' } : {}));
  refresh.addEventListener('click', () => readLog().then(() => refresh.focus()).catch((e) => view.state.replaceChildren(errorBox(e))));

  ctx.main.append(heading, shown, h('section.card', {}, facts),
    h('h2', { id: 'webhook-deliveries-title' }, 'Deliveries'), h('p.actions.log-actions', {}, refresh), view.table, view.state, view.more);
  if (mayManageWebhooks(ctx.me)) ctx.main.append(
    h('h2', {}, 'Settings'), editForm,
    h('h2', {}, 'Access'),
    h('div.card', {},
      h('p.hint', {}, 'A disabled hook is sent nothing; Kaiden disables a hook by itself after a day of failed deliveries.'),
      h('p.actions', {}, toggle), statusMsg,
      h('p.hint', {}, 'A new secret is shown once; the old one stops working at once.'),
      h('p.actions', {}, rotate), rotateMsg,
      h('p.hint', {}, 'Deleting cannot be undone.'),
      h('p.actions', {}, deleting), delMsg));
  await readLog();
}
