// main.js: starts the portal: on every route, find the page (pages.js), make sure of the
// sign-in (a page not marked public sends a signed-out visitor to #/signin), draw the
// layout and let the page fill it. Then the keyboard focus goes to the new page (its
// <h1>, or <main>), unless the page put it somewhere itself (sign-in's email box) or the
// route only changed its query (a filter: the focus stays on the control that changed
// it, found again by its id), and the page's title is announced to screen readers (#announce, a live region
// outside the part that is redrawn).
import { routes, home } from './pages.js';
import { match, navigate, start } from './router.js';
import { frame } from './layout.js';
import * as session from './session.js';
import { h, errorBox } from './dom.js';
import { setTenant } from './api.js';
import { closeForSignOut } from './events.js';

const root = document.getElementById('app');
const announcer = document.getElementById('announce');
let generation = 0;
let lastPath = null;

// The focus after a page has drawn itself: the control that had it before a redraw of the
// same page (keepId), else where the page put it, else the page's heading, else <main>.
function settleFocus(main, keepId) {
  const kept = keepId ? document.getElementById(keepId) : null;
  if (kept && main.contains(kept)) {
    kept.focus();
    return;
  }
  const active = document.activeElement;
  if (active && active !== main && main.contains(active)) return;
  const heading = main.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  } else {
    main.focus();
  }
}

function announce() {
  if (!announcer) return;
  const text = document.title.replace(/ · Kaiden$/, '');
  announcer.textContent = '';
  setTimeout(() => { announcer.textContent = text; }, 50); // a change, even to the same text
}

const allNav = Object.entries(routes).filter(([, page]) => page.nav);
// The menu a caller sees: a page exporting navIf(me) is listed only when it says yes.
const navFor = (me) => allNav.filter(([, page]) => !me || !page.navIf || page.navIf(me))
  .map(([path, page]) => [path, page.nav]);
const nav = navFor(null);

async function signOut() {
  closeForSignOut();
  try {
    await session.signOut();
  } catch (e) {
    // Signed out locally either way; the server's answer changes nothing here.
  }
  setTenant(null); // the tenant staff chose is forgotten with the sign-in
  navigate('/signin');
}

async function onRoute(hash) {
  const gen = ++generation;
  const m = match(routes, hash);
  if (!m.page) {
    navigate(m.path === '/' ? home : home);
    return;
  }
  let me = null;
  try {
    me = await session.load();
  } catch (e) {
    if (gen !== generation) return;
    frame(root, { me: null, nav, active: null, onSignOut: signOut }).append(errorBox(e));
    return;
  }
  if (gen !== generation) return;
  if (!me && !m.page.public) {
    navigate('/signin' + (m.path !== home ? '?next=' + encodeURIComponent(m.path) : ''));
    return;
  }
  if (me && m.pattern === '/signin') {
    navigate(home);
    return;
  }
  const menu = navFor(me);
  const active = menu.find(([p]) => m.path === p || m.path.startsWith(p + '/'));
  const focused = document.activeElement;
  const keepId = m.path === lastPath && focused && focused.id && root.contains(focused)
    ? focused.id : null;
  lastPath = m.path;
  const main = frame(root, { me, nav: menu, active: active ? active[0] : null, onSignOut: signOut });
  if (!keepId) main.focus({ preventScroll: true }); // not left on a link that is gone
  const title = typeof m.page.title === 'function' ? m.page.title(m.params) : m.page.title;
  document.title = title ? `${title} · Kaiden` : 'Kaiden';
  const ctx = {
    params: m.params, query: m.query, main, me, navigate,
    current: () => gen === generation,
  };
  try {
    await m.page.render(ctx);
  } catch (e) {
    if (!ctx.current()) return;
    if (e && e.status === 401) {
      session.forget();
      navigate('/signin');
      return;
    }
    main.append(errorBox(e));
  }
  if (!ctx.current()) return;
  settleFocus(main, keepId);
  announce();
}

start(onRoute);
export { h };
