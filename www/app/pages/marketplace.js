// marketplace.js: #/services/marketplace. The applications of the catalog (GET /catalog:
// icon, name, description, tags, price, category) as cards, with a category filter and a
// search kept in the URL (?category=..&q=..); "Launch" on each opens its configuration
// (#/services/new/<slug>) for those who may launch services. One request: the catalog is
// answered whole (a curated list), so the cards are drawn as soon as it arrives (seed
// NFR-1: under 500 ms; the page marks performance 'kaiden:marketplace' when they are).
import { h, errorBox } from '../dom.js';
import { get, query } from '../api.js';
import { filterForm, filterField } from '../list.js';
import { mayReadServices, mayManageServices } from '../roles.js';
import { CATEGORIES, appIcon, noteCatalog } from '../services.js';

export const title = 'Marketplace';

export async function render(ctx) {
  const category = CATEGORIES.includes(ctx.query.category) ? ctx.query.category : '';
  const q = (ctx.query.q || '').slice(0, 100);
  const may = mayManageServices(ctx.me);
  const select = h('select', { id: 'market-category', name: 'category' },
    h('option', { value: '' }, 'All categories'),
    CATEGORIES.map((c) => h('option', { value: c, selected: c === category }, c)));
  const search = h('input', { id: 'market-q', type: 'search', name: 'q', value: q, placeholder: 'Name, description or tag', maxlength: '100' });
  const filtered = !!(category || q);
  const form = filterForm(ctx, '/services/marketplace', {
    fields: [filterField('market-category', 'Category', select), filterField('market-q', 'Search', search, true)],
    params: () => ({ category: select.value, q: search.value.trim() }),
    auto: [select],
    applyId: 'market-apply',
    after: filtered ? h('a', { href: '#/services/marketplace', id: 'market-clear' }, 'Clear filters') : null,
  });
  const grid = h('ul.app-grid', { id: 'apps', 'aria-label': 'Applications', hidden: true });
  const state = h('p.state', { id: 'apps-state', 'aria-live': 'polite' }, 'Loading the applications…');
  ctx.main.append(
    h('p.crumbs', {}, h('a', { href: '#/services' }, '← Services')),
    h('div.titlebar', {}, h('h1', {}, 'Marketplace')),
    h('p.hint', {}, may
      ? 'Pick an application, choose a few settings, and Kaiden runs it for your organisation on its own address.'
      : 'The applications your organisation can run. Your administrator launches them.'),
    form, state, grid);
  if (!mayReadServices(ctx.me)) return;

  let reply;
  try {
    reply = await get('catalog' + query({ category, q }));
  } catch (e) {
    if (e.status === 401) throw e;
    if (ctx.current()) state.replaceChildren(errorBox(e));
    return;
  }
  if (!ctx.current()) return;
  noteCatalog(reply);
  const items = reply.items || [];
  grid.replaceChildren(...items.map((t) => card(t, may)));
  grid.hidden = items.length === 0;
  if (items.length) {
    state.textContent = items.length === 1 ? '1 application.' : `${items.length} applications.`;
    state.classList.add('sr');
  } else {
    state.replaceChildren(filtered
      ? h('span', {}, 'No application matches this search. ', h('a', { href: '#/services/marketplace' }, 'Show them all'), '.')
      : 'The catalog is empty: the platform has not published any application yet.');
  }
  try {
    performance.mark('kaiden:marketplace');
  } catch (e) {
    // marks are a measure, never a failure
  }
}

function card(t, may) {
  const headId = 'app-' + t.slug;
  return h('li.card.app-card', { 'data-slug': t.slug, 'aria-labelledby': headId },
    h('div.app-head', {}, appIcon(t),
      h('div.app-title', {}, h('h2', { id: headId }, t.name),
        h('span.badge.app-category', {}, t.category)),
      t.enabled === false ? h('span.badge.status-disabled', { title: 'Hidden from tenants' }, 'disabled') : null),
    h('p.app-desc', {}, t.description),
    (t.tags || []).length ? h('ul.tags', { 'aria-label': 'Tags' }, t.tags.map((g) => h('li.tag', {}, g))) : null,
    h('div.app-foot', {},
      h('span.app-price', {}, h('span.sr', {}, 'Price: '), t.price_label || '—'),
      may && t.enabled !== false
        ? h('a.button', { href: '#/services/new/' + encodeURIComponent(t.slug), id: 'launch-' + t.slug, 'aria-label': 'Launch ' + t.name }, 'Launch')
        : null));
}
