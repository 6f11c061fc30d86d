// audit.js: #/audit. The audit log, newest first: who did what, on what, when, from
// where, with the details. Filters (action or a prefix such as "auth.", actor, target,
// since/until, and for staff the tenant) are the API's and are kept in the URL
// (#/audit?action=tenant.&since=...); "More" reads the next page with the cursor. Staff
// read it platform-wide (every tenant, platform entries too) whatever tenant the header
// switcher holds; tenant admins see their tenant's.
import { h, when } from '../dom.js';
import { filterForm, filterField, listTable, pagedList } from '../list.js';
import { get, pager, query } from '../api.js';
import { mayReadAudit, isStaff } from '../roles.js';

export const title = 'Audit log';
export const nav = 'Audit';
export const navIf = mayReadAudit;

const KEYS = ['action', 'actor_id', 'target_id', 'since', 'until', 'tenant_id'];

// RFC 3339 <-> the value of a datetime-local input (the browser's local time).
function localValue(iso) {
  const t = Date.parse(iso || '');
  if (!isFinite(t)) return '';
  const d = new Date(t - new Date(t).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}
function isoOf(local) {
  const t = Date.parse(local || '');
  return isFinite(t) ? new Date(t).toISOString() : '';
}

function details(d) {
  if (d === null || d === undefined) return '—';
  if (typeof d !== 'object') return String(d);
  const keys = Object.keys(d);
  if (!keys.length) return '—';
  return h('dl.details', {}, keys.map((k) => [h('dt', {}, k),
    h('dd', {}, typeof d[k] === 'object' && d[k] !== null ? JSON.stringify(d[k]) : String(d[k]))]));
}

export async function render(ctx) {
  ctx.main.append(h('h1', {}, 'Audit log'));
  if (!mayReadAudit(ctx.me)) {
    ctx.main.append(h('p.error', { role: 'alert' }, 'Your role may not read the audit log.'));
    return;
  }
  const staff = isStaff(ctx.me);
  const opts = staff ? { tenant: null } : undefined;
  const f = {};
  for (const k of KEYS) f[k] = ctx.query[k] || '';
  const input = (id, key, label, attrs) => {
    const el = h('input', { id, name: key, value: key === 'since' || key === 'until' ? localValue(f[key]) : f[key], ...attrs });
    return [el, filterField(id, label, el)];
  };
  const [action, actionF] = input('audit-action', 'action', 'Action', { placeholder: 'e.g. tenant.update or auth.', list: 'audit-actions', autocomplete: 'off' });
  const [actor, actorF] = input('audit-actor', 'actor_id', 'Actor id', { placeholder: 'user id', autocomplete: 'off' });
  const [target, targetF] = input('audit-target', 'target_id', 'Target id', { placeholder: 'device, session, user or tenant id', autocomplete: 'off' });
  const [since, sinceF] = input('audit-since', 'since', 'Since', { type: 'datetime-local' });
  const [until, untilF] = input('audit-until', 'until', 'Until', { type: 'datetime-local' });
  const tenantSel = staff ? h('select', { id: 'audit-tenant', name: 'tenant_id' },
    h('option', { value: '' }, 'Every tenant and the platform'),
    f.tenant_id ? h('option', { value: f.tenant_id, selected: true }, f.tenant_id) : null) : null;
  const actions = h('datalist', { id: 'audit-actions' },
    ['auth.', 'auth.login', 'auth.login_failed', 'device.', 'session.', 'tenant.', 'tenant.create', 'tenant.update',
      'tenant.access', 'user.', 'user.create', 'token.'].map((a) => h('option', { value: a })));
  const form = filterForm(ctx, '/audit', {
    cls: '.audit-filters',
    fields: [actionF, actorF, targetF, sinceF, untilF, tenantSel ? filterField('audit-tenant', 'Tenant', tenantSel) : null],
    params: () => ({
      action: action.value.trim(), actor_id: actor.value.trim(), target_id: target.value.trim(),
      since: isoOf(since.value), until: isoOf(until.value), tenant_id: tenantSel ? tenantSel.value : '',
    }),
    auto: tenantSel ? [tenantSel] : [],
    applyId: 'audit-apply',
    after: [h('a', { href: '#/audit', id: 'audit-clear' }, 'Clear'), actions],
  });
  if (tenantSel) {
    get('admin/tenants' + query({ limit: 200 }), { tenant: null }).then((r) => {
      if (!ctx.current()) return;
      tenantSel.replaceChildren(h('option', { value: '' }, 'Every tenant and the platform'),
        ...(r.items || []).map((t) => h('option', { value: t.id, selected: t.id === f.tenant_id }, `${t.name} (${t.code})`)));
    }).catch(() => { /* the filter keeps what the URL gave */ });
  }

  const view = listTable({ id: 'audit', caption: 'Audit entries', columns: ['When', 'Who', 'Action', 'On what', 'From', 'Details'],
    stateId: 'audit-state', moreId: 'audit-more', loading: 'Loading the audit log…' });
  ctx.main.append(form, view.table, view.state, view.more);

  const link = (key, value, text) => h('a', { href: '#/audit' + query({ ...f, [key]: value }), title: 'Only entries with this ' + key.replace('_id', '') }, text);
  const params = {};
  for (const k of KEYS) if (f[k]) params[k] = f[k];
  // Staff read at platform level: no tenant header, and scope=platform, which single
  // mode needs to show platform entries (GET /audit's scope; ignored where unknown).
  if (staff) params.scope = 'platform';
  function row(a) {
    const who = a.actor_email || (a.actor_role === 'service' ? 'service token' : (a.actor_id ? a.actor_id : 'nobody (not signed in)'));
    return h('tr', {},
      h('td', { 'data-label': 'When' }, h('time', { datetime: a.created_at }, when(a.created_at))),
      h('td', { 'data-label': 'Who' }, a.actor_id ? link('actor_id', a.actor_id, who) : who,
        a.actor_role ? h('span.badge', {}, a.actor_role) : null),
      h('td', { 'data-label': 'Action' }, link('action', a.action, a.action)),
      h('td', { 'data-label': 'On what' }, a.target_id
        ? [a.target_type ? a.target_type + ' ' : '', link('target_id', a.target_id, h('code', {}, a.target_id))]
        : (a.target_type || '—')),
      h('td', { 'data-label': 'From' }, a.remote_addr || '—'),
      h('td.details', { 'data-label': 'Details' }, details(a.details)));
  }
  const list = pagedList(ctx, view, {
    pages: pager('audit', params, 50, opts),
    row,
    empty: () => (KEYS.some((k) => f[k]) ? 'No entry matches these filters.' : 'The audit log is empty.'),
  });
  await list.load();
}
