// events.js: live updates. One WebSocket per page to helperd's event stream
// (/api/v1/ws/events, authenticated by the login cookie; docs/api.md "Live events"),
// shared by every watcher, opened when the first watcher comes and closed when the last
// one goes.
//
//   const stop = watch('devices', onChange, { fallbackMs: 10000 });
//   const stop = watch('session:' + id, onChange, { fallbackMs: 2000 });
//   const stop = watch(['devices', 'nodes'], onChange);   (either topic's events)
//
// onChange(event) gets each event of the topic: 'devices' is every device event of the
// tenant ({type:'device', id, status, last_seen}), 'nodes' every node event (a node's
// agent reported a reading: {type:'node', id, node_name, node_status, unschedulable,
// node_reason}), 'session:ID' that session's events ({type:'session', id, device_id,
// status, step}), 'sessions' every session event of the tenant, 'service:ID' and
// 'services' a service's or every service's events (issue 13: {type:'service', id,
// status, ...}, once helperd sends them). A list of topics is one
// watcher (one fallback read, not one per topic). While the stream cannot be had
// (refused, closed, helperd not running) onChange(null) is called every fallbackMs
// instead (when it returns a promise, the next call waits for it: a slow server never
// gets overlapping reads), and once when the stream comes back (events may have been
// missed; also when it first opens: what moved while it was opening is read then; and
// when a watcher joins a stream already open: what moved since its page read came before):
// null means "read it again through the API". A page that swaps its watches
// (stop, then watch again) keeps the socket: it closes a second after the last stop. The stream is reopened with a growing delay
// (1 s doubling to 30 s); not after the server said the login is over (4055), nor once
// the browser holds no login.
import { maybeSignedIn } from './api.js';
import { current as me } from './session.js';

const PROTOCOL = 'kaiden-events';
const CLOSE_REVOKED = 4055;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;
const DEFAULT_FALLBACK_MS = 10000;
const MIN_FALLBACK_MS = 250;
const LINGER_MS = 1000;

const watchers = new Set();
let socket = null;
let socketKey = '';     // what it was opened for: the tenant watched, and who asked
let open = false;       // the socket is open: events flow, no polling
let retryMs = RETRY_MIN_MS;
let retryTimer = null;
let givenUp = null;     // the key whose login is over (4055): no more attempts for it
let lingerTimer = null; // the last watcher left: the socket closes unless one comes back

function matches(topic, ev) {
  if (!ev || typeof ev !== 'object') return false;
  if (topic === 'devices') return ev.type === 'device';
  if (topic === 'nodes') return ev.type === 'node';
  if (topic === 'sessions') return ev.type === 'session';
  if (topic === 'services') return ev.type === 'service';
  if (topic.startsWith('service:')) return ev.type === 'service' && ev.id === topic.slice(8);
  if (topic.startsWith('session:')) return ev.type === 'session' && ev.id === topic.slice(8);
  return false;
}

// onChange(ev), as a promise; a watcher's failure is its own (the page shows its own
// errors) and the others still get the event.
async function call(w, ev) {
  try {
    await w.onChange(ev);
  } catch (e) {
    // nothing: see above
  }
}

// Polling stands in for the stream: each watcher's chain of timers, started or stopped.
// The next read is planned once the last one has finished.
function poll(w) {
  if (w.timer || w.busy) return;
  w.timer = setTimeout(async () => {
    w.timer = null;
    if (!watchers.has(w) || open) return;
    w.busy = true;
    await call(w, null);
    w.busy = false;
    if (watchers.has(w) && !open) poll(w);
  }, w.fallbackMs);
}

function fallback(on) {
  for (const w of watchers) {
    if (on) poll(w);
    else if (w.timer) { clearTimeout(w.timer); w.timer = null; }
  }
}

// The stream is one login's in one tenant: another sign-in on the same page (sign out,
// sign in as someone else within the linger second) must not inherit the old one's
// socket, nor its having been signed out.
function key() {
  const who = me();
  return url() + ' ' + (who ? (who.user && who.user.id) || who.role : '');
}

