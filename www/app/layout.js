// layout.js: the frame around every page: a "Skip to main content" link (shown when it
// has the keyboard focus), a header with the product name, the menu, the signed-in user
// and a sign-out button, then the page's <main>. Signed out, only the name.
import { h } from './dom.js';
import { mayUseTokens } from './roles.js';

export function frame(root, { me, nav, active, onSignOut }) {
  const who = me ? (me.user ? me.user.email : 'service token') : null;
  const header = h('header.top', {},
    h('div.wrap.bar', {},
      h('a.brand', { href: '#/' }, 'Kaiden'),
      me ? h('nav', { 'aria-label': 'Main' },
        nav.map(([path, label]) => h('a', {
          href: '#' + path, 'aria-current': active === path ? 'page' : null,
        }, label))) : null,
      h('span.spacer', {}),
      me ? h('span.who', { title: me.role || '' }, who, me.role ? h('span.role', {}, me.role) : null) : null,
      mayUseTokens(me) ? h('a.help', {
        href: '#/tokens', id: 'nav-tokens', 'aria-current': location.hash.startsWith('#/tokens') ? 'page' : null,
      }, 'API tokens') : null,
      me ? h('button.link', { type: 'button', onclick: onSignOut, id: 'signout' }, 'Sign out') : null,
      h('a.help', { href: '/help.html' }, 'Help')));
  const main = h('main.wrap', { id: 'main', tabindex: '-1' });
  // Not a plain href="#main": the hash is the router's, and would leave the page.
  const skip = h('a.skip', {
    href: '#main',
    onclick: (ev) => { ev.preventDefault(); main.focus(); },
  }, 'Skip to main content');
  root.replaceChildren(skip, header, main);
  return main;
}
