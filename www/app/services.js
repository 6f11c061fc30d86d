// services.js: what the cloud-service pages share (issue 13; not a page).
//   appIcon(t)                  a template's icon: an emoji as text, or an image of the portal's
//   statusWords(s) / serviceBadge(status)   a service's status in words, as a badge
//   BUSY                        the statuses an operation is under way in (the page follows them)
//   templateSlug(s)             the template a service was made from
//   serviceUrls(s)              its URLs (https://<subdomain>.<services.domain>, the custom domain);
//                               none when it has no web address (s.web false)
//   hasWeb(t)                   a template gives its services a web address (inputs.host)
//   valuesForm(schema, opts)    the settings form built from a template's values_schema
//   slugify(text, max)          a DNS-1123 label suggested from a name
//   STORAGE_SIZE, STORAGE_SIZE_WRONG   what the API takes as storage_size; what to say otherwise
import { h } from './dom.js';
import { get } from './api.js';

export const CATEGORIES = ['AI & LLM', 'Automation', 'Database', 'Cache', 'Monitoring', 'Developer tools'];

// An operation runs: the page reads the service again every 5 s (seed NFR-1).
export const BUSY = ['pending', 'deploying', 'upgrading', 'rolling_back', 'deleting'];

const WORDS = {
  pending: 'Queued',
  deploying: 'Deploying',
  running: 'Running',
  failed: 'Failed',
  upgrading: 'Updating',
  rolling_back: 'Rolling back',
  deleting: 'Deleting',
  deleted: 'Deleted',
};

export function statusWords(status) {
  return WORDS[status] || status || 'unknown';
}

export function serviceBadge(status) {
  const cls = { running: 'ok', failed: 'bad', deleted: 'off' }[status] || (BUSY.includes(status) ? 'busy' : 'off');
  return h('span.badge.svc-' + cls, { 'data-status': status }, statusWords(status));
}

// An emoji is text (aria-hidden: the name says what it is); a path of the portal's
// ("icons/redis.svg") an image with an empty alt; anything else nothing.
export function appIcon(t, cls = 'app-icon') {
  const icon = (t && t.icon) || '';
  if (/^icons\/[A-Za-z0-9_.-]+\.(svg|png)$/.test(icon)) {
    return h('img.' + cls, { src: '/' + icon, alt: '', width: 40, height: 40 });
  }
  return h('span.' + cls, { 'aria-hidden': 'true' }, icon || '📦');
}

export function templateSlug(s) {
  if (!s) return '';
  if (typeof s.template === 'string') return s.template;
  if (s.template && s.template.slug) return s.template.slug;
  return s.template_slug || '';
}

// The service's URLs as the API gives them (urls), else made from its names. A service
// without a web address (web false: a database, a cache) has none.
export function serviceUrls(s, domain) {
  if (s.web === false) return [];
  if (Array.isArray(s.urls) && s.urls.length) return s.urls;
  const out = [];
  if (s.url) out.push(s.url);
  else if (s.subdomain && domain) out.push(`https://${s.subdomain}.${domain}`);
  if (s.custom_domain && !out.includes('https://' + s.custom_domain)) out.push('https://' + s.custom_domain);
  return out;
}

// Whether a template (GET /catalog/{slug}) gives its services a web address: its inputs
// map Kaiden's host into the chart, as the API decides (catalog_template_web).
export function hasWeb(t) {
  return Boolean(t && t.inputs && t.inputs.host);
}

// "My n8n!" -> "my-n8n": a DNS-1123 label (lower-case letters, digits, '-', neither
// starting nor ending with '-'), at most max characters.
export function slugify(text, max = 40) {
  let s = String(text || '').toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-').replace(/^-+/, '');
  s = s.slice(0, max).replace(/-+$/, '');
  return s;
}

// A DNS-1123 label, as the API checks reference_id and subdomain.
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

// What the API takes as storage_size (its bounds, 1Gi to the workspace's quota, are the
// server's to say).
export const STORAGE_SIZE = /^[1-9][0-9]{0,6}(Mi|Gi|Ti)$/;
export const STORAGE_SIZE_WRONG = 'A size such as 10Gi: a whole number, then Mi, Gi or Ti.';

