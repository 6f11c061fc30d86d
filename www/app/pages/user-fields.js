// user-fields.js: what the user and token forms share (not a page): a labelled field
// with a hint and a place for its error, and showing an API error next to the field it
// names (error.field), or above the button when it names none.
import { h, errorBox } from '../dom.js';
import { forget } from '../session.js';

// field('user-email', 'Email', input, 'hint') -> {el, input, error}; input gets the id.
export function field(id, label, input, hint) {
  input.id = id;
  const error = h('p.error.field-error', { id: id + '-error', role: 'alert', hidden: true });
  const hintEl = hint ? h('p.hint', { id: id + '-hint' }, hint) : null;
  input.setAttribute('aria-describedby', [hint ? id + '-hint' : '', id + '-error'].join(' ').trim());
  const el = h('div.form-field', {}, h('label', { for: id }, label), input, hintEl, error);
  return { el, input, error };
}

export function clearErrors(fields, general) {
  for (const f of Object.values(fields)) {
    f.error.hidden = true;
    f.error.textContent = '';
    f.input.removeAttribute('aria-invalid');
  }
  if (general) general.replaceChildren();
}

// fields = {email: field(...), ...} keyed by the API's member names; a dotted name
// (quotas.max_devices) falls back to its last part.
export function showError(err, fields, general) {
  const name = err && err.field ? String(err.field) : '';
  const f = name ? fields[name] || fields[name.split('.').pop()] : null;
  if (f) {
    f.error.textContent = err.message;
    f.error.hidden = false;
    f.input.setAttribute('aria-invalid', 'true');
    f.input.focus();
  } else {
    general.replaceChildren(errorBox(err));
  }
}

// An action's 401 (the sign-in expired, or was revoked elsewhere): forget the caller
// and go to the sign-in page, as main.js does for a page's first load.
export function signedOut(ctx) {
  forget();
  ctx.navigate('/signin');
}
