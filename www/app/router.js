// router.js: the hash router. "#/devices/ID?status=online" -> the page registered as
// '/devices/:id' with params {id} and query {status}. match() is pure; start() calls
// onRoute on every hash change.

export function match(routes, hash) {
  const raw = (hash || '').replace(/^#/, '') || '/';
  const qi = raw.indexOf('?');
  const path = qi < 0 ? raw : raw.slice(0, qi);
  const query = Object.fromEntries(new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1)));
  const parts = path.split('/').filter(Boolean);
  for (const [pattern, page] of Object.entries(routes)) {
    const want = pattern.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < want.length && ok; i++) {
      if (want[i].startsWith(':')) params[want[i].slice(1)] = decodeURIComponent(parts[i]);
      else ok = want[i] === parts[i];
    }
    if (ok) return { pattern, page, params, query, path };
  }
  return { pattern: null, page: null, params: {}, query, path };
}

export function navigate(path) {
  if (location.hash === '#' + path) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = '#' + path;
}

export function start(onRoute) {
  window.addEventListener('hashchange', () => onRoute(location.hash));
  onRoute(location.hash);
}
