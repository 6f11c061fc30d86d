// service.js: #/services/ID[?tab=...]. One service (seed FR-5), its head (icon, name,
// status, address with Open) above five tabs kept in the URL:
//   overview       status in words and its error, addresses with Open, pods ready of
//                  total, application and chart, Helm release, namespace, revision; a
//                  failed service says what can be done: Edit and redeploy (the
//                  configuration tab), Delete (the delete tab), and for one that ran
//                  before, a rollback (the revisions tab)
//   configuration  the template's settings form (services.js valuesForm) with the
//                  service's values; secrets only as set / not set, with Replace; Save is
//                  PATCH /services/{id} (a helm upgrade: status upgrading; deploying for
//                  a service that never ran). The storage size too while the API takes a
//                  change of it: a failed service that never ran (revision 0: no volume
//                  yet), of a template that maps storage_size
//   revisions      GET /services/{id}/revisions; Roll back to one (asked first): POST
//                  /services/{id}/rollback {revision}
//   domain         a custom domain: PUT /services/{id}/domain, the CNAME record to create
//                  as the API answers it, Verify (POST .../domain/verify), Remove (DELETE);
//                  none for a service without a web address (web false), which says so
// A service without a web address (PostgreSQL, Redis) shows, in place of its addresses,
// that it is reached inside the cluster, with its namespace and release.
//   delete         typing the service's name, then DELETE /services/{id}
// The service is read again every 5 s while an operation runs (pending, deploying,
// upgrading, rolling_back, deleting: seed NFR-1), and at once on a `service` event of
// the live stream when helperd sends them. Customers read every tab; the forms and
// buttons are for mayManageServices.
import { h, ago, when, errorBox } from '../dom.js';
import { get, patch, post, del, request } from '../api.js';
import { mayManageServices } from '../roles.js';
import { confirming } from '../confirm.js';
import { commandBox } from '../copy.js';
import { watch } from '../events.js';
import { serviceBadge, statusWords, appIcon, templateSlug, serviceUrls, valuesForm, BUSY,
  STORAGE_SIZE, STORAGE_SIZE_WRONG } from '../services.js';
import { field, signedOut } from './user-fields.js';

export const title = 'Service';

const POLL_MS = 5000;
const TABS = [
  ['overview', 'Overview'],
  ['configuration', 'Configuration'],
  ['revisions', 'Revisions'],
  ['domain', 'Domain'],
  ['delete', 'Delete'],
];

const STATUS_SENTENCE = {
  pending: 'Queued: Kaiden is about to deploy it.',
  deploying: 'Being deployed: Kaiden installed the chart and waits for its pods to be ready.',
  running: 'Running: every pod is ready.',
  failed: 'Failed: Kaiden could not bring it up; the reason is at the top of this page.',
  upgrading: 'Being updated with the new settings.',
  rolling_back: 'Being rolled back to an earlier revision.',
  deleting: 'Being deleted: the application is being uninstalled.',
  deleted: 'Deleted: the application was uninstalled. Its record stays as history.',
};

