// copy.js: a command shown as text in <pre><code>, with a button that copies it. When
// the clipboard is refused (an insecure origin, a policy), the text is selected instead
// and the button says to press Ctrl+C. And a card that shows a secret once with it.
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

// A secret shown once (a new API token, a webhook's signing secret): a card with a
// warning, the secret in a commandBox, a hint, and "Done: I have copied it", which
// removes the card (the secret lived only in its elements) and calls onDone. The caller
// places it and gives it the focus (tabindex -1). before and after: more elements, above
// the secret's box and below the hint (a cluster's enrolment steps).
//   onceCard({id, heading, warning, boxId, secret, label, hint, doneId, onDone, before, after})
export function onceCard({ id, heading, warning, boxId, secret, label, hint, doneId, onDone, before, after }) {
  const done = h('button.secondary', { type: 'button', id: doneId }, 'Done: I have copied it');
  const card = h('section.card.secret-card', { id, tabindex: '-1', 'aria-labelledby': id + '-h' },
    h('h2', { id: id + '-h' }, heading),
    h('p.warning', { role: 'alert' }, warning),
    before,
    commandBox(boxId, secret, label),
    hint ? h('p.hint', {}, hint) : null,
    after,
    h('p.actions', {}, done));
  done.addEventListener('click', () => {
    card.remove();
    if (onDone) onDone();
  });
  return card;
}
