// clusters.js: what the cluster pages and the device page share (not a page): a node's
// Ready badge, its CPU and memory in people's units, its facts as a <dl>, the card that
// shows a cluster's secret once (with the steps that enrol the cluster), and "Start
// session" on a node (POST /sessions {cluster_id, node_name}).
//   nodeBadge(device)              Ready / NotReady / Unknown (+ cordoned)
//   cpu(millicores), memory(bytes) '3.5 CPU', '7.6 GiB'
//   usage(resources, kind)         'allocatable of capacity' ('—' when unknown)
//   nodeFacts(device)              [[label, value], ...] for a node's <dl>
//   enrolCard(cluster, onDone)     the secret once: the install snippet and its steps
//   rotatedCard(cluster, onDone)   the new secret once, and how to replace it
//   startButton(ctx, cluster_id, node, id) -> {button, message}
import { h, errorBox } from './dom.js';
import { get, post } from './api.js';
import { engineerName } from './roles.js';
import { commandBox, onceCard } from './copy.js';

// The node's Ready condition; a cordoned node (unschedulable) says so beside it.
export function nodeBadge(d) {
  const s = ['Ready', 'NotReady', 'Unknown'].includes(d.node_status) ? d.node_status : 'Unknown';
  return h('span.node-status', {},
    h('span.badge.node-' + s.toLowerCase(), {}, s === 'NotReady' ? 'Not ready' : s),
    d.unschedulable ? h('span.badge.node-cordoned', { title: 'Unschedulable: no new pods are placed on it' }, 'cordoned') : null);
}

function num(v) {
  return typeof v === 'number' && isFinite(v) && v >= 0;
}

// 4000 -> '4 CPU', 3500 -> '3.5 CPU', 250 -> '250m CPU'.
export function cpu(m) {
  if (!num(m)) return '?';
  if (m < 1000) return m + 'm CPU';
  return String(Math.round(m / 100) / 10) + ' CPU';
}

// Bytes in binary units, as Kubernetes writes memory: 8589934592 -> '8 GiB'.
export function memory(b) {
  if (!num(b)) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return (i && b < 10 ? Math.round(b * 10) / 10 : Math.round(b)) + ' ' + units[i];
}

// 'allocatable of capacity' of kind 'cpu' or 'memory', from the node's resources as its
// agent reports them (cpu_capacity_m, cpu_allocatable_m in millicores; memory_capacity,
// memory_allocatable in bytes); '—' when the agent has not reported them.
export function usage(res, kind) {
  const pre = kind === 'cpu' ? 'cpu_' : 'memory_';
  const suf = kind === 'cpu' ? '_m' : '';
  const fmt = kind === 'cpu' ? cpu : memory;
  const cap = res ? res[pre + 'capacity' + suf] : undefined;
  const alloc = res ? res[pre + 'allocatable' + suf] : undefined;
  if (!num(cap) && !num(alloc)) return '—';
  if (!num(alloc)) return fmt(cap);
  if (!num(cap)) return fmt(alloc) + ' allocatable';
  return `${fmt(alloc)} of ${fmt(cap)}`;
}

// A label as text that may break after its separators ('/', '.', '=', '-') and nowhere
// else: "kubernetes.io/<wbr>arch=<wbr>amd64", not "amd6" above "4".
function breakable(text) {
  return text.split(/(?<=[/.=-])/).flatMap((part, i) => (i ? [h('wbr', {}), part] : [part]));
}

