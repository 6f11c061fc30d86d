// toggle.js: Disable / Enable for something whose status is active or disabled (a user, a
// webhook). It acts at once (one more click undoes it), says what changed, and keeps the
// focus on the button.
//   const t = statusToggle({ id: 'user-toggle', messageId: 'user-status-message',
//     status: () => u.status,
//     change: async (next) => { u = await patch(path, {status: next}); return ctx.current(); },
//     said: { disabled: 'Disabled: ...', active: 'Enabled: ...' },
//     failed: (e, message) => ... });
//   t.button, t.message: to place in the page. change() returns false when the page was
//   left meanwhile (nothing more is drawn); a failure goes to failed(e, message).
import { h } from './dom.js';

export function statusToggle({ id, messageId, status, change, said, failed }) {
  const message = h('div', { id: messageId, 'aria-live': 'polite' });
  const button = h('button', { type: 'button', id });
  const draw = () => {
    button.textContent = status() === 'disabled' ? 'Enable' : 'Disable';
    button.className = status() === 'disabled' ? '' : 'secondary';
  };
  draw();
  button.addEventListener('click', async () => {
    message.replaceChildren();
    button.disabled = true;
    try {
      if (!await change(status() === 'disabled' ? 'active' : 'disabled')) return;
      draw();
      message.replaceChildren(h('p.state', {}, said[status()] || ''));
      button.focus();
    } catch (e) {
      failed(e, message);
    } finally {
      button.disabled = false;
    }
  });
  return { button, message };
}
