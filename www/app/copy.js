// copy.js: a command shown as text in <pre><code>, with a button that copies it. When
// the clipboard is refused (an insecure origin, a policy), the text is selected instead
// and the button says to press Ctrl+C.
import { h } from './dom.js';

export function commandBox(id, text, label) {
  const code = h('code', {}, text);
  const pre = h('pre.command', { id }, code);
  const button = h('button.copy', { type: 'button', 'aria-label': 'Copy ' + label }, 'Copy');
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch (e) {
      const r = document.createRange();
      r.selectNodeContents(code);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(r);
      button.textContent = 'Selected: press Ctrl+C';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 2500);
  });
  return h('div.command-box', {}, pre, button);
}