export async function render(ctx) {
  const id = ctx.params.id;
  const path = 'services/' + encodeURIComponent(id);
  const may = mayManageServices(ctx.me);
  const tab = TABS.some(([t]) => t === ctx.query.tab) ? ctx.query.tab : 'overview';
  const state = h('p.state', { 'aria-live': 'polite' }, 'Loading the service…');
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/services' }, '← Services')), state);
  let s = await get(path);
  if (!ctx.current()) return;
  state.remove();
  let template = null;
  const slug = templateSlug(s);
  try {
    template = await get('catalog/' + encodeURIComponent(slug));
  } catch (e) {
    if (e.status === 401) throw e;
    template = { slug, name: slug, values_schema: null, unavailable: e.message };
  }
  if (!ctx.current()) return;

  // The head: always there, redrawn at each read.
  const heading = h('h1', { id: 'service-title' });
  const badge = h('span', { id: 'service-status' });
  const headUrl = h('span', { id: 'service-head-url' });
  const live = h('p.sr', { id: 'service-live', 'aria-live': 'polite' });
  const head = h('div.service-head', {}, appIcon(template, 'app-icon big'),
    h('div.service-head-text', {}, heading, h('p.service-head-line', {}, badge, ' ', headUrl)));
  const body = h('div', { id: 'service-tab', role: 'region', 'aria-label': TABS.find(([t]) => t === tab)[1] });
  const tabs = h('nav.tabs', { 'aria-label': 'Service' }, TABS.filter(([t]) => t !== 'delete' || may).map(([t, label]) =>
    h('a', { href: '#/services/' + encodeURIComponent(id) + (t === 'overview' ? '' : '?tab=' + t), id: 'service-tab-' + t,
      'aria-current': t === tab ? 'page' : null }, label)));
  ctx.main.append(head, live, tabs, body);

  let lastStatus = null;
  const listeners = []; // each tab's redraw on a new reading
  function drawHead() {
    document.title = `${s.name} · Kaiden`;
    heading.textContent = s.name;
    badge.replaceChildren(serviceBadge(s.status));
    const urls = s.status === 'deleted' ? [] : serviceUrls(s);
    headUrl.replaceChildren(...(urls.length ? [h('a', { href: urls[0], target: '_blank', rel: 'noopener noreferrer' }, urls[0].replace(/^https:\/\//, ''))] : []));
    if (lastStatus !== null && lastStatus !== s.status) live.textContent = `${s.name}: ${statusWords(s.status)}.`;
    lastStatus = s.status;
    for (const f of listeners) f();
  }
  const set = (fresh) => {
    if (fresh) s = fresh;
    drawHead();
    follow();
  };
  const tabHref = (t) => '#/services/' + encodeURIComponent(id) + (t === 'overview' ? '' : '?tab=' + t);
  const env = { ctx, path, may, get s() { return s; }, set, template, tabHref, onRead: (f) => listeners.push(f) };
  ({ overview, configuration, revisions, domain: domainTab, delete: deleteTab })[tab](env, body);
  drawHead();

  // Following: a read every 5 s while busy (a setTimeout chain, stopped when the page is
  // left); a service event reads at once.
  let timer = null;
  let reading = false;
  async function reread() {
    if (reading || !ctx.current()) return;
    reading = true;
    try {
      const fresh = await get(path);
      if (!ctx.current()) return;
      s = fresh;
      drawHead();
    } catch (e) {
      if (e.status === 401 && ctx.current()) { signedOut(ctx); return; }
    } finally {
      reading = false;
    }
    follow();
  }
  function follow() {
    clearTimeout(timer);
    timer = null;
    if (ctx.current() && BUSY.includes(s.status)) timer = setTimeout(reread, POLL_MS);
  }
  follow();
  const stop = watch('service:' + id, (ev) => {
    if (!ctx.current()) { stop(); return; }
    if (ev) return reread();
  }, { fallbackMs: 60000 });
  window.addEventListener('hashchange', () => { stop(); clearTimeout(timer); }, { once: true });
}

function failed(ctx, e, where) {
  if (!ctx.current()) return;
  if (e.status === 401) signedOut(ctx);
  else where.replaceChildren(errorBox(e));
}

function facts(rows) {
  return rows.filter(Boolean).flatMap(([k, v, id]) => [h('dt', {}, k), h('dd', { id }, v)]);
}

// ---- Overview ------------------------------------------------------------------------
function overview(env, body) {
  const dl = h('dl.facts', { id: 'service-facts' });
  const error = h('div', { id: 'service-error-box' });
  const urls = h('div', { id: 'service-urls' });
  body.append(h('h2.sr', {}, 'Overview'), error, h('section.card', { 'aria-label': 'Addresses' }, h('h3', {}, 'Addresses'), urls),
    h('section.card', { 'aria-label': 'Facts' }, dl));
  env.onRead(() => {
    const s = env.s;
    const list = s.status === 'deleted' ? [] : serviceUrls(s);
    urls.replaceChildren(list.length
      ? h('ul.url-list', {}, list.map((u, i) => h('li', {},
        h('a', { href: u, target: '_blank', rel: 'noopener noreferrer', id: 'service-url-' + i }, u),
        s.status === 'running' ? [' ', h('a.button.small', { href: u, target: '_blank', rel: 'noopener noreferrer', id: 'service-open-' + i, 'aria-label': 'Open ' + u }, 'Open')] : null)))
      : s.status === 'deleted' ? h('p.hint', {}, 'None: the service is deleted.')
        : h('p', { id: 'service-no-web' }, `${env.template.name || templateSlug(s)} has no web address: your other services reach it inside the cluster, in the namespace `,
          h('code', {}, s.namespace || '—'), ' (its Helm release ', h('code', {}, s.helm_release || '—'), ').'));
    if (list.length && s.status !== 'running') urls.append(h('p.hint', {}, 'The address answers once the service is running.'));
    error.replaceChildren(s.error && s.status !== 'running'
      ? h('div.error', { role: 'alert', id: 'service-error' }, h('strong', {}, s.status === 'failed' ? 'What went wrong: ' : 'Latest problem: '), s.error)
      : '', s.status === 'failed' ? failedHelp(env) : '');
    const pods = s.pods_total ? `${s.pods_ready || 0} of ${s.pods_total} ready` : (s.status === 'deleted' ? '—' : 'none yet');
    dl.replaceChildren(...facts([
      ['Status', STATUS_SENTENCE[s.status] || statusWords(s.status), 'service-fact-status'],
      ['Pods', pods, 'service-pods'],
      ['Application', `${env.template.name || templateSlug(s)}, chart ${s.chart_version || env.template.chart_version || '—'}`, 'service-app'],
      ['Helm release', h('code', {}, s.helm_release || '—'), 'service-release'],
      ['Namespace', h('code', {}, s.namespace || '—'), 'service-namespace'],
      ['Revision', s.revision ? String(s.revision) : 'none yet', 'service-revision'],
      ['Reference id', h('code', {}, s.reference_id), 'service-ref'],
      s.storage_size ? ['Storage', s.storage_size, 'service-storage'] : null,
      s.custom_domain ? ['Custom domain', `${s.custom_domain} (${s.domain_status === 'verified' ? 'verified' : 'not verified'})`, 'service-custom'] : null,
      ['Created', h('span', { title: when(s.created_at) }, ago(s.created_at))],
      ['Deployed', s.deployed_at ? h('span', { title: when(s.deployed_at) }, ago(s.deployed_at)) : 'not yet'],
      ['Changed', h('span', { title: when(s.updated_at) }, ago(s.updated_at))],
    ]));
  });
}

// What can be done about a failed service, with the way to each (a link to its tab).
function failedHelp(env) {
  const s = env.s;
  if (!env.may) {
    return h('p.hint', { id: 'service-failed-help' }, 'Your administrator can change its settings and deploy it again, or delete it.');
  }
  const never = !s.revision;
  return h('section.card', { id: 'service-failed-help', 'aria-labelledby': 'service-failed-h' },
    h('h3', { id: 'service-failed-h' }, 'What you can do'),
    h('p', {}, never
      ? 'It never ran. Change its settings (its storage size too, while it has never run) and deploy it again, or delete it.'
      : 'Change its settings and deploy it again, roll it back to a revision that worked, or delete it.'),
    h('p.actions', {},
      h('a.button', { href: env.tabHref('configuration'), id: 'service-redeploy' }, 'Edit and redeploy'),
      never ? null : h('a.button.secondary', { href: env.tabHref('revisions'), id: 'service-failed-rollback' }, 'Roll back'),
      h('a.button.secondary', { href: env.tabHref('delete'), id: 'service-failed-delete' }, 'Delete')));
}

// ---- Configuration -------------------------------------------------------------------
// {"auth.password": "set"}: the API's secret_names (the paths that are set), or secrets.
function secretStates(s) {
  if (s.secrets && typeof s.secrets === 'object') return s.secrets;
  return Object.fromEntries((s.secret_names || []).map((p) => [p, 'set']));
}

// The API takes a new storage size only from a service that never ran (no volume yet)
// and may change (failed: a running one has a revision).
function storageEditable(env) {
  const s = env.s;
  return env.may && !s.revision && s.status === 'failed' && !!(env.template.inputs && env.template.inputs.storage_size);
}

function configuration(env, body) {
  const { ctx, path, may, template } = env;
  body.append(h('h2', {}, 'Configuration'));
  if (!template.values_schema) {
    body.append(h('p.error', { role: 'alert' }, 'The application’s settings cannot be read: ' + (template.unavailable || 'unknown')));
    return;
  }
  const holder = h('div', {});
  const storageHolder = h('div', {});
  const general = h('div', { id: 'service-config-message', 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', id: 'service-save' }, 'Save and update');
  const note = h('p.hint', { id: 'service-config-note' });
  const form = h('form.card.stack', { id: 'service-config', novalidate: true }, storageHolder, holder, general, note,
    may ? h('p.actions', {}, save) : null);
  const intro = h('p.hint', {});
  body.append(intro, form);
  let settings = null;
  let storage = null; // field() of the storage size, while the API takes a change of it
  let drawnFor = null;
  const draw = () => {
    const s = env.s;
    settings = valuesForm(template.values_schema, { prefix: 'svc-c', values: s.values || {}, secrets: secretStates(s),
      edit: true, readOnly: !may || s.status === 'deleted' });
    holder.replaceChildren(settings.el);
    storage = storageEditable(env)
      ? field('service-config-storage', 'Storage size', h('input', { name: 'storage_size', maxlength: '16', autocomplete: 'off',
        spellcheck: 'false', placeholder: 'default', value: s.storage_size || '' }),
      'The volume’s size, such as 10Gi (Mi, Gi or Ti; at least 1Gi). Empty: the application’s default. It can change only until the service has run.')
      : null;
    storageHolder.replaceChildren(storage ? storage.el : '');
    drawnFor = `${s.revision}/${!!storage}`;
  };
  draw();
  env.onRead(() => {
    const s = env.s;
    const busy = BUSY.includes(s.status);
    const never = !s.revision;
    intro.textContent = !may ? 'The settings this service runs with. Your role may read them, not change them.'
      : s.status === 'deleted' ? 'The settings it had when it was deleted.'
      : never ? 'It has not run yet: saving deploys it with these settings. Secret values are never shown; Replace one to set a new value.'
        : 'Saving runs a Helm upgrade with these settings: a new revision. Secret values are never shown; Replace one to set a new value.';
    save.textContent = never ? 'Save and deploy' : 'Save and update';
    save.disabled = busy || s.status === 'deleted';
    note.textContent = busy ? `${statusWords(s.status)}: the settings can be changed again when this is done.`
      : s.status === 'deleted' ? 'The service is deleted.' : '';
    // A rollback (or a change elsewhere) brought other values, or the storage size became
    // editable or not: show them, unless the user is typing (focus inside the form).
    if (`${s.revision}/${storageEditable(env)}` !== drawnFor && !form.contains(document.activeElement)) draw();
  });
  const sayStorage = (message) => {
    storage.error.textContent = message;
    storage.error.hidden = false;
    storage.input.setAttribute('aria-invalid', 'true');
    storage.input.focus();
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    general.replaceChildren();
    const body = {};
    if (storage) {
      storage.error.hidden = true;
      storage.input.removeAttribute('aria-invalid');
    }
    const v = settings.collect();
    const size = storage ? storage.input.value.trim() : '';
    const badSize = storage && size && !STORAGE_SIZE.test(size);
    if (!v.ok || badSize) {
      general.replaceChildren(h('p.error', { role: 'alert' }, 'Some fields need a change: see the messages beside them.'));
      if (badSize) sayStorage(STORAGE_SIZE_WRONG);
      else settings.focusFirstError();
      return;
    }
    body.values = v.values;
    // Only a change (the API takes the same size as none; null: the default again).
    if (storage && size !== (env.s.storage_size || '')) body.storage_size = size || null;
    save.disabled = true;
    try {
      const fresh = await patch(path, body);
      if (!ctx.current()) return;
      general.replaceChildren(h('p.notice.ok', { id: 'service-saved' }, env.s.revision
        ? 'Saved: the service is being updated with these settings.' : 'Saved: the service is being deployed with these settings.'));
      env.set(fresh && fresh.id ? fresh : { ...env.s, status: env.s.revision ? 'upgrading' : 'deploying' });
      draw();
    } catch (e) {
      save.disabled = false;
      if (!ctx.current()) return;
      if (e.status === 401) { signedOut(ctx); return; }
      if (storage && e.field === 'storage_size') sayStorage(String(e.message || '').replace(/^storage_size: /, ''));
      else if (!settings.showError(e)) general.replaceChildren(errorBox(e));
    }
  });
}

// ---- Revisions -----------------------------------------------------------------------
function revisions(env, body) {
  const { ctx, path, may } = env;
  const msg = h('div', { id: 'service-rollback-message', 'aria-live': 'polite' });
  const tbody = h('tbody', {});
  const table = h('table.list', { id: 'service-revisions', hidden: true },
    h('caption.sr', {}, 'Revisions'),
    h('thead', {}, h('tr', {}, ['Revision', 'Status', 'Chart', 'Description', 'When', ...(may ? [''] : [])]
      .map((c) => h('th', { scope: 'col' }, c || h('span.sr', {}, 'Roll back'))))),
    tbody);
  const state = h('p.state', { id: 'service-revisions-state', 'aria-live': 'polite' }, 'Loading revisions…');
  body.append(h('h2', {}, 'Revisions'),
    h('p.hint', {}, 'Each deployment, update and rollback is a revision of the Helm release. Rolling back deploys an earlier revision’s settings again, as a new revision.'),
    msg, table, state);
  let shownFor = null;
  async function load() {
    let reply;
    try {
      reply = await get(path + '/revisions');
    } catch (e) {
      failed(ctx, e, state);
      return;
    }
    if (!ctx.current()) return;
    const items = (reply.items || []).slice().sort((a, b) => b.revision - a.revision);
    const s = env.s;
    const canRoll = may && ['running', 'failed'].includes(s.status);
    tbody.replaceChildren(...items.map((r) => {
      const current = r.revision === s.revision;
      let cell = null;
      if (may) {
        cell = h('td.row-actions', { 'data-label': '' });
        if (current) cell.append(h('span.badge.svc-ok', {}, 'current'));
        else if (canRoll) {
          const b = h('button.secondary', { type: 'button', id: 'rollback-' + r.revision }, 'Roll back to ' + r.revision);
          cell.append(confirming(b, {
            question: `Roll ${s.name} back to revision ${r.revision}? Its settings of then are deployed again, as a new revision.`,
            yes: 'Roll back',
            id: 'rollback-' + r.revision,
            onYes: async () => {
              msg.replaceChildren();
              try {
                const fresh = await post(path + '/rollback', { revision: r.revision });
                if (!ctx.current()) return true;
                msg.replaceChildren(h('p.notice.ok', { id: 'service-rolled' }, `Rolling back to revision ${r.revision}.`));
                env.set(fresh || { ...env.s, status: 'rolling_back' });
              } catch (e) {
                failed(ctx, e, msg);
                return false;
              }
              return true;
            },
          }));
        }
      }
      return h('tr', { 'data-revision': r.revision, class: current ? 'current' : null },
        h('td', { 'data-label': 'Revision' }, String(r.revision), current && !may ? h('span.hint', {}, ' (current)') : null),
        h('td', { 'data-label': 'Status' }, r.status || '—'),
        h('td', { 'data-label': 'Chart' }, r.chart_version || '—', r.app_version ? h('span.hint.block', {}, 'app ' + r.app_version) : null),
        h('td', { 'data-label': 'Description' }, r.description || '—'),
        h('td', { 'data-label': 'When', title: when(r.updated) }, r.updated ? ago(r.updated) : '—'),
        cell);
    }));
    table.hidden = items.length === 0;
    state.hidden = items.length !== 0;
    if (!items.length) state.textContent = 'No revisions yet: the first appears once the service is deployed.';
    shownFor = `${s.revision}/${s.status}`;
  }
  load();
  env.onRead(() => {
    if (shownFor !== null && shownFor !== `${env.s.revision}/${env.s.status}`) load();
  });
}

// ---- Domain --------------------------------------------------------------------------
function domainTab(env, body) {
  const { ctx, path, may } = env;
  const current = h('div', { id: 'service-domain-current' });
  const record = h('div', { id: 'service-domain-record' });
  const msg = h('div', { id: 'service-domain-message', 'aria-live': 'polite' });
  const input = h('input', { id: 'service-domain-input', name: 'domain', autocomplete: 'off', spellcheck: 'false',
    maxlength: '253', placeholder: 'shop.example.com', 'aria-describedby': 'service-domain-hint service-domain-error' });
  const fieldError = h('p.error.field-error', { id: 'service-domain-error', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', id: 'service-domain-save' }, 'Use this domain');
  const form = h('form.card.stack', { id: 'service-domain-form', novalidate: true },
    h('div.form-field', {}, h('label', { for: 'service-domain-input', id: 'service-domain-label' }, 'Custom domain'), input,
      h('p.hint', { id: 'service-domain-hint' }, 'A name of your own, such as shop.example.com. You then create a CNAME record at your DNS provider.'),
      fieldError),
    h('p.actions', {}, save));
  body.append(h('h2', {}, 'Custom domain'), current, record, msg);
  if (may && env.s.web !== false) body.append(form);
  // What to create, as the API says it (the service's domain member).
  const recordOf = (s) => (s.domain && s.domain.record) || null;
  const targetOf = (s) => (s.domain && s.domain.cname_target) || null;

  function draw() {
    const s = env.s;
    const lab = form.querySelector('#service-domain-label');
    if (lab) lab.textContent = s.custom_domain ? 'Use another domain instead' : 'Custom domain';
    if (!s.custom_domain && s.web === false) {
      current.replaceChildren(h('p', { id: 'service-domain-none' }, `${env.template.name || templateSlug(s)} has no web address, so there is nothing for a custom domain to serve: it is reached inside the cluster, in the namespace `,
        h('code', {}, s.namespace || '—'), '.'));
      record.replaceChildren();
      return;
    }
    if (!s.custom_domain) {
      current.replaceChildren(h('p', {}, 'No custom domain. ', may ? 'Add one below.' : ''));
      record.replaceChildren();
      return;
    }
    const verified = s.domain_status === 'verified';
    const verify = h('button.secondary', { type: 'button', id: 'service-domain-verify' }, 'Verify now');
    verify.addEventListener('click', async () => {
      msg.replaceChildren();
      verify.disabled = true;
      try {
        const fresh = await post(path + '/domain/verify');
        if (!ctx.current()) return;
        const st = (fresh && fresh.domain_status) || 'unverified';
        if (fresh && fresh.id) env.set(fresh);
        msg.replaceChildren(st === 'verified'
          ? h('p.notice.ok', { id: 'service-domain-result' }, `${s.custom_domain} points at this service.` +
            (fresh && fresh.status === 'upgrading' ? ' The service is being updated to answer at it too.' : ''))
          : h('p.warning', { id: 'service-domain-result' }, `${s.custom_domain} does not point at this service yet. DNS changes can take a while; try again later.`));
      } catch (e) {
        failed(ctx, e, msg);
      } finally {
        verify.disabled = false;
      }
    });
    const removeBtn = h('button.secondary', { type: 'button', id: 'service-domain-remove' }, 'Remove');
    const remove = confirming(removeBtn, {
      question: `Stop serving ${s.custom_domain}? The service is updated without it.`,
      yes: 'Remove',
      id: 'service-domain-remove',
      onYes: async () => {
        msg.replaceChildren();
        try {
          const fresh = await del(path + '/domain');
          if (!ctx.current()) return true;
          env.set(fresh && fresh.id ? fresh : { ...env.s, custom_domain: null, domain_status: 'unverified' });
          msg.replaceChildren(h('p.notice.ok', {}, 'Removed.'));
        } catch (e) {
          failed(ctx, e, msg);
          return false;
        }
        return true;
      },
    });
    current.replaceChildren(h('section.card', { 'aria-label': 'Current custom domain' },
      h('dl.facts', {}, ...facts([
        ['Domain', h('a', { href: 'https://' + s.custom_domain, target: '_blank', rel: 'noopener noreferrer' }, s.custom_domain), 'service-domain-name'],
        ['DNS', h('span.badge.' + (verified ? 'svc-ok' : 'svc-busy'), { id: 'service-domain-status' }, verified ? 'verified' : 'not verified'), null],
        ['Checked', s.domain_checked_at ? h('span', { title: when(s.domain_checked_at) }, ago(s.domain_checked_at)) : 'never', null],
      ])),
      may ? h('p.actions', {}, verify, remove) : null));
    const rec = recordOf(s);
    const target = targetOf(s);
    record.replaceChildren(h('section.card', { 'aria-labelledby': 'service-record-h' },
      h('h3', { id: 'service-record-h' }, 'The DNS record to create'),
      h('p.hint', {}, `At the DNS provider of ${s.custom_domain}, create this CNAME record, then press Verify now.`),
      rec ? commandBox('service-cname', rec, 'the DNS record')
        : h('p', {}, 'A CNAME record for ', h('code', {}, s.custom_domain), ' pointing at ', h('code', { id: 'service-cname-target' }, target || 'this service’s address'), '.')));
  }
  env.onRead(draw);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.replaceChildren();
    fieldError.hidden = true;
    input.removeAttribute('aria-invalid');
    const d = input.value.trim().toLowerCase().replace(/\.$/, '');
    const bad = (text) => {
      fieldError.textContent = text;
      fieldError.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    };
    if (!d) { bad('Type a domain name.'); return; }
    if (!/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/.test(d) || d.length > 253) {
      bad('Not a domain name: labels of letters, digits and hyphens separated by dots, such as shop.example.com.');
      return;
    }
    save.disabled = true;
    try {
      const reply = await request('PUT', path + '/domain', { domain: d });
      if (!ctx.current()) return;
      env.set(reply && reply.id ? reply : { ...env.s, custom_domain: d, domain_status: 'unverified' });
      input.value = '';
      const target = record.querySelector('#service-cname, #service-cname-target');
      if (target) target.scrollIntoView({ block: 'nearest' });
    } catch (e) {
      if (!ctx.current()) return;
      if (e.status === 401) { signedOut(ctx); return; }
      if (e.field === 'domain') bad(e.message);
      else msg.replaceChildren(errorBox(e));
    } finally {
      save.disabled = false;
    }
  });
}

// ---- Delete --------------------------------------------------------------------------
function deleteTab(env, body) {
  const { ctx, path, may } = env;
  body.append(h('h2', {}, 'Delete this service'));
  if (!may) {
    body.append(h('p.error', { role: 'alert', id: 'service-delete-refused' }, 'Your role may not delete services; ask your administrator.'));
    return;
  }
  const s0 = env.s;
  const input = h('input', { id: 'service-delete-name', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'service-delete-hint' });
  const button = h('button.danger', { type: 'submit', id: 'service-delete', disabled: true }, 'Delete ' + s0.name);
  const msg = h('div', { id: 'service-delete-message', 'aria-live': 'polite' });
  const form = h('form.card.stack.danger-zone', { id: 'service-delete-form' },
    h('p', {}, 'Deleting uninstalls the application (helm uninstall): its pods stop, and the data on its volumes is lost. This cannot be undone.'),
    h('div.form-field', {}, h('label', { for: 'service-delete-name' }, 'Type the service’s name to confirm'), input,
      h('p.hint', { id: 'service-delete-hint' }, h('span', {}, 'Its name is '), h('strong', {}, s0.name), '.')),
    msg, h('p.actions', {}, button));
  const matches = () => input.value.trim() === env.s.name;
  input.addEventListener('input', () => { button.disabled = !matches() || env.s.status === 'deleted' || env.s.status === 'deleting'; });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!matches()) return;
    button.disabled = true;
    msg.replaceChildren();
    try {
      const fresh = await del(path);
      if (!ctx.current()) return;
      env.set(fresh && fresh.id ? fresh : { ...env.s, status: 'deleting' });
      ctx.navigate('/services/' + encodeURIComponent(env.s.id));
    } catch (e) {
      button.disabled = false;
      failed(ctx, e, msg);
    }
  });
  body.append(form);
  env.onRead(() => {
    const st = env.s.status;
    if (st === 'deleted' || st === 'deleting') {
      button.disabled = true;
      msg.replaceChildren(h('p.state', {}, st === 'deleted' ? 'This service is deleted.' : 'This service is being deleted.'));
    }
  });
}

