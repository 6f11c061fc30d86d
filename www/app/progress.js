// progress.js: a session followed live, as the session page (#/sessions/ID) and the
// ticket page (a session started from the ticket, shown in place) both show it: its
// status and the step under way; its progress step by step (the provider's setting-up
// steps, then on ending the tear-down ones) with done / current / to-do marks, the
// elapsed time and when this page saw each step reached; on failure the step it failed
// at and why; End (for those who may); then how to connect (the relay's kaiden-connect
// commands to copy, or Cloudflare's public URL and ssh host name). It follows the session
// with events.js's watch() (every second while it moves on its own, pending or ending;
// slowly while active) and stops when the page is left or stop() is called.
//
//   const live = sessionProgress(ctx, s, {may, onDraw: (s) => .., heading: 'Progress'});
//   ctx.main.append(...live.parts);   // [progress heading, progress card, connect]
//   live.set(fresh);                  // a reply the owner got (saving notes)
//   live.session();                   // the session as last read
//   live.stop();                      // no more reads (also on leaving the page)
// The element ids are the session page's (session-status, session-step, session-steps,
// session-end, connect-ssh, ...): a page shows one session this way at a time.
import { h, statusBadge, errorBox } from './dom.js';
import { get, del } from './api.js';
import { commandBox } from './copy.js';
import { watch } from './events.js';

const LIVE = ['pending', 'active', 'ending'];
const MOVING = ['pending', 'ending'];
const MOVING_MS = 1000;
const ACTIVE_MS = 10000;

// sessions.step, in order (common/seam.h): each names the step under way. Cloudflare's
// tunnel and Access application are made together (step tunnel), then its ingress and
// DNS records together (step dns), and the agent may start the tunnel meanwhile
// (helperd/tunnel_cf.c). A row resumed by a helperd past the tunnel may say access; an
// older helperd's rows say config: SHOWN_AS draws them as the step they are part of.
const START = {
  cloudflare: ['tunnel', 'dns', 'token', 'agent', 'active'],
  relay: ['agent', 'active'],
};
const END = {
  cloudflare: ['stop', 'dns_delete', 'tunnel_delete'],
  relay: ['stop'],
};
const TEARDOWN = ['stop', 'dns_delete', 'tunnel_delete'];
const SHOWN_AS = { access: 'tunnel', config: 'dns' };

export function stepLabel(step, provider) {
  const relay = provider !== 'cloudflare';
  return {
    tunnel: 'Create the Cloudflare tunnel and its Access application',
    dns: 'Route the tunnel and publish the host names in DNS',
    token: 'Fetch the tunnel\'s token',
    agent: relay ? 'The device\'s agent connects to the relay' : 'The device\'s agent starts the tunnel',
    active: 'Active: ready to connect',
    stop: relay ? 'The device\'s agent closes the relay' : 'The device\'s agent stops the tunnel',
    dns_delete: 'Remove the DNS records',
    tunnel_delete: 'Delete the tunnel and its Access apps',
    ended: 'Ended',
    failed: 'Marked failed',
  }[step] || step;
}

const MARK = {
  done: ['✓', 'done'],
  current: ['●', 'in progress'],
  todo: ['○', 'to do'],
  failed: ['✗', 'failed here'],
  skipped: ['–', 'not reached'],
};

