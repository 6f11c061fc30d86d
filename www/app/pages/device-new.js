// device-new.js: #/devices/new. Register a device by name (POST /devices); the reply's
// secret is shown once, with the commands that install the agent on the machine, and
// is forgotten when the page is left (nothing keeps it).
import { h, errorBox } from '../dom.js';
import { post } from '../api.js';
import { mayRegister } from '../roles.js';
import { commandBox } from '../copy.js';

export const title = 'Register a device';

const SECRET_FILE = '/etc/kaiden/device.secret';

// 'a' -> a POSIX shell single-quoted word.
function sq(s) {
  return "'" + String(s).replace(/'/g, "'\\''") + "'";
}

export function agentCommands(host, id, secret) {
  return [
    'sudo install -d -m 700 /etc/kaiden',
    `printf '%s\\n' ${sq(secret)} | sudo install -m 600 /dev/stdin ${SECRET_FILE}`,
    `sudo kaiden-agent --server ${sq('wss://' + host + '/api/v1/ws/agent')} --device-id ${sq(id)} --secret-file ${SECRET_FILE}`,
  ].join('\n');
}

function shown(ctx, d) {
  const id = d.device_id || d.id;
  const link = h('a', { href: '#/devices/' + encodeURIComponent(id), id: 'new-device-link' }, 'Open ' + d.name);
  return h('section.card', { id: 'device-secret' },
    h('h2', {}, `${d.name} is registered`),
    h('p.warning', { role: 'alert' },
      'This is the only time the device secret is shown. Copy it now: Kaiden keeps only a hash of it, ',
      'and a lost secret means registering the device again.'),
    h('dl.facts', {},
      h('dt', {}, 'Device id'), h('dd', {}, h('code', { id: 'new-device-id' }, id)),
      h('dt', {}, 'Secret'), h('dd', {}, h('code.secret', { id: 'new-device-secret' }, d.secret))),
    h('p', {}, 'On the machine, as root: write the secret to a file only root can read, then start the agent with it.'),
    commandBox('agent-commands', agentCommands(location.host, id, d.secret), 'the agent commands'),
    h('p', {}, link));
}

export async function render(ctx) {
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/devices' }, '← Devices')), h('h1', {}, 'Register a device'));
  if (!mayRegister(ctx.me)) {
    ctx.main.append(h('p.error', { role: 'alert' }, 'Your role may not register devices; ask your administrator.'));
    return;
  }
  const name = h('input', { id: 'device-name', name: 'name', required: true, maxlength: '128', autocomplete: 'off', placeholder: 'e.g. reception-pc' });
  const button = h('button', { type: 'submit', id: 'register' }, 'Register');
  const msg = h('div', { id: 'register-message', 'aria-live': 'polite' });
  const form = h('form.card.stack', {},
    h('label', { for: 'device-name' }, 'Name'), name,
    h('p.hint', {}, 'A name your team will recognise (1 to 128 characters). The machine reports its hostname and OS itself once the agent runs.'),
    msg, button);
  const out = h('div', {});
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.replaceChildren();
    const n = name.value.trim();
    if (!n) {
      msg.append(h('p.error', { role: 'alert' }, 'Give the device a name.'));
      name.focus();
      return;
    }
    button.disabled = true;
    button.textContent = 'Registering…';
    try {
      const d = await post('devices', { name: n });
      if (!ctx.current()) return;
      form.remove();
      out.replaceChildren(shown(ctx, d));
    } catch (e) {
      if (e.status === 401) { ctx.navigate('/signin'); return; }
      msg.replaceChildren(errorBox(e));
      button.disabled = false;
      button.textContent = 'Register';
    }
  });
  ctx.main.append(form, out);
  name.focus();
}
