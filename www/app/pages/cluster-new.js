// cluster-new.js: #/clusters/new. Enrol a cluster by name (POST /clusters); the reply's
// secret is shown once, inside the install snippet (the Secret manifest), with the steps
// that install the agents (clusters.js enrolCard). It lives only in the card's elements:
// Done, or leaving the page, forgets it.
import { h } from '../dom.js';
import { post } from '../api.js';
import { mayManageClusters } from '../roles.js';
import { enrolCard } from '../clusters.js';
import { field, clearErrors, showError, signedOut } from './user-fields.js';

export const title = 'New cluster';

export async function render(ctx) {
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/clusters' }, '← Clusters')), h('h1', {}, 'Enrol a cluster'));
  if (!mayManageClusters(ctx.me)) {
    ctx.main.append(h('p.error', { role: 'alert', id: 'cluster-refused' }, 'Your role may not enrol clusters; ask your administrator.'));
    return;
  }
  const fields = {
    name: field('cluster-name', 'Name', h('input', { name: 'name', required: true, maxlength: '128', autocomplete: 'off', placeholder: 'e.g. prod-eu' }),
      'A name your team will recognise (1 to 128 characters), once among your clusters.'),
  };
  const general = h('div', { id: 'cluster-new-message', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', id: 'cluster-create' }, 'Enrol');
  const form = h('form.card.stack', { id: 'cluster-form' }, fields.name.el, general, h('p.actions', {}, button));
  const shown = h('div', { id: 'cluster-shown' });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(fields, general);
    const name = fields.name.input.value.trim();
    if (!name) {
      showError({ field: 'name', message: 'Give the cluster a name.' }, fields, general);
      return;
    }
    button.disabled = true;
    button.textContent = 'Enrolling…';
    try {
      const c = await post('clusters', { name });
      if (!ctx.current()) return;
      form.hidden = true;
      const card = enrolCard(c, () => ctx.navigate('/clusters/' + encodeURIComponent(c.id)));
      shown.replaceChildren(card, h('p', {}, h('a', { href: '#/clusters/' + encodeURIComponent(c.id), id: 'new-cluster-link' }, 'Open ' + c.name)));
      card.focus();
    } catch (e) {
      if (!ctx.current()) return;
      if (e.status === 401) { signedOut(ctx); return; }
      showError(e, fields, general);
    } finally {
      button.disabled = false;
      button.textContent = 'Enrol';
    }
  });
  ctx.main.append(form, shown);
}
