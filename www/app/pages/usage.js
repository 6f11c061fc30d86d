// usage.js: #/usage. The tenant the caller acts in (GET /tenant: name, code, plan,
// status, trial end) and its usage against its quotas (GET /tenant/usage): devices and
// running sessions as meters against max_devices / max_concurrent_sessions ("no limit"
// where the tenant has none), users, and this month's sessions, minutes and relay bytes.
// Those who may (PATCH /tenant) rename the tenant here; those who may (POST /tenant/export)
// download all of its data as one archive.
import { h, when, statusBadge, errorBox } from '../dom.js';
import { get, patch, post } from '../api.js';
import { maySeeUsage, mayEditTenant, mayExport } from '../roles.js';
import { field, clearErrors, showError, signedOut } from './user-fields.js';

export const title = 'Usage';
export const nav = 'Usage';
export const navIf = maySeeUsage;

const PLAN = { trial: 'Trial', basic: 'Basic', pro: 'Pro', enterprise: 'Enterprise' };

const count = (n) => Number(n || 0).toLocaleString('en-US');

// 1536 -> "1.5 KB" (powers of 1000, as disks and bills count).
export function bytes(n) {
  n = Number(n || 0);
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

// One quota: "3 of 10 devices" with a meter, or "3 devices (no limit)".
function quota(id, label, used, max, [one, many]) {
  const limited = Number.isInteger(max) && max > 0;
  const value = h('span.usage-value', { id }, count(used));
  const text = limited
    ? h('span', {}, value, ` of ${count(max)} ${max === 1 ? one : many}`)
    : h('span', {}, value, ` ${used === 1 ? one : many} `, h('span.hint', { id: id + '-limit' }, '(no limit)'));
  const meter = limited
    ? h('meter', { id: id + '-meter', min: '0', max: String(max), value: String(Math.min(used, max)),
      low: String(Math.ceil(max * 0.8)), high: String(max), optimum: '0', 'aria-label': `${label}: ${used} of ${max}` })
    : null;
  const full = limited && used >= max
    ? h('p.hint.error-text', {}, 'At the limit: new ones are refused until some go, or the plan is raised.')
    : null;
  return h('div.quota', {}, h('h3', {}, label), h('p.quota-text', {}, text), meter, full);
}

function fact(id, label, value, sub) {
  return [h('dt', {}, label), h('dd', {}, h('span', { id }, value), sub ? h('span.hint', {}, ' ' + sub) : null)];
}

export async function render(ctx) {
  ctx.main.append(h('h1', {}, 'Usage'));
  if (!maySeeUsage(ctx.me)) {
    ctx.main.append(h('p.error', { role: 'alert', id: 'usage-refused' },
      'Your role may not see the tenant\'s usage; your tenant admin can.'));
    return;
  }
  if (!ctx.me.acting_tenant_id) {
    ctx.main.append(h('p.state', { id: 'usage-platform' },
      'Usage is counted per tenant, and you are acting at platform level: open a tenant to see its usage.'));
    return;
  }
  const state = h('p.state', { 'aria-live': 'polite' }, 'Loading the tenant\'s usage…');
  ctx.main.append(state);
  const [tenant, usage] = await Promise.all([get('tenant'), get('tenant/usage')]);
  if (!ctx.current()) return;
  state.remove();
  const q = usage.quotas || {};

  // The tenant.
  const nameEl = h('span', { id: 'tenant-name' }, tenant.name);
  const facts = h('dl.facts', { id: 'tenant-facts' },
    h('dt', {}, 'Name'), h('dd', {}, nameEl),
    h('dt', {}, 'Code'), h('dd', {}, h('code', { id: 'tenant-code' }, tenant.code)),
    h('dt', {}, 'Plan'), h('dd', { id: 'tenant-plan' }, PLAN[tenant.plan] || tenant.plan),
    h('dt', {}, 'Status'), h('dd', { id: 'tenant-status' }, statusBadge(tenant.status)),
    tenant.trial_ends_at ? [h('dt', {}, 'Trial ends'), h('dd', { id: 'tenant-trial' }, when(tenant.trial_ends_at))] : null);
  const tenantCard = h('section.card', { id: 'tenant' }, facts);
  if (mayEditTenant(ctx.me)) {
    const fields = { name: field('tenant-name-input', 'Tenant name', h('input', { name: 'name', required: true, maxlength: '200', autocomplete: 'off' }),
      'How Kaiden names your organisation. The code (used to sign in on a shared server) stays as it is.') };
    fields.name.input.value = tenant.name;
    const msg = h('div', { id: 'tenant-message', 'aria-live': 'polite' });
    const save = h('button', { type: 'submit', id: 'tenant-save' }, 'Rename');
    const form = h('form.stack.rename', { id: 'tenant-form' }, fields.name.el, msg, h('p.actions', {}, save));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(fields, msg);
      const name = fields.name.input.value.trim();
      if (name === nameEl.textContent) {
        msg.replaceChildren(h('p.state', {}, 'Nothing changed.'));
        return;
      }
      save.disabled = true;
      try {
        const t = await patch('tenant', { name });
        if (!ctx.current()) return;
        nameEl.textContent = t.name;
        msg.replaceChildren(h('p.state', {}, 'Saved.'));
      } catch (e) {
        if (!ctx.current()) return;
        if (e.status === 401) signedOut(ctx);
        else showError(e, fields, msg);
      } finally {
        save.disabled = false;
      }
    });
    tenantCard.append(form);
  }

  // Its usage.
  const month = new Date().toLocaleString('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });
  ctx.main.append(
    h('h2', {}, 'Tenant'), tenantCard,
    h('h2', {}, 'Quotas'),
    h('section.card.quotas', { id: 'usage-quotas' },
      quota('usage-devices', 'Devices', usage.devices, q.max_devices, ['device', 'devices']),
      quota('usage-sessions-active', 'Sessions running', usage.sessions_active, q.max_concurrent_sessions, ['session', 'sessions']),
      quota('usage-open-tickets', 'Open tickets', usage.open_tickets, q.max_open_tickets, ['ticket', 'tickets']),
      quota('usage-users', 'Users', usage.users, null, ['user', 'users'])), // users have no quota
    h('h2', {}, `This month (${month}, UTC)`),
    h('section.card', {}, h('dl.facts', { id: 'usage-month' },
      fact('usage-devices-online', 'Devices online now', count(usage.devices_online)),
      fact('usage-sessions-month', 'Sessions started', count(usage.sessions_this_month)),
      fact('usage-minutes', 'Session minutes', count(usage.session_minutes_this_month)),
      fact('usage-relay-in', 'Relay: engineers → machines', bytes(usage.relay_bytes_in_this_month),
        `(${count(usage.relay_bytes_in_this_month)} bytes)`),
      fact('usage-relay-out', 'Relay: machines → engineers', bytes(usage.relay_bytes_out_this_month),
        `(${count(usage.relay_bytes_out_this_month)} bytes)`),
      fact('usage-storage', 'Stored data', bytes(usage.storage_bytes), `(${count(usage.storage_bytes)} bytes)`))));
  ctx.main.append(h('p.hint', {}, 'Quotas and plan are set by the Kaiden platform administrators.'));
  if (mayExport(ctx.me)) ctx.main.append(exportCard(ctx, tenant));
}

