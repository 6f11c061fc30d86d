// service-new.js: #/services/new/<slug>. Configure and launch an application of the
// catalog (GET /catalog/{slug}): its name, a reference id and a subdomain (both suggested
// from the name until edited; the subdomain shown with the platform's domain after it,
// or, for an application without a web address, saying it has none),
// and the settings form built from the template's values_schema (services.js
// valuesForm), and the volume's size when the template maps storage_size (empty: the
// application's default). Each field is checked here first, with the message beside it; the
// server's field errors (name, reference_id, subdomain, values.auth.password) land beside
// the same fields. Launch is POST /services; its 202 opens the service's page, which
// follows the deployment.
import { h, errorBox } from '../dom.js';
import { get, post } from '../api.js';
import { mayManageServices } from '../roles.js';
import { appIcon, valuesForm, slugify, hasWeb, DNS_LABEL, STORAGE_SIZE, STORAGE_SIZE_WRONG, servicesDomain } from '../services.js';
import { field, clearErrors, showError, signedOut } from './user-fields.js';

export const title = 'Launch an application';

export async function render(ctx) {
  const slug = ctx.params.slug;
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/services/marketplace' }, '← Marketplace')));
  if (!mayManageServices(ctx.me)) {
    ctx.main.append(h('h1', {}, 'Launch an application'),
      h('p.error', { role: 'alert', id: 'service-new-refused' }, 'Your role may not launch services; ask your administrator.'));
    return;
  }
  const state = h('p.state', { 'aria-live': 'polite' }, 'Loading the application…');
  ctx.main.append(state);
  let t;
  try {
    t = await get('catalog/' + encodeURIComponent(slug));
  } catch (e) {
    if (e.status === 401) throw e;
    if (!ctx.current()) return;
    state.replaceChildren(h('h1', {}, 'Launch an application'), errorBox(e.status === 404
      ? { message: 'There is no application “' + slug + '” in the marketplace.' } : e));
    return;
  }
  if (!ctx.current()) return;
  state.remove();
  document.title = `Launch ${t.name} · Kaiden`;

  const domain = h('span.suffix', { id: 'service-domain' }, '');
  const web = hasWeb(t);
  const fields = {
    name: field('service-name', 'Name', h('input', { name: 'name', required: true, maxlength: '100', autocomplete: 'off', value: t.name }),
      'How your team will call it (1 to 100 characters).'),
    reference_id: field('service-ref', 'Reference id', h('input', { name: 'reference_id', required: true, maxlength: '63', autocomplete: 'off', spellcheck: 'false' }),
      'Names it in Kubernetes (its Helm release). Lower-case letters, digits and hyphens; it cannot change later.'),
    subdomain: field('service-subdomain', 'Subdomain', h('input', { name: 'subdomain', required: true, maxlength: '63', autocomplete: 'off', spellcheck: 'false' }),
      web ? 'Its address. Lower-case letters, digits and hyphens.'
        : `${t.name} has no web address: your other services reach it inside the cluster. The subdomain only names it among the platform's services. Lower-case letters, digits and hyphens.`),
  };
  // The volume's size, for templates whose inputs map it (the chart's default otherwise).
  if (t.inputs && t.inputs.storage_size) {
    fields.storage_size = field('service-storage', 'Storage size', h('input', { name: 'storage_size', maxlength: '16', autocomplete: 'off', spellcheck: 'false', placeholder: 'default' }),
      'The volume\'s size, such as 10Gi (Mi, Gi or Ti; at least 1Gi). Empty: the application\'s default. It cannot change once the service has run.');
  }
  // The subdomain's input with the platform's domain after it (an application with a
  // web address: the one it will have).
  if (web) {
    const withSuffix = h('span.with-suffix', {});
    fields.subdomain.input.replaceWith(withSuffix);
    withSuffix.append(fields.subdomain.input, domain);
    servicesDomain().then((d) => {
      if (d) domain.textContent = '.' + d;
    });
  }
  // Reference id and subdomain follow the name until the user edits them.
  const follow = { reference_id: true, subdomain: true };
  const suggest = () => {
    const s = slugify(fields.name.input.value, 30);
    if (follow.reference_id) fields.reference_id.input.value = s;
    if (follow.subdomain) fields.subdomain.input.value = s;
  };
  fields.name.input.addEventListener('input', suggest);
  for (const k of ['reference_id', 'subdomain']) {
    fields[k].input.addEventListener('input', () => { follow[k] = fields[k].input.value === ''; });
  }
  suggest();

  const settings = valuesForm(t.values_schema, { prefix: 'svc-v' });
  const general = h('div', { id: 'service-new-message', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', id: 'service-launch' }, 'Launch');
  const form = h('form.card.stack.launch-form', { id: 'service-form', novalidate: true },
    h('h2', {}, 'Service'),
    fields.name.el, fields.reference_id.el, fields.subdomain.el,
    fields.storage_size ? fields.storage_size.el : null,
    h('h2', {}, 'Settings'),
    h('p.hint', {}, 'Fields marked * are required. Secret values are stored encrypted and never shown again.'),
    settings.el, general, h('p.actions', {}, button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(fields, general);
    const body = {
      template: t.slug,
      name: fields.name.input.value.trim(),
      reference_id: fields.reference_id.input.value.trim(),
      subdomain: fields.subdomain.input.value.trim(),
    };
    const mine = [];
    if (!body.name) mine.push({ field: 'name', message: 'Give the service a name.' });
    for (const [k, words] of [['reference_id', 'reference id'], ['subdomain', 'subdomain']]) {
      if (!body[k]) mine.push({ field: k, message: `Give it a ${words}.` });
      else if (!DNS_LABEL.test(body[k])) mine.push({ field: k, message: 'Lower-case letters, digits and hyphens only, at most 63, not starting or ending with a hyphen.' });
    }
    if (fields.storage_size) {
      const size = fields.storage_size.input.value.trim();
      if (size && !STORAGE_SIZE.test(size)) mine.push({ field: 'storage_size', message: STORAGE_SIZE_WRONG });
      else if (size) body.storage_size = size;
    }
    const v = settings.collect();
    for (const e of mine) {
      const f = fields[e.field];
      f.error.textContent = e.message;
      f.error.hidden = false;
      f.input.setAttribute('aria-invalid', 'true');
    }
    if (mine.length || !v.ok) {
      general.replaceChildren(h('p.error', { role: 'alert' }, 'Some fields need a change: see the messages beside them.'));
      if (mine.length) fields[mine[0].field].input.focus();
      else settings.focusFirstError();
      return;
    }
    body.values = v.values;
    button.disabled = true;
    button.textContent = 'Launching…';
    try {
      const s = await post('services', body);
      if (!ctx.current()) return;
      ctx.navigate('/services/' + encodeURIComponent(s.id));
    } catch (e) {
      if (!ctx.current()) return;
      if (e.status === 401) { signedOut(ctx); return; }
      if (!settings.showError(e)) showError(e, fields, general);
    } finally {
      button.disabled = false;
      button.textContent = 'Launch';
    }
  });

  ctx.main.append(
    h('div.app-launch-head', {}, appIcon(t, 'app-icon big'),
      h('div', {}, h('h1', {}, 'Launch ' + t.name), h('p.hint', {}, t.description))),
    h('p.hint', { id: 'service-chart' }, `${t.category} · ${t.price_label || ''} · chart ${t.chart_name} ${t.chart_version}`),
    form);
}