// The node's labels as a collapsible list (key=value, by key), '—' when it has none.
export function labelList(labels, id) {
  const entries = Object.entries(labels || {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (!entries.length) return '—';
  return h('details.labels', { id },
    h('summary', {}, entries.length === 1 ? '1 label' : `${entries.length} labels`),
    h('ul.labels', {}, entries.map(([k, v]) => h('li', {}, h('code', {}, breakable(v === '' ? k : `${k}=${v}`))))));
}

// A node's facts for a <dl> (the device page); the cluster's link says its name once read.
export function nodeFacts(d) {
  const v = d.versions || {};
  const link = h('a', { href: '#/clusters/' + encodeURIComponent(d.cluster_id), id: 'device-cluster' }, 'Its cluster');
  get('clusters/' + encodeURIComponent(d.cluster_id)).then((c) => { link.textContent = c.name; }, () => {});
  return [
    ['Cluster', link],
    ['Node', h('code', { id: 'device-node-name' }, d.node_name)],
    ['Node status', h('span', { id: 'device-node-status' }, nodeBadge(d))],
    d.node_reason ? ['Node facts', h('span.error-text', { id: 'device-node-reason' }, d.node_reason)] : null,
    ['CPU', usage(d.resources, 'cpu')],
    ['Memory', usage(d.resources, 'memory')],
    ['Kubelet', v.kubelet || '—'],
    ['Container runtime', v.container_runtime || '—'],
    ['OS image', v.os_image || '—'],
    ['Kernel', v.kernel || '—'],
    ['Labels', labelList(d.labels, 'device-node-labels')],
  ].filter(Boolean);
}

const AGENT_FILE = 'kaiden-agent.yaml';

// The new cluster's secret, once: the install snippet (a Secret manifest holding it),
// with the steps around it.
export function enrolCard(c, onDone) {
  return onceCard({
    id: 'cluster-secret', heading: `${c.name} is enrolled`,
    warning: 'This is the only time the cluster\'s secret is shown: it is in the manifest below. ' +
      'Copy it now: Kaiden keeps only a hash of it, and a lost secret means making a new one.',
    before: [
      h('h3', {}, '1. Install the agent'),
      h('p', {}, 'Take deploy/k8s/agent/' + AGENT_FILE + ' of your Kaiden release (a DaemonSet in the ' +
        'kaiden-system namespace, one agent per node), set KAIDEN_SERVER in its ConfigMap kaiden-agent to ',
      h('code', { id: 'cluster-agent-server' }, 'wss://' + location.host + '/api/v1/ws/agent'), ' and apply it:'),
      commandBox('cluster-agent-command', 'kubectl apply -f ' + AGENT_FILE, 'the agent\'s command'),
      h('h3', {}, '2. Give it the cluster\'s credentials'),
      h('p', {}, 'Save this as kaiden-credentials.yaml:'),
    ],
    boxId: 'cluster-install', secret: c.install, label: 'the credentials manifest',
    after: [
      h('p', {}, 'and apply it:'),
      commandBox('cluster-install-command', c.install_command, 'the apply command'),
      h('p.hint', {}, 'Each node appears below as its agent connects. Delete the file once applied.'),
    ],
    doneId: 'cluster-secret-done', onDone,
  });
}

// 'a' -> a POSIX shell single-quoted word.
function sq(s) {
  return "'" + String(s).replace(/'/g, "'\\''") + "'";
}

// A rotated secret, once, with the command that puts it into the cluster's Secret.
export function rotatedCard(c, onDone) {
  const patch = JSON.stringify({ stringData: { secret: c.secret } });
  return onceCard({
    id: 'cluster-secret', heading: 'The cluster\'s new secret',
    warning: 'This is the only time the new secret is shown. The old one no longer works: ' +
      'the agents stay out until the cluster\'s Secret holds the new one.',
    before: h('p', {}, 'Put it into the cluster\'s kaiden-credentials Secret and restart the agents:'),
    boxId: 'cluster-install',
    secret: `kubectl -n kaiden-system patch secret kaiden-credentials --type merge -p ${sq(patch)}\n` +
      'kubectl -n kaiden-system rollout restart daemonset/kaiden-agent',
    label: 'the commands with the new secret',
    doneId: 'cluster-secret-done', onDone,
  });
}

// "Start session" on a node: enabled only while its agent is online; the session's page
// once started, the server's refusal (node_offline, node_not_found) said beside it.
export function startButton(ctx, clusterId, d, id) {
  const online = d.status === 'online';
  const button = h('button', {
    type: 'button', id, disabled: !online,
    title: online ? null : 'Its agent is offline',
    'aria-label': 'Start session on ' + d.node_name,
  }, 'Start session');
  const message = h('div.node-start-message', { id: id + '-message', 'aria-live': 'polite' });
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = 'Starting…';
    message.replaceChildren();
    try {
      const s = await post('sessions', { cluster_id: clusterId, node_name: d.node_name, engineer_name: engineerName(ctx.me) });
      if (ctx.current()) ctx.navigate('/sessions/' + encodeURIComponent(s.id));
    } catch (e) {
      const said = { node_offline: 'Its agent is offline now: a session needs it connected.',
        node_not_found: 'This node is no longer in the cluster.' }[e.code];
      // The server's words under ours, without their leading field name ("node_name: ").
      const m = String(e.message);
      const rest = e.field && m.toLowerCase().startsWith(e.field.toLowerCase() + ': ') ? m.slice(e.field.length + 2) : '';
      const detail = rest ? rest[0].toUpperCase() + rest.slice(1) : m;
      message.replaceChildren(said ? h('p.error', { role: 'alert' }, said, h('span.hint.block', {}, detail)) : errorBox(e));
      button.disabled = false;
      button.textContent = 'Start session';
    }
  });
  return { button, message };
}