// The platform's domain for services' subdomains (services.domain), or null when unset:
// GET /catalog says it (services_domain). Read once per page load; a page that read the
// catalog itself hands it over with noteCatalog(reply).
let domainRead = null;
export function noteCatalog(reply) {
  if (reply && 'services_domain' in reply) domainRead = Promise.resolve(reply.services_domain || null);
}
export function servicesDomain() {
  if (!domainRead) {
    domainRead = get('catalog').then((r) => (r && r.services_domain) || null, (e) => {
      domainRead = null;
      if (e.status === 401) throw e;
      return null;
    });
  }
  return domainRead;
}

// ---- the settings form -------------------------------------------------------------
// valuesForm(schema, {prefix, values, secrets, edit, readOnly}) -> {el, fields, collect,
// showError, clear, focusFirstError}
//   schema    the template's values_schema ({type: object, properties, required})
//   values    the values to show (the service's plain values); else each default
//   secrets   {"auth.password": "set" | "unset"} (edit): a secret is never shown, only
//             whether it is set, with "Replace" to type a new one
//   edit      true on a service's Configuration tab: a secret left alone is kept
//   readOnly  every input disabled (a role that may not change the service)
// A field's id is prefix + '-' + its path (auth.password -> svc-v-auth.password), and
// its element carries data-path. An object with a title is a fieldset (its legend the
// title); one without is only a level of the chart's tree, its fields shown with its
// parent's. collect() checks every field as the API would (type,
// required, enum, minimum/maximum, minLength/maxLength, pattern) and answers {values,
// ok}: the values object as the chart's tree (empty optional fields left out: the
// template's default applies), or ok false with each problem said beside its field (a
// value against its pattern in the template's pattern_message, else in words naming the
// pattern). showError(apiError) puts the API's `values.auth.password` beside that field
// (true; without the "values.auth.password: " its message starts with), else answers
// false.

function at(obj, path) {
  let o = obj;
  for (const k of path) {
    if (!o || typeof o !== 'object' || !Object.prototype.hasOwnProperty.call(o, k)) return undefined;
    o = o[k];
  }
  return o;
}

function put(obj, path, v) {
  let o = obj;
  for (const k of path.slice(0, -1)) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) o[k] = {};
    o = o[k];
  }
  o[path[path.length - 1]] = v;
}

// A POSIX extended pattern as JavaScript reads it: the same for what templates use
// (classes, anchors, groups, alternation); [[:alpha:]] and friends translated; null when
// JavaScript cannot read it (the server still checks).
function jsPattern(p) {
  const posix = { alpha: 'A-Za-z', digit: '0-9', alnum: 'A-Za-z0-9', upper: 'A-Z', lower: 'a-z',
    space: ' \\t\\r\\n\\v\\f', xdigit: '0-9A-Fa-f', punct: '!-\\/:-@\\[-`{-~' };
  const src = String(p).replace(/\[:([a-z]+):\]/g, (m, n) => posix[n] || m);
  try {
    return new RegExp(src, 'u');
  } catch (e) {
    return null;
  }
}

function label(name, prop) {
  return prop.title || name;
}

