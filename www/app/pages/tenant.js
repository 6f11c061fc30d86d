// tenant.js: #/admin/tenants/ID (platform staff). The tenant's facts, its usage against
// its quotas, and its users (both read by acting in it: X-Kaiden-Tenant, multi mode);
// admins also suspend / resume it (after a confirmation), change its plan, quotas and
// trial end, and add a user to it.
import { h, when, statusBadge, errorBox, plural } from '../dom.js';
import { get, patch, post, pager, serverInfo } from '../api.js';
import { mayAdminTenants } from '../roles.js';
import { listTable, pagedList } from '../list.js';
import { field, showError, trialEnd, dateOf, quotas, quotaFields, PLANS } from './tenant-form.js';

export const title = 'Tenant';

const DEFAULT_TENANT = '00000000-0000-0000-0000-000000000000';
const PLATFORM = { tenant: null };

function limit(n) {
  return n === undefined || n === null ? 'no limit' : String(n);
}

function bytes(n) {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let v = Number(n) || 0;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return i === 0 ? plural(v, 'byte') : `${v.toFixed(1)} ${units[i]}`;
}

function facts(t) {
  const q = t.quotas || {};
  const rows = [
    ['Code', h('code', {}, t.code)],
    ['Status', h('span', { id: 'tenant-status' }, statusBadge(t.status))],
    ['Plan', h('span', { id: 'tenant-plan-value' }, t.plan || '—')],
    ['Trial ends', h('span', { id: 'tenant-trial-value' }, t.trial_ends_at ? when(t.trial_ends_at) : '—')],
    ['Most devices', h('span', { id: 'tenant-quota-devices' }, limit(q.max_devices))],
    ['Most sessions at once', h('span', { id: 'tenant-quota-sessions' }, limit(q.max_concurrent_sessions))],
    ['Most open tickets', h('span', { id: 'tenant-quota-tickets' }, limit(q.max_open_tickets))],
    ['Created', when(t.created_at)],
    ['Id', h('code', {}, t.id)],
  ];
  return h('dl.facts', { id: 'tenant-facts' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function usageFacts(u) {
  const q = u.quotas || {};
  const rows = [
    ['Devices', `${u.devices} of ${limit(q.max_devices)} (${u.devices_online} online)`],
    ['Live sessions', `${u.sessions_active} of ${limit(q.max_concurrent_sessions)}`],
    ['Open tickets', `${u.open_tickets} of ${limit(q.max_open_tickets)}`],
    ['Sessions this month', `${u.sessions_this_month} (${plural(u.session_minutes_this_month || 0, 'minute')})`],
    ['Relay traffic this month', `${bytes(u.relay_bytes_in_this_month)} in, ${bytes(u.relay_bytes_out_this_month)} out`],
    ['Users', String(u.users)],
    ['Stored data', bytes(u.storage_bytes)],
  ];
  return h('dl.facts', { id: 'tenant-usage-facts' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export async function render(ctx) {
  const state = h('p.state', { 'aria-live': 'polite' }, 'Loading the tenant…');
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/admin/tenants' }, '← Tenants')), state);
  const [t, info] = await Promise.all([
    get('admin/tenants/' + encodeURIComponent(ctx.params.id), PLATFORM),
    serverInfo().catch(() => ({ mode: 'single' })),
  ]);
  if (!ctx.current()) return;
  state.remove();
  document.title = `${t.name} · Kaiden`;
  const multi = info.mode === 'multi';
  // Acting in the tenant (usage, users) needs multi mode; single mode has the default
  // tenant only to act in.
  const canAct = multi || t.id === DEFAULT_TENANT;
  const admin = mayAdminTenants(ctx.me);
  const actAs = { tenant: t.id };

  const factsBox = h('div', {}, facts(t));
  const actionMsg = h('div', { id: 'tenant-action-message', 'aria-live': 'polite' });
  const actions = h('p.actions', {});
  ctx.main.append(h('h1', {}, t.name), h('section.card', {}, factsBox, actions, actionMsg));

  let current = t;
  function refresh(next) {
    current = next;
    factsBox.replaceChildren(facts(next));
    drawActions();
  }

  // Suspend / resume, confirmed in the page.
  function drawActions() {
    actions.replaceChildren();
    if (!admin || current.id === DEFAULT_TENANT) return;
    const suspended = current.status === 'suspended';
    const go = h('button', { type: 'button', id: suspended ? 'tenant-resume' : 'tenant-suspend', class: suspended ? null : 'danger' },
      suspended ? 'Resume' : 'Suspend');
    go.addEventListener('click', () => {
      const yes = h('button', { type: 'button', id: 'tenant-confirm', class: suspended ? null : 'danger' },
        suspended ? `Yes, resume ${current.code}` : `Yes, suspend ${current.code}`);
      const no = h('button.secondary', { type: 'button', id: 'tenant-cancel' }, 'Cancel');
      const ask = h('div.confirm', { role: 'alertdialog', 'aria-labelledby': 'tenant-confirm-text' },
        h('p', { id: 'tenant-confirm-text' }, suspended
          ? `Resume ${current.name}? Its users can sign in and its agents connect again.`
          : `Suspend ${current.name}? Its users are signed out and refused, its API tokens stop working and its agents are disconnected.`),
        h('p.actions', {}, yes, no));
      no.addEventListener('click', () => drawActions());
      yes.addEventListener('click', async () => {
        yes.disabled = true;
        no.disabled = true;
        actionMsg.replaceChildren();
        try {
          const next = await patch('admin/tenants/' + encodeURIComponent(current.id),
            { status: suspended ? 'active' : 'suspended' }, PLATFORM);
          if (!ctx.current()) return;
          refresh(next);
          actionMsg.replaceChildren(h('p.state', { id: 'tenant-action-done' },
            suspended ? 'Resumed.' : 'Suspended.'));
        } catch (e) {
          actionMsg.replaceChildren(errorBox(e));
          drawActions();
        }
      });
      actions.replaceChildren(ask);
      yes.focus();
    });
    actions.append(go);
  }
  drawActions();

  // Usage.
  const usage = h('section.card', { id: 'tenant-usage' }, h('p.state', {}, 'Loading usage…'));
  ctx.main.append(h('h2', {}, 'Usage'), usage);
  if (!canAct) {
    usage.replaceChildren(h('p.state', {}, 'This server runs in single mode: only the default tenant is in use, so this tenant has no usage.'));
  } else {
    get('tenant/usage', actAs).then((u) => {
      if (ctx.current()) usage.replaceChildren(usageFacts(u));
    }).catch((e) => usage.replaceChildren(errorBox(e)));
  }

  // Edit plan, quotas, trial end.
  if (admin) {
    const q = t.quotas || {};
    const f = {
      plan: field('edit-plan', 'Plan', h('select', { id: 'edit-plan', name: 'plan' },
        PLANS.map((p) => h('option', { value: p, selected: p === t.plan }, p)))),
      ...quotaFields('edit', q),
      trial_ends_at: field('edit-trial', 'Trial ends (UTC date)', h('input', { id: 'edit-trial', name: 'trial_ends_at', type: 'date', value: dateOf(t.trial_ends_at) }), 'Empty: no trial end.'),
    };
    f.quotas = f.max_devices;
    const msg = h('div', { id: 'tenant-edit-message', 'aria-live': 'polite' });
    const save = h('button', { type: 'submit', id: 'tenant-edit-save' }, 'Save changes');
    const form = h('form.card.stack', { id: 'tenant-edit', novalidate: true },
      f.plan.el, f.max_devices.el, f.max_concurrent_sessions.el, f.max_open_tickets.el, f.trial_ends_at.el, msg, h('p.actions', {}, save));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      msg.replaceChildren();
      save.disabled = true;
      try {
        const next = await patch('admin/tenants/' + encodeURIComponent(current.id), {
          plan: f.plan.input.value,
          quotas: quotas(f),
          trial_ends_at: trialEnd(f.trial_ends_at.input.value),
        }, PLATFORM);
        if (!ctx.current()) return;
        refresh(next);
        showError(null, f, msg);
        msg.replaceChildren(h('p.state', { id: 'tenant-edit-saved' }, 'Saved.'));
      } catch (e) {
        showError(e, f, msg);
      }
      save.disabled = false;
    });
    ctx.main.append(h('h2', {}, 'Plan, quotas and trial'), form);
  }

  // Users.
  const users = h('section', { id: 'tenant-users-section' });
  ctx.main.append(h('h2', {}, 'Users'), users);
  if (!canAct) {
    users.append(h('p.state', {}, 'In single mode a tenant other than the default one has no users.'));
    return;
  }
  const view = listTable({
    id: 'tenant-users', caption: 'Users of ' + t.name, columns: ['Email', 'Name', 'Role', 'Status'],
    stateId: 'tenant-users-state', moreId: 'tenant-users-more', loading: 'Loading users…',
  });
  const { body, table, state: ustate } = view;
  users.append(view.table, view.state, view.more);
  const row = (u) => h('tr', {},
    h('td', { 'data-label': 'Email' }, u.email),
    h('td', { 'data-label': 'Name' }, u.name || '—'),
    h('td', { 'data-label': 'Role' }, u.role),
    h('td', { 'data-label': 'Status' }, statusBadge(u.status)));
  const list = pagedList(ctx, view, {
    pages: pager('users', {}, 50, actAs), row, empty: () => 'No users in this tenant yet.',
  });

  if (admin) {
    const f = {
      email: field('user-email', 'Email', h('input', { id: 'user-email', name: 'email', type: 'email', required: true, autocomplete: 'off', maxlength: '254' })),
      name: field('user-name', 'Name', h('input', { id: 'user-name', name: 'name', required: true, autocomplete: 'off', maxlength: '200' })),
      role: field('user-role', 'Role', h('select', { id: 'user-role', name: 'role' },
        h('option', { value: 'customer' }, 'customer'), h('option', { value: 'tenant_admin' }, 'tenant admin'))),
      password: field('user-password', 'Password', h('input', { id: 'user-password', name: 'password', type: 'password', autocomplete: 'new-password', minlength: '10' }),
        'At least 10 characters; empty: the user cannot sign in until one is set.'),
    };
    const msg = h('div', { id: 'user-add-message', 'aria-live': 'polite' });
    const add = h('button', { type: 'submit', id: 'user-add' }, 'Add user');
    const form = h('form.card.stack', { id: 'tenant-user-new', novalidate: true },
      h('h3', {}, 'Add a user to ' + t.name), f.email.el, f.name.el, f.role.el, f.password.el, msg, h('p.actions', {}, add));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const b = { email: f.email.input.value.trim(), name: f.name.input.value.trim(), role: f.role.input.value };
      if (f.password.input.value) b.password = f.password.input.value;
      add.disabled = true;
      try {
        const u = await post('users', b, actAs);
        if (!ctx.current()) return;
        f.password.input.value = '';
        showError(null, f, msg);
        msg.replaceChildren(h('p.state', { id: 'user-added' }, `${u.email} added.`));
        body.prepend(row(u));
        table.hidden = false;
        ustate.hidden = true;
        form.reset();
      } catch (e) {
        f.password.input.value = '';
        showError(e, f, msg);
      }
      add.disabled = false;
    });
    users.append(form);
  }
  await list.load();
}