function url() {
  const who = me();
  const p = new URLSearchParams();
  if (who && who.acting_tenant_id) p.set('tenant', who.acting_tenant_id);
  const q = p.toString();
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
    '/api/v1/ws/events' + (q ? '?' + q : '');
}

// Whether asking for the stream can succeed at all: a login, and for staff of a
// multi-tenant server a tenant to watch (without one the server would refuse).
function possible() {
  if (givenUp === key() || !maybeSignedIn()) return false;
  const who = me();
  return !who || !!who.acting_tenant_id || !['admin', 'engineer'].includes(who.role);
}

function connect() {
  retryTimer = null;
  if (socket || watchers.size === 0) return;
  if (!possible()) { fallback(true); return; }
  let ws;
  try {
    ws = new WebSocket(url(), PROTOCOL);
  } catch (e) {
    fallback(true);
    return;
  }
  socket = ws;
  socketKey = key();
  ws.addEventListener('open', () => {
    // Given up while it was connecting (closing it then makes chromium log an error).
    if (socket !== ws) { ws.close(1000, 'page left'); return; }
    open = true;
    showState();
    retryMs = RETRY_MIN_MS;
    fallback(false);
    // What moved while the socket was opening (or down) came before it: every watcher
    // reads once more now, then events keep it current.
    for (const w of [...watchers]) call(w, null);
  });
  ws.addEventListener('message', (m) => {
    if (socket !== ws) return;
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    for (const w of [...watchers]) if (w.topics.some((t) => matches(t, ev))) call(w, ev);
  });
  ws.addEventListener('close', (c) => {
    if (socket !== ws) return;
    socket = null;
    open = false;
    showState();
    if (c.code === CLOSE_REVOKED) givenUp = socketKey;
    if (watchers.size === 0) return;
    fallback(true);
    if (possible()) {
      retryTimer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    }
  });
}

// Closes the socket (a connecting one once it opens) and any planned reconnect.
function drop() {
  if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
  if (socket) {
    const ws = socket;
    socket = null;
    open = false;
    showState();
    // A socket still connecting is closed once it opens (its 'open' handler).
    if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'page left');
  }
  retryMs = RETRY_MIN_MS;
}

function disconnect() {
  lingerTimer = null;
  if (watchers.size === 0) drop();
}

// watch(topic or [topics], onChange, {fallbackMs}) -> stop(). See the top of this file.
export function watch(topic, onChange, opts = {}) {
  const w = {
    topics: [].concat(topic), onChange,
    fallbackMs: Math.max(MIN_FALLBACK_MS, Number(opts.fallbackMs) || DEFAULT_FALLBACK_MS),
    timer: null,
    busy: false,
  };
  watchers.add(w);
  if (lingerTimer) { clearTimeout(lingerTimer); lingerTimer = null; }
  // The socket kept from the page before watches another tenant (staff switched), or is
  // another login's: anew.
  if (socket && socketKey !== key()) drop();
  if (!socket && !retryTimer) connect();
  else if (!open) fallback(true);
  // Joining a stream already open (kept from the page before): what moved between the
  // page's first read and now came before this watcher, so it reads once more (once the
  // caller has its stop()), then events keep it current.
  else setTimeout(() => { if (watchers.has(w)) call(w, null); }, 0);
  let stopped = false;
  return function stop() {
    if (stopped) return;
    stopped = true;
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    watchers.delete(w);
    if (watchers.size === 0 && !lingerTimer) lingerTimer = setTimeout(disconnect, LINGER_MS);
  };
}

// Signing out: the stream is closed by the page first (a clean 1000), before the server
// would close it for the ended login (4055) while the page's own close is under way.
export function closeForSignOut() {
  if (lingerTimer) { clearTimeout(lingerTimer); lingerTimer = null; }
  drop();
}

// 'live' while the stream is open, else 'polling'; also kept on <html data-events=..>
// for the browser tests (and a stylesheet, should one want to show it).
export function state() {
  return open ? 'live' : 'polling';
}

function showState() {
  document.documentElement.dataset.events = state();
}
