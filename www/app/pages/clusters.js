// clusters.js: #/clusters. The tenant's Kubernetes clusters (GET /clusters: name,
// status, node count, created), newest first, with a name search kept in the URL
// (#/clusters?q=..) and "More"; "Enrol a cluster" for those who may (#/clusters/new).
import { h, ago, when, statusBadge, plural } from '../dom.js';
import { filterForm, filterField, listTable, pagedList } from '../list.js';
import { pager } from '../api.js';
import { mayReadClusters, mayManageClusters } from '../roles.js';

export const title = 'Clusters';
export const nav = 'Clusters';
export const navIf = mayReadClusters;

export async function render(ctx) {
  const q = ctx.query.q || '';
  const search = h('input', { id: 'cluster-q', type: 'search', name: 'q', value: q, placeholder: 'Name' });
  const form = filterForm(ctx, '/clusters', {
    fields: [filterField('cluster-q', 'Search', search, true)],
    params: () => ({ q: search.value.trim() }),
  });
  const view = listTable({ id: 'clusters', caption: 'Clusters', columns: ['Name', 'Status', 'Nodes', 'Created'],
    stateId: 'clusters-state', moreId: 'clusters-more', loading: 'Loading clusters…' });
  ctx.main.append(h('div.titlebar', {}, h('h1', {}, 'Clusters'),
    mayManageClusters(ctx.me) ? h('a.button', { href: '#/clusters/new', id: 'cluster-new' }, 'New cluster') : null),
  h('p.hint', {}, 'A Kubernetes cluster runs the Kaiden agent on each node; each node is then a machine a session can reach.'),
  form, view.table, view.state, view.more);

  const row = (c) => h('tr', { 'data-id': c.id, 'data-name': c.name },
    h('td', { 'data-label': 'Name' }, h('a', { href: '#/clusters/' + encodeURIComponent(c.id) }, c.name)),
    h('td', { 'data-label': 'Status' }, statusBadge(c.status)),
    h('td', { 'data-label': 'Nodes' }, plural(c.node_count || 0, 'node')),
    h('td', { 'data-label': 'Created', title: when(c.created_at) }, ago(c.created_at)));
  const list = pagedList(ctx, view, {
    pages: pager('clusters', { q }),
    row,
    empty: () => (q ? 'No cluster matches this search.'
      : 'No clusters yet.' + (mayManageClusters(ctx.me) ? ' Enrol one with New cluster.' : '')),
  });
  await list.load();
}
