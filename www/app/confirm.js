// confirm.js: a button that asks before it acts, in the page (window.confirm blocks the
// page and cannot be styled or labelled): a click puts the question with a confirming
// button and Cancel in its place; Cancel or Escape puts the button back.
//   confirming(button, {question, yes: 'Delete', id: 'user-delete', onYes: async () => ok})
// onYes returns false (or throws) when it failed: the button comes back; otherwise the
// caller has moved on (removed the row, left the page).
import { h } from './dom.js';

export function confirming(button, { question, yes, id, onYes }) {
  const wrap = h('span.confirm', {}, button);
  const yesButton = h('button.danger', { type: 'button', id: id ? id + '-yes' : null }, yes);
  const noButton = h('button.secondary', { type: 'button', id: id ? id + '-no' : null }, 'Cancel');
  const box = h('span.confirm-box', { role: 'group', 'aria-label': question },
    h('span.confirm-q', {}, question), yesButton, noButton);
  const back = () => {
    wrap.replaceChildren(button);
    button.focus();
  };
  button.addEventListener('click', () => {
    wrap.replaceChildren(box);
    yesButton.focus();
  });
  noButton.addEventListener('click', back);
  box.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') back();
  });
  yesButton.addEventListener('click', async () => {
    yesButton.disabled = noButton.disabled = true;
    let done = false;
    try {
      done = (await onYes()) !== false;
    } finally {
      yesButton.disabled = noButton.disabled = false;
      if (!done) back();
    }
  });
  return wrap;
}
