// tenant-form.js: what the tenant pages share (not a page): labelled fields with an
// error line each, where an API error naming the field is shown; quotas and trial end
// read from and written to the API's shape.
import { h } from '../dom.js';
import { clearErrors, showError as showAt } from './user-fields.js';

// field(id, label, input, hint?) -> {el, input, error}: the input's error line is
// #<id>-error, tied to it with aria-describedby.
export function field(id, label, input, hint) {
  const error = h('p.field-error', { id: id + '-error', role: 'alert', hidden: true });
  input.setAttribute('aria-describedby', id + '-error' + (hint ? ' ' + id + '-hint' : ''));
  const el = h('div.form-field', {}, h('label', { for: id }, label), input,
    hint ? h('p.hint', { id: id + '-hint' }, hint) : null, error);
  return { el, input, error };
}

// Shows err next to the field the API named (fields: {apiName: field()}), else in box;
// err null clears every error.
export function showError(err, fields, box) {
  clearErrors(fields, box);
  if (err) showAt(err, fields, box);
}

// "2027-01-31" -> the end of that day, UTC, as RFC 3339; "" -> null.
export function trialEnd(dateValue) {
  return dateValue ? dateValue + 'T23:59:59.000Z' : null;
}

// RFC 3339 -> "2027-01-31" (its UTC date), for a date input.
export function dateOf(iso) {
  return iso ? String(iso).slice(0, 10) : '';
}

// The quota fields of a tenant form, by the API's names, each field() with a number
// input id <prefix>-<suffix>, filled from q (a tenant's quotas, or none).
const QUOTAS = [
  ['max_devices', 'max-devices', 'Most devices'],
  ['max_concurrent_sessions', 'max-sessions', 'Most sessions at once'],
  ['max_open_tickets', 'max-tickets', 'Most open tickets'],
];
export function quotaFields(prefix, q) {
  const f = {};
  for (const [name, suffix, label] of QUOTAS) {
    const id = prefix + '-' + suffix;
    f[name] = field(id, label, numberInput(id, (q || {})[name]), 'Empty: no limit.');
  }
  return f;
}

// The quotas object from quotaFields' inputs (empty: no limit).
export function quotas(f) {
  const q = {};
  for (const [name] of QUOTAS) {
    const v = f[name].input.value.trim();
    if (v !== '') q[name] = Number(v);
  }
  return q;
}

export const PLANS = ['trial', 'basic', 'pro', 'enterprise'];

export function numberInput(id, value) {
  return h('input', { id, name: id, type: 'number', min: '1', step: '1', inputmode: 'numeric', value: value === undefined || value === null ? '' : String(value) });
}
