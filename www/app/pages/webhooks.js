// webhooks.js: #/webhooks. The tenant's webhooks (GET /webhooks: URL, events, status)
// and, for those who may change them, a form that adds one (POST /webhooks: url, events
// as checkboxes, description); engineers read them only. The
// new hook's signing secret is shown once, in a card with a warning and a Copy button;
// it lives only in that card's elements (Done, or leaving the page, forgets it). Admins
// acting in a tenant switch to the platform's hooks (?scope=platform) with the tabs.
import { h, ago, when, statusBadge, errorBox } from '../dom.js';
import { listTable, pagedList } from '../list.js';
import { pager, post } from '../api.js';
import { mayReadWebhooks, mayManageWebhooks, isStaff } from '../roles.js';
import { onceCard } from '../copy.js';
import { field, clearErrors, showError, signedOut } from './user-fields.js';

export const title = 'Webhooks';
export const nav = 'Webhooks';
export const navIf = mayReadWebhooks;

// The events a hook may ask for (docs/api.md "Webhooks"), grouped as people think of them.
export const EVENTS = [
  ['Tickets', ['ticket.created', 'ticket.updated', 'ticket.commented']],
  ['Sessions', ['session.started', 'session.active', 'session.ended', 'session.failed']],
  ['Devices', ['device.online', 'device.offline', 'device.registered']],
];

// '?scope=platform' for the platform's hooks (staff who ask for them), else ''.
export function hookScope(me, query) {
  return isStaff(me) && query && query.scope === 'platform' ? '?scope=platform' : '';
}

export function refusedHooks(ctx, heading) {
  ctx.main.append(h('h1', {}, heading), h('p.error', { role: 'alert', id: 'webhooks-refused' },
    'Only your organisation\'s administrators see and manage its webhooks.'));
}

// The events fieldset: {el, checked(), set(list)}; id prefix, for the checkboxes' ids.
export function eventPicker(prefix, hintId) {
  const boxes = [];
  const groups = EVENTS.map(([label, names]) => h('div.event-group', {},
    h('p.event-group-title', {}, label),
    names.map((n) => {
      const box = h('input', { type: 'checkbox', id: prefix + '-' + n.replace('.', '-'), name: 'events', value: n });
      boxes.push(box);
      return h('span.check', {}, box, h('label', { for: box.id }, h('code', {}, n)));
    })));
  const error = h('p.error.field-error', { id: prefix + '-error', role: 'alert', hidden: true });
  const el = h('fieldset.events', { id: prefix, 'aria-describedby': (hintId ? hintId + ' ' : '') + prefix + '-error' },
    h('legend', {}, 'Events'), hintId ? h('p.hint', { id: hintId }, 'What the hook is sent. Each delivery is signed with its secret.') : null,
    h('div.event-groups', {}, groups), error);
  return {
    el, error,
    // For showError(): where the focus goes and what is marked invalid.
    input: boxes[0],
    checked: () => boxes.filter((b) => b.checked).map((b) => b.value),
    set: (list) => { for (const b of boxes) b.checked = list.includes(b.value); },
  };
}

// The card showing a secret once (a new hook's, or a rotated one).
export function secretCard(secret, heading, onDone) {
  return onceCard({
    id: 'webhook-secret', heading,
    warning: 'This is the only time the signing secret is shown. Copy it into the receiving service now: ' +
      'it checks the Kaiden-Signature header of every delivery with it.',
    boxId: 'webhook-secret-value', secret, label: 'the signing secret',
    hint: 'Kaiden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>.',
    doneId: 'webhook-secret-done', onDone,
  });
}

function eventsText(list) {
  const all = EVENTS.flatMap(([, n]) => n);
  if (list && list.length === all.length) return 'All events';
  return (list || []).join(', ');
}