export function valuesForm(schema, { prefix = 'svc-v', values = null, secrets = {}, edit = false, readOnly = false } = {}) {
  const fields = {}; // path -> {el, input, error, prop, required, check}
  const root = h('div.values-form', {});

  function leaf(path, name, prop, required) {
    const id = prefix + '-' + path.join('.');
    const key = path.join('.');
    const current = at(values, path);
    const given = current !== undefined ? current : (edit ? undefined : prop.default);
    const hintId = id + '-hint';
    const errorId = id + '-error';
    const describedBy = [prop.description ? hintId : '', errorId].filter(Boolean).join(' ');
    let input;
    let replace = null; // edit, secret set: the input shows after "Replace"
    let secretState = null;
    if (prop.enum) {
      input = h('select', { id, 'data-path': key },
        required && given !== undefined ? null : h('option', { value: '' }, required ? 'Choose…' : '(default)'),
        prop.enum.map((v) => h('option', { value: String(v), selected: given !== undefined && String(given) === String(v) }, String(v))));
    } else if (prop.type === 'boolean') {
      input = h('input', { id, type: 'checkbox', 'data-path': key, checked: given === true });
    } else if (prop.type === 'integer' || prop.type === 'number') {
      input = h('input', { id, type: 'number', inputmode: prop.type === 'integer' ? 'numeric' : 'decimal',
        step: prop.type === 'integer' ? '1' : 'any', 'data-path': key,
        min: prop.minimum !== undefined ? String(prop.minimum) : null,
        max: prop.maximum !== undefined ? String(prop.maximum) : null,
        value: given !== undefined ? String(given) : '' });
    } else if (prop.secret) {
      input = h('input', { id, type: 'password', autocomplete: 'new-password', spellcheck: 'false', 'data-path': key,
        maxlength: prop.maxLength !== undefined ? String(prop.maxLength) : null });
      if (edit) {
        const set = secrets && secrets[key] === 'set';
        secretState = h('span.badge.' + (set ? 'svc-ok' : 'svc-off'), { id: id + '-state' }, set ? 'Set' : 'Not set');
        if (set && !readOnly) {
          input.hidden = true;
          replace = h('button.secondary.small', { type: 'button', id: id + '-replace', 'aria-label': 'Replace ' + label(name, prop) }, 'Replace');
          replace.addEventListener('click', () => {
            input.hidden = false;
            replace.hidden = true;
            input.focus();
          });
        } else if (readOnly) {
          input.hidden = true; // a reader sees Set / Not set, not an empty box
        }
      }
    } else {
      input = h('input', { id, type: 'text', autocomplete: 'off', spellcheck: 'false', 'data-path': key,
        maxlength: prop.maxLength !== undefined ? String(prop.maxLength) : null,
        value: given !== undefined ? String(given) : '' });
    }
    input.setAttribute('aria-describedby', describedBy);
    // A set secret must be given again only when it is replaced.
    const mustGive = required && !(edit && prop.secret && secrets && secrets[key] === 'set');
    if (mustGive) input.setAttribute('aria-required', 'true');
    if (readOnly) input.disabled = true;
    const error = h('p.error.field-error', { id: errorId, role: 'alert', hidden: true });
    const lab = h('label', { for: id }, label(name, prop),
      mustGive ? h('span.required', { 'aria-hidden': 'true', title: 'required' }, ' *') : null,
      prop.secret && !edit ? h('span.hint.inline', {}, ' (secret)') : null);
    const el = h(prop.type === 'boolean' ? 'div.form-field.check-field' : 'div.form-field', { 'data-field': key },
      prop.type === 'boolean' ? h('span.check-row', {}, input, lab) : lab,
      prop.type === 'boolean' ? null : (secretState || replace ? h('span.secret-row', {}, secretState, replace, input) : input),
      prop.description ? h('p.hint', { id: hintId }, prop.description) : null,
      error);
    fields[key] = { el, input, error, prop, required: mustGive, path, replace };
    return el;
  }

  function object(path, node, required, into) {
    const req = new Set(node.required || []);
    for (const [name, prop] of Object.entries(node.properties || {})) {
      const p = [...path, name];
      if (prop.type === 'object' && !prop.title) {
        // A level of the chart's tree with no title of its own (n8n's main.secret.n8n)
        // is not a group people would name: its fields join the enclosing one.
        object(p, prop, req.has(name), into);
      } else if (prop.type === 'object') {
        const legendId = prefix + '-' + p.join('.') + '-legend';
        const fs = h('fieldset.values-group', { 'aria-labelledby': legendId },
          h('legend', { id: legendId }, label(name, prop)),
          prop.description ? h('p.hint', {}, prop.description) : null);
        object(p, prop, req.has(name), fs);
        into.append(fs);
      } else {
        into.append(leaf(p, name, prop, req.has(name)));
      }
    }
  }
  object([], schema || {}, true, root);
  if (!Object.keys(fields).length) root.append(h('p.hint', {}, 'This application has no settings to choose.'));

  function say(f, message) {
    f.error.textContent = message;
    f.error.hidden = false;
    f.input.setAttribute('aria-invalid', 'true');
  }

  function clear() {
    for (const f of Object.values(fields)) {
      f.error.hidden = true;
      f.error.textContent = '';
      f.input.removeAttribute('aria-invalid');
    }
  }

  // One field's value as the API wants it: {skip} (left out), {value}, or {error}.
  function read(f) {
    const { prop, input } = f;
    if (prop.type === 'boolean') return { value: input.checked };
    if (prop.secret && edit && input.hidden) return { skip: true }; // kept as it is
    const raw = input.value;
    const text = prop.secret ? raw : raw.trim();
    if (text === '') {
      if (f.required) return { error: prop.enum ? 'Choose one.' : 'Required.' };
      // Editing: the API merges over the current values, so a value emptied here is
      // unset (null: the template's default applies again); a new service leaves it out.
      if (edit && !prop.secret && at(values, f.path) !== undefined) return { value: null };
      return { skip: true };
    }
    if (prop.type === 'integer' || prop.type === 'number') {
      if (input.validity && input.validity.badInput) return { error: 'Enter a number.' };
      const n = Number(text);
      if (!Number.isFinite(n)) return { error: 'Enter a number.' };
      if (prop.type === 'integer' && !Number.isInteger(n)) return { error: 'Enter a whole number.' };
      if (prop.minimum !== undefined && n < prop.minimum) return { error: `At least ${prop.minimum}.` };
      if (prop.maximum !== undefined && n > prop.maximum) return { error: `At most ${prop.maximum}.` };
      if (prop.enum && !prop.enum.includes(n)) return { error: 'Choose one of the values offered.' };
      return { value: n };
    }
    const chars = [...text].length;
    if (prop.minLength !== undefined && chars < prop.minLength) {
      return { error: `At least ${prop.minLength} characters (${chars} now).` };
    }
    if (prop.maxLength !== undefined && chars > prop.maxLength) {
      return { error: `At most ${prop.maxLength} characters (${chars} now).` };
    }
    if (prop.enum && !prop.enum.map(String).includes(text)) return { error: 'Choose one of the values offered.' };
    if (prop.pattern) {
      const re = jsPattern(prop.pattern);
      if (re && !re.test(text)) {
        return { error: prop.pattern_message || `Not in the form ${label(f.path[f.path.length - 1], prop)} takes (the pattern ${prop.pattern}).` };
      }
    }
    return { value: text };
  }

  function collect() {
    clear();
    const out = {};
    let ok = true;
    for (const f of Object.values(fields)) {
      const r = read(f);
      if (r.error) {
        say(f, r.error);
        ok = false;
      } else if (!r.skip) {
        put(out, f.path, r.value);
      }
    }
    return { ok, values: out };
  }

  function focusFirstError() {
    const f = Object.values(fields).find((x) => x.input.getAttribute('aria-invalid') === 'true');
    if (f) f.input.focus();
    return !!f;
  }

  // The API names a value as values.<path>.
  function showError(err) {
    const name = err && err.field ? String(err.field) : '';
    if (!name.startsWith('values.')) return false;
    const f = fields[name.slice(7)];
    if (!f) return false;
    if (f.input.hidden && f.replace) f.replace.click();
    // api.js made the message a sentence ("Values.auth.password: ..."): the field's path
    // goes, its first letter is capitalized again.
    let message = String(err.message || '');
    if (message.toLowerCase().startsWith(name.toLowerCase() + ': ')) {
      message = message.slice(name.length + 2);
      message = message.charAt(0).toUpperCase() + message.slice(1);
    }
    say(f, message);
    f.input.focus();
    return true;
  }

  return { el: root, fields, collect, showError, clear, focusFirstError };
}