function duration(s) {
  s = Math.max(0, Math.floor(s));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

function startMs(s) {
  return Date.parse(s.started_at || s.created_at);
}

function elapsed(s) {
  const from = startMs(s);
  const to = s.ended_at ? Date.parse(s.ended_at) : Date.now();
  return isFinite(from) && isFinite(to) ? duration((to - from) / 1000) : '—';
}

function provider(s) {
  return s.provider === 'cloudflare' ? 'cloudflare' : 'relay';
}

// Where the session is: phase 'start' (setting up or active), 'end' (ending, ended),
// 'failing' (pending, tearing down after a failed start), 'failed'; cur = the step
// under way (null when the phase is over).
function position(s) {
  const start = START[provider(s)];
  const step = SHOWN_AS[s.step] || s.step || '';
  if (s.status === 'pending' && TEARDOWN.includes(step)) return { phase: 'failing', cur: step };
  if (s.status === 'pending') return { phase: 'start', cur: start.includes(step) ? step : start[0] };
  if (s.status === 'active') return { phase: 'start', cur: null };
  if (s.status === 'ending') return { phase: 'end', cur: TEARDOWN.includes(step) ? step : 'stop' };
  if (s.status === 'failed') return { phase: 'failed', cur: null };
  return { phase: 'end', cur: null };
}

// The marks of steps: those before cur done, cur current, those after to do; cur null:
// all done.
function marks(steps, cur) {
  const at = cur === null ? steps.length : Math.max(0, steps.indexOf(cur));
  return steps.map((step, i) => [step, i < at ? 'done' : i === at ? 'current' : 'todo']);
}


// The sentence for where the session is: the step under way, else its status.
export function currentText(s) {
  const { phase, cur } = position(s);
  if (cur) return stepLabel(cur, s.provider) + (phase === 'failing' ? ' (cleaning up after a failure)' : '');
  return { active: 'Active: ready to connect', ended: 'The session has ended.', failed: 'The session failed.' }[s.status] || s.status;
}

export function sessionProgress(ctx, first, { may, onDraw, heading = 'Progress' } = {}) {
  let s = first;
  const id = s.id;
  const elapsedEl = h('span', { id: 'session-elapsed' });
  const elapsedLine = h('span.progress-elapsed', {});
  const failure = h('div', { id: 'session-failure' });
  const steps = h('div', { id: 'session-steps' });
  const access = h('section', { id: 'session-access' });
  const msg = h('div', { id: 'session-message', 'aria-live': 'polite' });
  const endButton = h('button.danger', { type: 'button', id: 'session-end' }, 'End the session');
  const statusEl = h('span', { id: 'session-status' });
  const stepEl = h('span.progress-step', { id: 'session-step' });
  const progressTitle = h('h2', { id: 'session-progress-title', tabindex: '-1' }, heading);
  const progress = h('section.card', { id: 'session-progress', 'aria-labelledby': 'session-progress-title' },
    h('p.progress-head', {}, statusEl, stepEl, elapsedLine), failure, steps,
    may ? h('p.actions', {}, endButton) : null, msg);

  // What this page saw: when each step was first seen reached (its clock, ms), and the
  // furthest setting-up step (to say where a failure or an early end came).
  const seenAt = {};
  let lastStart = null;
  function observe(opening) {
    const { phase, cur } = position(s);
    const start = START[provider(s)];
    const now = Date.now();
    const reached = [];
    if (phase === 'start') {
      const upto = cur === null ? start.length - 1 : start.indexOf(cur);
      reached.push(...start.slice(0, upto + 1));
      lastStart = start[upto];
    } else if (phase === 'end' || phase === 'failing') {
      const end = END[provider(s)];
      reached.push(...end.slice(0, cur === null ? end.length : Math.max(0, end.indexOf(cur)) + 1));
      if (cur === null) reached.push('ended');
    } else if (phase === 'failed') {
      reached.push(...END[provider(s)], 'failed');
    }
    for (const step of reached) {
      if (step in seenAt) continue;
      // Opening the page: what is already reached was reached before it, at a time the
      // page does not know; except a session not yet begun, whose first step is its
      // start.
      if (opening) seenAt[step] = !s.step && s.status === 'pending' && step === start[0] ? startMs(s) : null;
      else seenAt[step] = now;
    }
  }

  function stepItem(step, mark) {
    const [sign, word] = MARK[mark];
    const at = seenAt[step];
    const from = startMs(s);
    const time = at && isFinite(from)
      ? h('time.step-time', { datetime: new Date(at).toISOString(), title: 'Seen ' + new Date(at).toLocaleString() },
        '+' + duration((at - from) / 1000))
      : null;
    return h('li.step.step-' + mark, { 'data-step': step, 'data-mark': mark, 'aria-current': mark === 'current' ? 'step' : null },
      h('span.step-mark', { 'aria-hidden': 'true' }, sign),
      h('span.step-label', {}, stepLabel(step, s.provider)),
      h('span.sr', {}, ': ' + word),
      time);
  }

  function group(titleText, id2, items) {
    return h('div.step-group', {},
      h('h3', { id: id2 }, titleText),
      h('ol.steps', { 'aria-labelledby': id2 }, items.map(([step, mark]) => stepItem(step, mark))));
  }

  // The step a failed start failed at: as this page saw it, else what the row shows (a
  // relay session can only fail waiting for its agent; a Cloudflare one without a tunnel
  // id failed creating it); null when unknown.
  function failedAt() {
    if (lastStart && lastStart !== 'active') return lastStart;
    if (provider(s) === 'relay') return 'agent';
    if (!s.tunnel_id) return 'tunnel';
    return null;
  }

  function drawSteps() {
    const { phase, cur } = position(s);
    const start = START[provider(s)];
    const end = END[provider(s)];
    const groups = [];
    let failText = null;
    if (phase === 'start') {
      groups.push(group('Setting up', 'steps-start', marks(start, cur)));
    } else {
      const failing = phase === 'failing' || phase === 'failed';
      const stopAt = failing ? failedAt() : lastStart;
      if (stopAt) {
        const at = start.indexOf(stopAt);
        const last = stopAt === 'active' ? 'done' : failing ? 'failed' : 'skipped';
        groups.push(group('Setting up', 'steps-start', start.map((step, i) =>
          [step, i < at ? 'done' : i === at ? last : 'skipped'])));
      }
      const final = failing ? 'failed' : 'ended';
      groups.push(group(failing ? 'Cleaning up after the failure' : 'Ending', 'steps-end',
        marks([...end, final], cur === null ? null : cur)));
      if (failing) {
        const why = s.error || 'No reason was recorded.';
        failText = stopAt
          ? `It failed at “${stepLabel(stopAt, s.provider)}”: ${why}`
          : `It failed while being set up: ${why}`;
      }
    }
    failure.replaceChildren(failText ? h('p.error', { role: 'alert', id: 'session-failed-at' }, failText) : '');
    steps.replaceChildren(...groups);
    elapsedLine.replaceChildren(s.ended_at ? 'Lasted ' : 'Elapsed since the start ', elapsedEl,
      h('span.hint', {}, ' (step times: when this page saw them)'));
  }

  function drawAccess() {
    const parts = [];
    if (LIVE.includes(s.status) && s.status !== 'ending') {
      if (s.provider === 'cloudflare') {
        if (s.public_url) parts.push(h('p', {}, 'Web: ', h('a', { href: s.public_url, rel: 'noopener noreferrer', target: '_blank', id: 'session-url' }, s.public_url)));
        if (s.ssh_hostname) parts.push(h('p', {}, 'SSH host: ', h('code', { id: 'session-ssh-host' }, s.ssh_hostname)));
      } else if (s.connect) {
        parts.push(
          h('p', {}, s.connect.token),
          h('h3', {}, 'SSH to the machine'), commandBox('connect-ssh', s.connect.ssh, 'the ssh command'),
          h('h3', {}, 'Its web page on this computer'), commandBox('connect-web', s.connect.web, 'the web command'),
          h('p.hint', {}, 'Then browse to http://127.0.0.1:18080.'));
      }
      if (s.status === 'pending' && parts.length) {
        parts.unshift(h('p.hint', {}, 'These work once the session is active.'));
      }
    }
    access.replaceChildren(...(parts.length ? [h('h2', {}, 'Connect'), h('div.card', {}, parts)] : []));
  }

  function draw() {
    elapsedEl.textContent = elapsed(s);
    statusEl.replaceChildren(statusBadge(s.status));
    stepEl.textContent = currentText(s);
    endButton.hidden = !['pending', 'active'].includes(s.status);
    drawSteps();
    drawAccess();
    if (onDraw) onDraw(s);
  }

  observe(true);
  draw();

  // Following: watch() calls refetch on every event about the session, or every
  // MOVING_MS while it moves on its own (pending, ending) and ACTIVE_MS while it is
  // active when there is no event stream; nothing once it is over, stopped, or the page
  // is left.
  let stopped = false;
  let stopWatch = null;
  let watchMs = 0;
  const gone = () => stopped || !ctx.current();
  function unwatch() {
    if (stopWatch) stopWatch();
    stopWatch = null;
    watchMs = 0;
  }
  function follow() {
    const ms = gone() ? 0 : MOVING.includes(s.status) ? MOVING_MS : LIVE.includes(s.status) ? ACTIVE_MS : 0;
    if (ms === watchMs) return;
    unwatch();
    if (ms) {
      stopWatch = watch('session:' + id, refetch, { fallbackMs: ms });
      watchMs = ms;
    }
  }
  function set(fresh) {
    s = fresh;
    observe(false);
    draw();
    follow();
  }
  async function refetch() {
    if (gone()) { unwatch(); return; }
    try {
      const fresh = await get('sessions/' + encodeURIComponent(id));
      if (gone()) { unwatch(); return; }
      msg.replaceChildren();
      set(fresh);
    } catch (e) {
      if (gone()) { unwatch(); return; }
      msg.replaceChildren(errorBox(e));
      if (e.status === 401 || e.status === 403 || e.status === 404) unwatch();
    }
  }
  // Leaving the page (main.js has moved on by the time this listener runs).
  function onLeave() {
    if (ctx.current()) return;
    unwatch();
    window.removeEventListener('hashchange', onLeave);
  }
  window.addEventListener('hashchange', onLeave);
  follow();

  function tick() {
    if (gone()) return;
    if (!s.ended_at) elapsedEl.textContent = elapsed(s);
    setTimeout(tick, 1000);
  }
  setTimeout(tick, 1000);

  endButton.addEventListener('click', async () => {
    endButton.disabled = true;
    endButton.textContent = 'Ending…';
    msg.replaceChildren();
    try {
      const fresh = await del('sessions/' + encodeURIComponent(id));
      if (gone()) return;
      set(fresh);
      // The button hides itself with the focus on it: the focus goes to the progress it
      // changed, not to the page's start.
      if (endButton.hidden) progressTitle.focus();
    } catch (e) {
      msg.replaceChildren(errorBox(e));
    }
    endButton.disabled = false;
    endButton.textContent = 'End the session';
  });

  return {
    parts: [progressTitle, progress, access],
    session: () => s,
    set: (fresh) => { if (!gone()) set(fresh); },
    stop() {
      stopped = true;
      unwatch();
      window.removeEventListener('hashchange', onLeave);
    },
  };
}
