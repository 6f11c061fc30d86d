// cluster.js: #/clusters/ID. One cluster: its facts; its nodes (GET
// /clusters/{id}/nodes: the node's name and device, its agent online or offline, its
// Ready condition (+ cordoned), CPU and memory allocatable of capacity, kubelet, labels
// folded, why its facts are stale) with "Start session" on each for those who may start
// sessions (enabled while its agent is online), followed live (device and node events);
// and for those who may change it: rename (PATCH), a new secret (asked first; shown
// once), delete (asked first: it ends the sessions on its nodes).
import { h, ago, when, statusBadge, errorBox, plural } from '../dom.js';
import { listTable, pagedList } from '../list.js';
import { get, patch, post, del, pager } from '../api.js';
import { mayManageClusters, mayRunSessions } from '../roles.js';
import { confirming } from '../confirm.js';
import { watch } from '../events.js';
import { nodeBadge, usage, labelList, rotatedCard, startButton } from '../clusters.js';
import { field, clearErrors, showError, signedOut } from './user-fields.js';

export const title = 'Cluster';

export async function render(ctx) {
  const path = 'clusters/' + encodeURIComponent(ctx.params.id);
  const state = h('p.state', { 'aria-live': 'polite' }, 'Loading the cluster…');
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/clusters' }, '← Clusters')), state);
  let c = await get(path);
  if (!ctx.current()) return;
  state.remove();

  const heading = h('h1', { id: 'cluster-title' });
  const facts = h('dl.facts', { id: 'cluster-facts' });
  const shown = h('div', { id: 'cluster-shown' });
  function drawFacts() {
    document.title = `${c.name} · Kaiden`;
    heading.textContent = c.name;
    facts.replaceChildren(...[
      ['Status', h('span', { id: 'cluster-status' }, statusBadge(c.status))],
      ['Nodes', h('span', { id: 'cluster-node-count' }, plural(c.node_count || 0, 'node'))],
      ['Enrolled', when(c.created_at)],
      ['Id', h('code', { id: 'cluster-id' }, c.id)],
    ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }
  drawFacts();
  const failed = (e, fields, general) => {
    if (!ctx.current()) return;
    if (e.status === 401) signedOut(ctx);
    else showError(e, fields, general);
  };

  // The nodes.
  const may = mayRunSessions(ctx.me);
  const view = listTable({ id: 'cluster-nodes', caption: 'Nodes of this cluster',
    columns: ['Node', 'Agent', 'Status', 'CPU', 'Memory', 'Kubelet', 'Labels', ...(may ? ['Session'] : [])],
    stateId: 'cluster-nodes-state', moreId: 'cluster-nodes-more', loading: 'Loading nodes…' });
  const shownIds = new Set();
  const row = (d) => {
    shownIds.add(d.id);
    const start = may ? startButton(ctx, c.id, d, 'node-start-' + d.id) : null;
    return h('tr', { 'data-id': d.id, 'data-node': d.node_name, 'data-status': d.status },
      h('td', { 'data-label': 'Node' }, h('a', { href: '#/devices/' + encodeURIComponent(d.id) }, d.node_name || d.name)),
      h('td', { 'data-label': 'Agent', title: 'Last seen ' + when(d.last_seen) }, statusBadge(d.status),
        h('span.hint.block', {}, 'seen ' + ago(d.last_seen))),
      h('td', { 'data-label': 'Status' }, nodeBadge(d),
        d.node_reason ? h('span.hint.block.error-text.node-reason', {}, d.node_reason) : null),
      h('td.node-cpu', { 'data-label': 'CPU' }, usage(d.resources, 'cpu')),
      h('td.node-memory', { 'data-label': 'Memory' }, usage(d.resources, 'memory')),
      h('td', { 'data-label': 'Kubelet' }, (d.versions && d.versions.kubelet) || '—'),
      h('td', { 'data-label': 'Labels' }, labelList(d.labels, 'node-labels-' + d.id)),
      may ? h('td', { 'data-label': 'Session' }, start.button, start.message) : null);
  };
  const nodes = pagedList(ctx, view, { pages: null, row,
    empty: () => 'No nodes yet. They appear here as the agents of the cluster connect.' });
  const refresh = h('button.secondary', { type: 'button', id: 'cluster-nodes-refresh' }, 'Refresh');
  async function readNodes() {
    shownIds.clear();
    const [fresh] = await Promise.all([get(path), nodes.reset(pager(path + '/nodes'))]);
    if (!ctx.current()) return;
    c = fresh;
    drawFacts();
  }
  refresh.addEventListener('click', () => readNodes().then(() => refresh.focus())
    .catch((e) => view.state.replaceChildren(errorBox(e))));

  ctx.main.append(heading, shown, h('section.card', {}, facts),
    h('h2', { id: 'cluster-nodes-title' }, 'Nodes'), h('p.actions.log-actions', {}, refresh),
    view.table, view.state, view.more);
  if (mayManageClusters(ctx.me)) ctx.main.append(settings(ctx, () => c, (x) => { c = x; drawFacts(); }, shown, failed, path));
  await nodes.reset(pager(path + '/nodes'));
  if (!ctx.current()) return;

  // Live: a shown node's agent coming or going (a device event) or a node's reading (a
  // node event: Ready, cordon, labels and resources, which the read brings) reads the
  // nodes and the cluster's status again; without the event stream, now and then. A node
  // event of a node not shown may be one that joined since the page was drawn (node
  // events do not name the cluster), so it reads too. An event that comes during a read
  // reads once more after it: that read may have been answered before the change.
  let reading = false;
  let again = false;
  async function reread() {
    if (reading) { again = true; return; }
    reading = true;
    try {
      do {
        again = false;
        await readNodes().catch(() => {});
      } while (again && ctx.current());
    } finally {
      reading = false;
    }
  }
  const stop = watch(['devices', 'nodes'], (ev) => {
    if (!ctx.current()) { stop(); return; }
    if (!reading && ev && ev.type === 'device' && !shownIds.has(ev.id) && ev.cluster_id !== c.id) return;
    return reread();
  }, { fallbackMs: 10000 });
  window.addEventListener('hashchange', stop, { once: true });
}

// Rename, a new secret, delete: for those who may change the cluster.
function settings(ctx, cur, set, shown, failed, path) {
  const edit = { name: field('cluster-edit-name', 'Name', h('input', { name: 'name', required: true, maxlength: '128', autocomplete: 'off', value: cur().name })) };
  const editMsg = h('div', { id: 'cluster-edit-message', 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', id: 'cluster-save' }, 'Rename');
  const editForm = h('form.card.stack', { id: 'cluster-edit' }, edit.name.el, editMsg, h('p.actions', {}, save));
  editForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(edit, editMsg);
    const name = edit.name.input.value.trim();
    if (!name) {
      showError({ field: 'name', message: 'Give the cluster a name.' }, edit, editMsg);
      return;
    }
    if (name === cur().name) {
      editMsg.replaceChildren(h('p.state', {}, 'Nothing changed.'));
      return;
    }
    save.disabled = true;
    try {
      set(await patch(path, { name }));
      if (!ctx.current()) return;
      editMsg.replaceChildren(h('p.state', {}, 'Renamed.'));
    } catch (e) {
      failed(e, edit, editMsg);
    } finally {
      save.disabled = false;
    }
  });

  const rotateMsg = h('div', { id: 'cluster-rotate-message', 'aria-live': 'polite' });
  const rotateButton = h('button.secondary', { type: 'button', id: 'cluster-rotate' }, 'New secret');
  const rotate = confirming(rotateButton, {
    question: 'Make a new secret? The old one stops working at once: the agents stay out until the cluster has the new one.',
    yes: 'Make a new secret',
    id: 'cluster-rotate',
    onYes: async () => {
      rotateMsg.replaceChildren();
      let reply;
      try {
        reply = await post(path + '/rotate-secret');
      } catch (e) {
        failed(e, {}, rotateMsg);
        return false;
      }
      if (!ctx.current()) return true;
      const card = rotatedCard(reply, () => rotateButton.focus());
      shown.replaceChildren(card);
      card.focus();
      return true;
    },
  });

  const delMsg = h('div', { id: 'cluster-delete-message', 'aria-live': 'polite' });
  const deleting = confirming(h('button.danger', { type: 'button', id: 'cluster-delete' }, 'Delete cluster'), {
    question: `Delete ${cur().name}? Its nodes leave Kaiden and the sessions running on them end.`,
    yes: 'Delete',
    id: 'cluster-delete',
    onYes: async () => {
      delMsg.replaceChildren();
      try {
        await del(path);
      } catch (e) {
        failed(e, {}, delMsg);
        return false;
      }
      if (ctx.current()) ctx.navigate('/clusters');
      return true;
    },
  });
  return h('section', {}, h('h2', {}, 'Settings'), editForm,
    h('div.card', {},
      h('p.hint', {}, 'A new secret is shown once; the old one stops working at once.'),
      h('p.actions', {}, rotate), rotateMsg,
      h('p.hint', {}, 'Deleting ends the sessions on its nodes and cannot be undone; their history stays.'),
      h('p.actions', {}, deleting), delMsg));
}