// "Download all data": POST /tenant/export, saved as kaiden-CODE-YYYY-MM-DD.json through
// a blob link (nothing goes anywhere but this browser's downloads).
function exportCard(ctx, tenant) {
  const button = h('button', { type: 'button', id: 'tenant-export' }, 'Download all data');
  const msg = h('div', { id: 'tenant-export-message', 'aria-live': 'polite' });
  button.addEventListener('click', async () => {
    button.disabled = true;
    msg.replaceChildren(h('p.state', {}, 'Preparing the archive…'));
    try {
      const archive = await post('tenant/export');
      if (!ctx.current()) return;
      const blob = new Blob([JSON.stringify(archive)], { type: 'application/json' });
      const url = URL.createObjectURL(blob);
      const name = `kaiden-${tenant.code}-${new Date().toISOString().slice(0, 10)}.json`;
      const a = h('a', { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      msg.replaceChildren(h('p.state', {}, `Saved as ${name} in your downloads.`));
    } catch (e) {
      if (!ctx.current()) return;
      if (e.status === 401) signedOut(ctx);
      else msg.replaceChildren(errorBox(e));
    } finally {
      button.disabled = false;
    }
  });
  return h('section', {}, h('h2', {}, 'Your data'),
    h('div.card.stack', {},
      h('p', {}, 'One JSON archive of this tenant: its devices, clusters, sessions, tickets with ',
        'their conversations, users (without passwords) and audit log, for your records or to ',
        'move to another Kaiden server (an administrator there imports it). Device and cluster ',
        'secrets stay usable; keep the file safe. Webhooks are not in it: their secrets never ',
        'leave this server.'),
      h('p.actions', {}, button), msg));
}
