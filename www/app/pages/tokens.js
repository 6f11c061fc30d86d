// tokens.js: #/tokens. The caller's API tokens (GET /auth/tokens: name, created, last
// used, expires, revoked), making one (POST /auth/tokens: a name and an expiry) and
// revoking one (asked first). A new token is shown once, with a warning and a Copy
// button; it lives only in this page's elements, so leaving the page (or Done) forgets
// it. Service tokens have no tokens of their own (the route table refuses them).
import { h, ago, when, errorBox } from '../dom.js';
import { pager, post, del } from '../api.js';
import { mayUseTokens } from '../roles.js';
import { onceCard } from '../copy.js';
import { confirming } from '../confirm.js';
import { field, clearErrors, showError, signedOut } from './user-fields.js';
import { listTable, pagedList } from '../list.js';

export const title = 'API tokens';

const EXPIRY = [['30', '30 days'], ['90', '90 days'], ['365', '1 year'], ['', 'Never']];

function tokenState(t) {
  if (t.revoked_at) return 'revoked';
  if (t.expires_at && Date.parse(t.expires_at) <= Date.now()) return 'expired';
  return 'active';
}

function created(t, onDone) {
  return onceCard({
    id: 'token-created', heading: `Token "${t.name}" is ready`,
    warning: 'This is the only time the token is shown. Copy it now and keep it like a password: ' +
      'Kaiden keeps only a hash of it. Anyone holding it acts as you.',
    boxId: 'new-token', secret: t.token, label: 'the token',
    hint: 'For kaiden-connect: export KAIDEN_TOKEN=<the token>. For scripts: the header Authorization: Bearer <the token>.',
    doneId: 'token-done', onDone,
  });
}

export async function render(ctx) {
  ctx.main.append(h('h1', {}, 'API tokens'));
  if (!mayUseTokens(ctx.me)) {
    ctx.main.append(h('p.error', { role: 'alert', id: 'tokens-refused' },
      'A service token has no API tokens of its own; sign in as a user to make one.'));
    return;
  }
  ctx.main.append(h('p.hint', {},
    'An API token lets a script or kaiden-connect act as you, with your role as it is when the token is used. ',
    'Revoke a token you no longer need.'));

  // Making one.
  const fields = {
    name: field('token-name', 'Name', h('input', { name: 'name', required: true, maxlength: '128', autocomplete: 'off', placeholder: 'e.g. laptop kaiden-connect' }),
      'What it is for, so you know which one to revoke later.'),
    expires_in_days: field('token-expiry', 'Expires after', h('select', { name: 'expires_in_days' },
      EXPIRY.map(([v, l]) => h('option', { value: v, selected: v === '90' }, l)))),
  };
  const general = h('div', { id: 'token-message', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', id: 'token-create' }, 'Create token');
  const form = h('form.card.stack', { id: 'token-form' },
    h('h2', {}, 'New token'), Object.values(fields).map((f) => f.el), general, h('p.actions', {}, button));
  const shown = h('div', { id: 'token-shown' });

  // The list.
  const view = listTable({ id: 'tokens', caption: 'Your API tokens',
    columns: ['Name', 'Status', 'Created', 'Last used', 'Expires', h('span.sr', {}, 'Actions')],
    stateId: 'tokens-state', moreId: 'tokens-more', loading: 'Loading your tokens…' });
  const { state } = view;
  ctx.main.append(shown, form, h('h2', {}, 'Your tokens'), view.table, state, view.more);

  function row(t) {
    const st = tokenState(t);
    const msg = h('span', { 'aria-live': 'polite' });
    const tr = h('tr', { 'data-name': t.name },
      h('td', { 'data-label': 'Name' }, t.name),
      h('td', { 'data-label': 'Status' }, h('span.badge.status-' + st, {}, st)),
      h('td', { 'data-label': 'Created', title: when(t.created_at) }, ago(t.created_at)),
      h('td', { 'data-label': 'Last used', title: when(t.last_used_at) }, ago(t.last_used_at)),
      h('td', { 'data-label': 'Expires' }, t.expires_at ? when(t.expires_at) : 'never'),
      h('td.row-actions', {}, msg));
    if (st === 'active') {
      const revoke = h('button.secondary', { type: 'button', 'aria-label': 'Revoke ' + t.name }, 'Revoke');
      msg.before(confirming(revoke, {
        question: `Revoke "${t.name}"? Whatever uses it stops working at once.`,
        yes: 'Revoke',
        onYes: async () => {
          try {
            await del('auth/tokens/' + encodeURIComponent(t.id));
          } catch (e) {
            if (!ctx.current()) return true;
            if (e.status === 401) { signedOut(ctx); return true; }
            msg.replaceChildren(errorBox(e));
            return false;
          }
          if (!ctx.current()) return true;
          tr.replaceWith(row({ ...t, revoked_at: new Date().toISOString() }));
          state.hidden = false;
          state.textContent = `"${t.name}" is revoked.`;
          return true;
        },
      }));
    }
    return tr;
  }
  const list = pagedList(ctx, view, { pages: null, row, empty: () => 'You have no API tokens yet.' });
  const reload = () => list.reset(pager('auth/tokens', {}));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(fields, general);
    const req = { name: fields.name.input.value.trim() };
    const days = fields.expires_in_days.input.value;
    if (days) req.expires_in_days = Number(days);
    button.disabled = true;
    button.textContent = 'Creating…';
    try {
      const t = await post('auth/tokens', req);
      if (!ctx.current()) return;
      fields.name.input.value = '';
      const card = created(t, () => fields.name.input.focus());
      shown.replaceChildren(card);
      card.focus();
      reload().catch((e) => state.replaceChildren(errorBox(e)));
    } catch (e) {
      if (!ctx.current()) return;
      if (e.status === 401) { signedOut(ctx); return; }
      showError(e, fields, general);
    } finally {
      button.disabled = false;
      button.textContent = 'Create token';
    }
  });
  await reload();
}