export async function render(ctx) {
  if (!mayReadWebhooks(ctx.me)) {
    refusedHooks(ctx, 'Webhooks');
    return;
  }
  const may = mayManageWebhooks(ctx.me);
  const sq = hookScope(ctx.me, ctx.query);
  ctx.main.append(h('div.titlebar', {}, h('h1', {}, sq ? 'Platform webhooks' : 'Webhooks')),
    isStaff(ctx.me) && ctx.me.acting_tenant_id ? h('nav.tabs', { 'aria-label': 'Whose webhooks' },
      h('a', { href: '#/webhooks', id: 'webhooks-tab-tenant', 'aria-current': sq ? null : 'page' }, 'This tenant\'s'),
      h('a', { href: '#/webhooks?scope=platform', id: 'webhooks-tab-platform', 'aria-current': sq ? 'page' : null }, 'Platform')) : '',
    h('p.hint', {}, sq
      ? 'Platform hooks hear the events of every tenant.'
      : 'A webhook sends the events you choose to a URL of yours (HTTPS), signed, as they happen. Failed deliveries are retried for a day.'));

  const shown = h('div', { id: 'webhook-shown' });
  const picker = eventPicker('webhook-events', 'webhook-events-hint');
  const fields = {
    url: field('webhook-url', 'URL', h('input', { type: 'url', name: 'url', required: true, maxlength: '2048', autocomplete: 'off', placeholder: 'https://hooks.example.com/kaiden' }),
      'Where to POST the events. HTTPS; redirects are not followed.'),
    events: picker,
    description: field('webhook-description', 'Description', h('input', { name: 'description', maxlength: '500', autocomplete: 'off', placeholder: 'e.g. our helpdesk' }),
      'Optional: what receives it, for whoever reads this list later.'),
  };
  const general = h('div', { id: 'webhook-new-message', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', id: 'webhook-create' }, 'Add webhook');
  const form = h('form.card.stack', { id: 'webhook-form' },
    h('h2', {}, 'New webhook'), fields.url.el, picker.el, fields.description.el, general, h('p.actions', {}, button));

  const view = listTable({ id: 'webhooks', caption: 'Webhooks', columns: ['URL', 'Events', 'Status', 'Created'],
    stateId: 'webhooks-state', moreId: 'webhooks-more', loading: 'Loading webhooks…' });
  ctx.main.append(shown, h('h2', {}, sq ? 'Platform hooks' : 'Hooks'), view.table, view.state, view.more,
    may ? form : h('p.hint', { id: 'webhooks-read-only' }, 'Engineers read the hooks and their delivery logs; administrators change them.'));

  const row = (w) => h('tr', { 'data-url': w.url, 'data-id': w.id },
    h('td.url', { 'data-label': 'URL' }, h('a', { href: '#/webhooks/' + encodeURIComponent(w.id) + sq }, w.url),
      w.description ? h('span.hint.block', {}, w.description) : null),
    h('td', { 'data-label': 'Events' }, eventsText(w.events)),
    h('td', { 'data-label': 'Status' }, statusBadge(w.status),
      w.status === 'disabled' && w.disabled_reason ? h('span.hint.block', {}, w.disabled_reason) : null,
      w.status === 'active' && w.failing_since ? h('span.hint.block', {}, 'Failing since ' + when(w.failing_since)) : null),
    h('td', { 'data-label': 'Created', title: when(w.created_at) }, ago(w.created_at)));
  const list = pagedList(ctx, view, { pages: null, row,
    empty: () => 'No webhooks yet. Add one below.' });
  const reload = () => list.reset(pager('webhooks', sq ? { scope: 'platform' } : {}));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(fields, general);
    const events = picker.checked();
    if (!events.length) {
      showError({ field: 'events', message: 'Choose at least one event.' }, fields, general);
      return;
    }
    const body = { url: fields.url.input.value.trim(), events, description: fields.description.input.value.trim() };
    button.disabled = true;
    button.textContent = 'Adding…';
    try {
      const w = await post('webhooks' + sq, body);
      if (!ctx.current()) return;
      form.reset();
      const card = secretCard(w.secret, `Webhook for ${w.url} added`, () => fields.url.input.focus());
      shown.replaceChildren(card);
      card.focus();
      reload().catch((e) => view.state.replaceChildren(errorBox(e)));
    } catch (e) {
      if (!ctx.current()) return;
      if (e.status === 401) { signedOut(ctx); return; }
      showError(e, fields, general);
    } finally {
      button.disabled = false;
      button.textContent = 'Add webhook';
    }
  });
  await reload();
}
