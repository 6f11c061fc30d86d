// tenant-new.js: #/admin/tenants/new (admins). Code, name, plan, quotas, trial end
// (POST /admin/tenants); an error the API pins on a field is shown under that field.
import { h } from '../dom.js';
import { post } from '../api.js';
import { mayAdminTenants } from '../roles.js';
import { field, showError, trialEnd, quotas, quotaFields, PLANS } from './tenant-form.js';

export const title = 'New tenant';

export async function render(ctx) {
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/admin/tenants' }, '← Tenants')), h('h1', {}, 'New tenant'));
  if (!mayAdminTenants(ctx.me)) {
    ctx.main.append(h('p.error', { role: 'alert' }, 'Only Kaiden administrators create tenants.'));
    return;
  }
  const f = {
    code: field('tenant-code', 'Code', h('input', { id: 'tenant-code', name: 'code', required: true, maxlength: '63', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', placeholder: 'e.g. acme' }),
      'Lower-case letters, digits and dashes (a DNS label): the tenant code its users sign in with, and its subdomain.'),
    name: field('tenant-name', 'Name', h('input', { id: 'tenant-name', name: 'name', required: true, maxlength: '200', autocomplete: 'off' })),
    plan: field('tenant-plan', 'Plan', h('select', { id: 'tenant-plan', name: 'plan' },
      PLANS.map((p) => h('option', { value: p }, p)))),
    ...quotaFields('tenant'),
    trial_ends_at: field('tenant-trial', 'Trial ends (UTC date)', h('input', { id: 'tenant-trial', name: 'trial_ends_at', type: 'date' }), 'Empty: no trial end.'),
  };
  f.quotas = f.max_devices;
  const msg = h('div', { id: 'tenant-new-message', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', id: 'tenant-save' }, 'Create tenant');
  const form = h('form.card.stack', { id: 'tenant-new', novalidate: true },
    f.code.el, f.name.el, f.plan.el, f.max_devices.el, f.max_concurrent_sessions.el, f.max_open_tickets.el, f.trial_ends_at.el,
    msg, h('p.actions', {}, button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = {
      code: f.code.input.value.trim(),
      name: f.name.input.value.trim(),
      plan: f.plan.input.value,
      quotas: quotas(f),
    };
    const trial = trialEnd(f.trial_ends_at.input.value);
    if (trial) body.trial_ends_at = trial;
    button.disabled = true;
    button.textContent = 'Creating…';
    try {
      const t = await post('admin/tenants', body, { tenant: null });
      if (ctx.current()) ctx.navigate('/admin/tenants/' + encodeURIComponent(t.id));
    } catch (e) {
      if (e.status === 401) { ctx.navigate('/signin'); return; }
      showError(e, f, msg);
      button.disabled = false;
      button.textContent = 'Create tenant';
    }
  });
  ctx.main.append(form);
  f.code.input.focus();
}
