// list.js: what the list pages (devices, sessions, users, tenants, audit, tokens) share.
//   filterField(id, label, el, grow) -> a labelled field of a filter form.
//   filterForm(ctx, path, {fields, params, auto, ...}) -> a search form whose Apply (and
//     a change of each element in auto) opens path?<params()> (empty values left out), so
//     the filters live in the URL.
//   listTable({id, caption, columns, stateId, moreId, loading}) -> {body, table, state,
//     more, loading}: the table (hidden until it has rows), its aria-live state line
//     (saying loading at first) and its More button.
//   pagedList(ctx, view, {pages, row, empty}) -> {load, reset(pages)}: reads the next
//     page with the pager, appends row(item) for each, shows loading / error / empty
//     (empty() says why) in the state line, and More while the pager has more.
import { h, errorBox } from './dom.js';
import { query } from './api.js';

export function filterField(id, label, el, grow) {
  return h(grow ? 'span.field.grow' : 'span.field', {}, h('label', { for: id }, label), el);
}

export function filterForm(ctx, path, { fields, params, auto = [], cls = '', attrs = {}, applyId, after = [] }) {
  const form = h('form.filters' + cls, { role: 'search', ...attrs },
    fields, h('button', { type: 'submit', id: applyId }, 'Apply'), after);
  const apply = (ev) => {
    if (ev) ev.preventDefault();
    ctx.navigate(path + query(params()));
  };
  form.addEventListener('submit', apply);
  for (const el of auto) el.addEventListener('change', apply);
  return form;
}

export function listTable({ id, caption, columns, stateId, moreId, loading }) {
  const body = h('tbody', {});
  const table = h('table.list', { id, hidden: true },
    h('caption.sr', {}, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    body);
  const state = h('p.state', { id: stateId, 'aria-live': 'polite' }, loading);
  const more = h('button', { type: 'button', id: moreId, hidden: true }, 'More');
  return { body, table, state, more, loading };
}

export function pagedList(ctx, { body, table, state, more, loading }, { pages, row, empty }) {
  let shown = 0;
  async function load() {
    more.disabled = true;
    state.textContent = shown ? 'Loading more…' : loading;
    state.hidden = false;
    let items;
    try {
      items = await pages.next();
    } catch (e) {
      if (e.status === 401) throw e;
      if (!ctx.current()) return;
      state.replaceChildren(errorBox(e));
      more.disabled = false;
      return;
    }
    if (!ctx.current()) return;
    body.append(...items.map(row));
    shown += items.length;
    table.hidden = shown === 0;
    if (shown === 0) state.textContent = empty();
    else state.hidden = true;
    more.hidden = pages.done;
    more.disabled = false;
  }
  more.addEventListener('click', () => load().catch((e) => state.replaceChildren(errorBox(e))));
  return {
    load,
    reset(next) {
      pages = next;
      shown = 0;
      body.replaceChildren();
      return load();
    },
  };
}
