// user-new.js: #/users/new. Create a user (POST /users): email, name, a role among those
// this caller may give (rolesToGive), an initial password (optional: without one the user
// cannot sign in until one is set). The API's error is shown next to the field it names.
import { h } from '../dom.js';
import { post } from '../api.js';
import { mayManageUsers, rolesToGive, roleLabel, staffView, platformQuery } from '../roles.js';
import { refused } from './users.js';
import { field, clearErrors, showError, signedOut } from './user-fields.js';

export const title = 'New user';

export const PASSWORD_HINT = 'At least 10 characters. Give it to the person by a safe way; they can keep using it.';

export async function render(ctx) {
  if (!mayManageUsers(ctx.me)) {
    refused(ctx, 'New user');
    return;
  }
  const sq = platformQuery(ctx.me, ctx.query); // '?scope=platform' or ''
  const roles = rolesToGive(ctx.me, staffView(ctx.me, ctx.query));
  const fields = {
    email: field('user-email', 'Email', h('input', { type: 'email', name: 'email', required: true, maxlength: '254', autocomplete: 'off' })),
    name: field('user-name', 'Name', h('input', { name: 'name', required: true, maxlength: '200', autocomplete: 'off' })),
    role: field('user-role-new', 'Role', h('select', { name: 'role' },
      roles.map((r) => h('option', { value: r }, roleLabel(r))))),
    password: field('user-password', 'Initial password',
      h('input', { type: 'password', name: 'password', minlength: '10', maxlength: '1024', autocomplete: 'new-password' }),
      PASSWORD_HINT + ' Leave it empty and the user cannot sign in until a password is set.'),
  };
  const general = h('div', { id: 'user-new-message', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', id: 'user-create' }, 'Create user');
  const form = h('form.card.stack', { id: 'user-new-form' },
    Object.values(fields).map((f) => f.el), general, h('p.actions', {}, button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(fields, general);
    const body = {
      email: fields.email.input.value.trim(),
      name: fields.name.input.value.trim(),
      role: fields.role.input.value,
    };
    if (fields.password.input.value) body.password = fields.password.input.value;
    button.disabled = true;
    button.textContent = 'Creating…';
    try {
      const u = await post('users' + sq, body);
      if (!ctx.current()) return;
      ctx.navigate('/users/' + encodeURIComponent(u.id) + (sq ? sq + '&' : '?') + 'created=1');
    } catch (e) {
      if (!ctx.current()) return;
      if (e.status === 401) { signedOut(ctx); return; }
      showError(e, fields, general);
      button.disabled = false;
      button.textContent = 'Create user';
    }
  });
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/users' + sq }, sq ? '← Staff' : '← Users')),
    h('h1', {}, sq ? 'New staff member' : 'New user'), form);
  fields.email.input.focus();
}
