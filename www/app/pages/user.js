// user.js: #/users/ID. One user: their facts; for those who may manage users, a form for
// name, email and role, Disable/Enable, a new password, and Delete (asked first). Nobody
// disables, deletes or changes the role of their own account (409 cannot_modify_self),
// so those controls are not offered on one's own page. Engineers read it only.
import { h, ago, when, statusBadge } from '../dom.js';
import { get, patch, del } from '../api.js';
import { mayListUsers, mayManageUsers, rolesToGive, roleLabel, staffView, platformQuery } from '../roles.js';
import { confirming } from '../confirm.js';
import { statusToggle } from '../toggle.js';
import { refused } from './users.js';
import { PASSWORD_HINT } from './user-new.js';
import { field, clearErrors, showError, signedOut } from './user-fields.js';

export const title = 'User';

export async function render(ctx) {
  if (!mayListUsers(ctx.me)) {
    refused(ctx, 'User');
    return;
  }
  const id = ctx.params.id;
  const sq = platformQuery(ctx.me, ctx.query); // '?scope=platform' or ''
  const path = 'users/' + encodeURIComponent(id) + sq;
  const crumbs = h('p.crumbs', {}, h('a', { href: '#/users' + sq }, sq ? '← Staff' : '← Users'));
  const state = h('p.state', { 'aria-live': 'polite' }, 'Loading the user…');
  ctx.main.append(crumbs, state);
  let u = await get(path);
  if (!ctx.current()) return;
  state.remove();

  const self = Boolean(ctx.me.user && ctx.me.user.id === u.id);
  const may = mayManageUsers(ctx.me);
  const heading = h('h1', {}, u.name);
  const facts = h('dl.facts', { id: 'user-facts' });
  const notice = h('div', { id: 'user-message', 'aria-live': 'polite' });
  if (ctx.query.created) notice.append(h('p.notice.ok', {}, 'The user is created.'));
  ctx.main.append(heading, h('section.card', {}, facts), notice);

  function drawFacts() {
    heading.textContent = u.name + (self ? ' (you)' : '');
    document.title = `${u.name} · Kaiden`;
    facts.replaceChildren(...[
      ['Email', h('span', { id: 'user-fact-email' }, u.email)],
      ['Role', h('span', { id: 'user-fact-role' }, roleLabel(u.role))],
      ['Status', h('span', { id: 'user-status' }, statusBadge(u.status))],
      ['Last sign-in', h('span', { title: when(u.last_login_at) }, ago(u.last_login_at))],
      ['Created', when(u.created_at)],
    ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }
  drawFacts();
  if (!may) return;

  // What fails is said where it happened; a 401 ends the page.
  const failed = (e, fields, general) => {
    if (!ctx.current()) return;
    if (e.status === 401) signedOut(ctx);
    else showError(e, fields, general);
  };

  // 1. Name, email, role.
  const roles = rolesToGive(ctx.me, staffView(ctx.me, ctx.query));
  const edit = {
    name: field('user-edit-name', 'Name', h('input', { name: 'name', required: true, maxlength: '200', autocomplete: 'off' })),
    email: field('user-edit-email', 'Email', h('input', { type: 'email', name: 'email', required: true, maxlength: '254', autocomplete: 'off' })),
    role: field('user-edit-role', 'Role', h('select', { name: 'role', disabled: self },
      roles.map((r) => h('option', { value: r }, roleLabel(r)))),
    self ? 'You cannot change your own role; another administrator can.' : null),
  };
  const editMsg = h('div', { id: 'user-edit-message', 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', id: 'user-save' }, 'Save');
  const editForm = h('form.card.stack', { id: 'user-edit' },
    Object.values(edit).map((f) => f.el), editMsg, h('p.actions', {}, save));
  const fill = () => {
    edit.name.input.value = u.name;
    edit.email.input.value = u.email;
    edit.role.input.value = u.role;
  };
  fill();
  editForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(edit, editMsg);
    const body = {};
    const name = edit.name.input.value.trim(), email = edit.email.input.value.trim();
    if (name !== u.name) body.name = name;
    if (email !== u.email) body.email = email;
    if (!self && edit.role.input.value !== u.role) body.role = edit.role.input.value;
    if (!Object.keys(body).length) {
      editMsg.replaceChildren(h('p.state', {}, 'Nothing changed.'));
      return;
    }
    save.disabled = true;
    try {
      u = await patch(path, body);
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

  // 2. Disable / enable (not one's own account).
  const { button: toggle, message: statusMsg } = statusToggle({
    id: 'user-toggle', messageId: 'user-status-message',
    status: () => u.status,
    change: async (next) => {
      u = await patch(path, { status: next });
      if (!ctx.current()) return false;
      drawFacts();
      return true;
    },
    said: {
      disabled: 'Disabled: signed out everywhere, API tokens refused, sign-in refused.',
      active: 'Enabled: the user can sign in again (their old API tokens stay revoked).',
    },
    failed: (e, msg) => failed(e, {}, msg),
  });

  // 3. A new password.
  const pw = { password: field('user-new-password', 'New password',
    h('input', { type: 'password', name: 'password', required: true, minlength: '10', maxlength: '1024', autocomplete: 'new-password' }),
    PASSWORD_HINT + ' Setting it signs the user out everywhere.') };
  const pwMsg = h('div', { id: 'user-password-message', 'aria-live': 'polite' });
  const pwButton = h('button', { type: 'submit', id: 'user-password-set' }, 'Set password');
  const pwForm = h('form.card.stack', { id: 'user-password-form' }, pw.password.el, pwMsg, h('p.actions', {}, pwButton));
  pwForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(pw, pwMsg);
    pwButton.disabled = true;
    try {
      u = await patch(path, { password: pw.password.input.value });
      if (!ctx.current()) return;
      pw.password.input.value = '';
      pwMsg.replaceChildren(h('p.state', {}, 'The new password is set.'));
    } catch (e) {
      failed(e, pw, pwMsg);
    } finally {
      pwButton.disabled = false;
    }
  });

  // 4. Delete, asked first.
  const delMsg = h('div', { id: 'user-delete-message', 'aria-live': 'polite' });
  const delButton = h('button.danger', { type: 'button', id: 'user-delete' }, 'Delete user');
  const deleting = confirming(delButton, {
    question: `Delete ${u.email}? Their sign-ins and API tokens end; the audit log keeps what they did.`,
    yes: 'Delete',
    id: 'user-delete',
    onYes: async () => {
      delMsg.replaceChildren();
      try {
        await del(path);
      } catch (e) {
        failed(e, {}, delMsg);
        return false;
      }
      if (ctx.current()) ctx.navigate('/users' + sq);
      return true;
    },
  });

  ctx.main.append(
    h('h2', {}, 'Details'), editForm,
    h('h2', {}, 'Password'), pwForm);
  if (self) {
    ctx.main.append(h('p.hint', {}, 'You cannot disable or delete your own account; another administrator can.'));
  } else {
    ctx.main.append(
      h('h2', {}, 'Access'),
      h('div.card', {},
        h('p.hint', {}, 'A disabled user cannot sign in, and their sign-ins and API tokens stop working at once.'),
        h('p.actions', {}, toggle), statusMsg,
        h('p.hint', {}, 'Deleting cannot be undone.'),
        h('p.actions', {}, deleting), delMsg));
  }
}
