// services.js: #/services, the tenant's services dashboard (seed FR-6.2): each service
// with its application, status, address and last change (GET /services, "More" past a
// page), read again every 5 s while one of them is being deployed, changed or deleted
// (seed NFR-1), and on each service event of the live stream. With no service yet, a first-deployment guide (FR-6.3) leads to the
// marketplace. Deleted services are not listed (their rows are history).
import { h, ago, when, errorBox } from '../dom.js';
import { get, pager } from '../api.js';
import { listTable, pagedList } from '../list.js';
import { watch } from '../events.js';
import { mayReadServices, mayManageServices } from '../roles.js';
import { serviceBadge, appIcon, templateSlug, serviceUrls, BUSY, noteCatalog } from '../services.js';

export const title = 'Services';
export const nav = 'Services';
export const navIf = mayReadServices;

const POLL_MS = 5000;

// slug -> template (name, icon) from the catalog, for the services' rows.
export async function catalogMap() {
  const map = new Map();
  try {
    const reply = await get('catalog');
    noteCatalog(reply);
    for (const t of reply.items || []) map.set(t.slug, t);
  } catch (e) {
    if (e.status === 401) throw e;
  }
  return map;
}

export function appCell(s, apps) {
  const slug = templateSlug(s);
  const t = apps.get(slug) || { name: s.template_name || slug };
  return h('span.app-cell', {}, appIcon(t, 'app-icon small'), ' ', t.name || slug || '—');
}

export async function render(ctx) {
  const may = mayManageServices(ctx.me);
  const view = listTable({ id: 'services', caption: 'Services', columns: ['Service', 'Application', 'Status', 'Address', 'Changed'],
    stateId: 'services-state', moreId: 'services-more', loading: 'Loading services…' });
  const guide = h('div', { id: 'services-guide' });
  ctx.main.append(h('div.titlebar', {}, h('h1', {}, 'Services'),
    h('a.button', { href: '#/services/marketplace', id: 'services-marketplace' }, may ? 'Launch an application' : 'Marketplace')),
  h('p.hint', {}, 'Applications Kaiden runs for your organisation: web applications each on an address of its own, databases and caches inside the cluster.'),
  guide, view.table, view.state, view.more);
  if (!mayReadServices(ctx.me)) return;

  const apps = await catalogMap();
  if (!ctx.current()) return;
  let busy = false;
  const row = (s) => {
    if (BUSY.includes(s.status)) busy = true;
    const urls = s.status === 'deleted' ? [] : serviceUrls(s);
    return h('tr', { 'data-id': s.id, 'data-name': s.name, 'data-status': s.status },
      h('td', { 'data-label': 'Service' }, h('a', { href: '#/services/' + encodeURIComponent(s.id) }, s.name)),
      h('td', { 'data-label': 'Application' }, appCell(s, apps)),
      h('td', { 'data-label': 'Status' }, serviceBadge(s.status),
        s.status === 'failed' && s.error ? h('span.hint.block.error-text', {}, s.error) : null),
      h('td.url', { 'data-label': 'Address' }, urls.length
        ? h('a', { href: urls[0], target: '_blank', rel: 'noopener noreferrer' }, urls[0].replace(/^https:\/\//, ''))
        : s.web === false && s.status !== 'deleted' ? h('span.hint', {}, 'Inside the cluster') : '—'),
      h('td', { 'data-label': 'Changed', title: when(s.updated_at) }, ago(s.updated_at)));
  };
  let none = false; // the tenant has no service: the guide instead of the list
  const list = pagedList(ctx, view, {
    pages: pager('services'),
    row,
    empty: () => {
      none = true;
      guide.replaceChildren(firstGuide(may));
      return '';
    },
  });
  await list.load();
  if (!ctx.current()) return;
  if (none) view.state.hidden = true;

  // While an operation runs on a listed service, read the first page again every 5 s;
  // a service event of the live stream (helperd's, when it sends them) reads at once.
  let timer = null;
  let reading = false;
  async function reread() {
    if (reading || !ctx.current()) return;
    reading = true;
    clearTimeout(timer);
    busy = false;
    none = false;
    try {
      await list.reset(pager('services'));
      if (!ctx.current()) return;
      if (none) view.state.hidden = true;
      else guide.replaceChildren();
    } catch (e) {
      if (ctx.current()) view.state.replaceChildren(errorBox(e));
    } finally {
      reading = false;
    }
    again();
  }
  function again() {
    clearTimeout(timer);
    if (busy && ctx.current()) timer = setTimeout(reread, POLL_MS);
  }
  again();
  const stop = watch('services', (ev) => {
    if (!ctx.current()) { stop(); return; }
    if (ev) return reread();
  }, { fallbackMs: 60000 });
  window.addEventListener('hashchange', () => { stop(); clearTimeout(timer); }, { once: true });
}

// FR-6.3: what to do when there is nothing yet.
function firstGuide(may) {
  const steps = may ? [
    ['Pick an application', 'The marketplace lists databases, caches, automation and AI tools ready to run.'],
    ['Choose its settings', 'A name, its address under your organisation, and what the application asks for (a password, a time zone).'],
    ['Launch it', 'Kaiden deploys it in your workspace and shows its progress; it is ready when its status says Running.'],
  ] : [
    ['Your organisation runs no service yet', 'Your administrator launches them from the marketplace; they will be listed here with their addresses.'],
  ];
  return h('section.card.first-guide', { id: 'services-first', 'aria-labelledby': 'services-first-h' },
    h('h2', { id: 'services-first-h' }, may ? 'Deploy your first application' : 'No services yet'),
    h('ol.guide-steps', {}, steps.map(([head, text], i) => h('li', {},
      h('span.step-mark', { 'aria-hidden': 'true' }, String(i + 1)),
      h('span', {}, h('strong', {}, head), h('span.hint.block', {}, text))))),
    h('p.actions', {}, h('a.button', { href: '#/services/marketplace', id: 'services-first-go' },
      may ? 'Open the marketplace' : 'Browse the marketplace')));
}
