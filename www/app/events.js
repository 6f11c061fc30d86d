// events.js: live updates for a page. THIS FILE IS THE POLLING FALLBACK ONLY: the
// WebSocket event stream (helperd's /api/v1/ws/events) replaces it with the same
// interface.
//
//   const stop = watch('session:' + id, () => refetch(), { fallbackMs: 1000 });
//
// onChange is called on every event about topic, or (here, without a stream) every
// fallbackMs; when it returns a promise the next call waits for it, so a slow server
// never gets overlapping reads. stop() ends the watch (calling it twice is harmless).
// A page stops its watches when it is left (see pages/session.js).

const DEFAULT_FALLBACK_MS = 5000;

export function watch(topic, onChange, { fallbackMs = DEFAULT_FALLBACK_MS } = {}) {
  let stopped = false;
  let timer = null;
  const every = Math.max(250, Number(fallbackMs) || DEFAULT_FALLBACK_MS);

  async function fire() {
    timer = null;
    if (stopped) return;
    try {
      await onChange({ topic, fallback: true });
    } catch (e) {
      // The page shows its own errors; a failed read does not end the watch.
    }
    if (!stopped) timer = setTimeout(fire, every);
  }
  timer = setTimeout(fire, every);
  return function stop() {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
}
