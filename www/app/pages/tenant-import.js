// tenant-import.js: #/admin/tenants/import (platform admins). Load a tenant archive (the
// JSON file a tenant's "Download all data" or POST /tenant/export made, on this server or
// another) as a new tenant, ids kept (POST /tenant/import). The file is read in the
// browser and sent as it is; the server checks everything (format, schema, references)
// and answers in one sentence, shown here. Users come without passwords: the page says
// what to do next.
import { h, errorBox } from '../dom.js';
import { post } from '../api.js';
import { mayAdminTenants } from '../roles.js';

export const title = 'Import a tenant';

const MAX_BYTES = 64 * 1024 * 1024; // kaiden-api's server.max_import default

export async function render(ctx) {
  ctx.main.append(h('p.crumbs', {}, h('a', { href: '#/admin/tenants' }, '← Tenants')),
    h('h1', {}, 'Import a tenant'));
  if (!mayAdminTenants(ctx.me)) {
    ctx.main.append(h('p.error', { role: 'alert', id: 'tenant-import-refused' },
      'Only Kaiden administrators import tenants.'));
    return;
  }
  const file = h('input', { type: 'file', id: 'tenant-import-file', name: 'archive', accept: '.json,application/json', required: true });
  const button = h('button', { type: 'submit', id: 'tenant-import-go' }, 'Import');
  const msg = h('div', { id: 'tenant-import-message', 'aria-live': 'polite' });
  const form = h('form.card.stack', { id: 'tenant-import-form' },
    h('p', {}, 'A tenant archive is the JSON file of a tenant\'s "Download all data" (its usage page) ',
      'or of POST /api/v1/tenant/export. The tenant comes in with its ids, so its devices\' agents ',
      'sign in again with their secrets; its code and ids must not exist here yet.'),
    h('label', { for: 'tenant-import-file' }, 'Archive file'), file,
    msg, h('p.actions', {}, button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.replaceChildren();
    const f = file.files && file.files[0];
    if (!f) {
      msg.replaceChildren(h('p.error', { role: 'alert' }, 'Choose the archive file first.'));
      return;
    }
    if (f.size > MAX_BYTES) {
      msg.replaceChildren(h('p.error', { role: 'alert' },
        `This file is ${Math.ceil(f.size / 1048576)} MiB; the server takes archives up to 64 MiB by default.`));
      return;
    }
    button.disabled = true;
    button.textContent = 'Importing…';
    try {
      const text = await f.text();
      const t = await post('tenant/import', text, { raw: true, tenant: null });
      if (!ctx.current()) return;
      form.replaceWith(h('section.card.stack', { id: 'tenant-imported' },
        h('p.notice.ok', {}, `The tenant ${t.name} (${t.code}) is imported.`),
        h('p', {}, 'Its users have no passwords yet: open the tenant, then a user, and set one ',
          '(or give its tenant admin an API token with ',
          h('code', {}, `kaiden-api token create --user EMAIL --tenant ${t.code}`), ').'),
        h('p.actions', {}, h('a.button', { href: '#/admin/tenants/' + encodeURIComponent(t.id), id: 'tenant-imported-link' },
          'Open ' + t.name))));
    } catch (e) {
      if (!ctx.current()) return;
      if (e.status === 401) throw e;
      const where = e.field ? h('p.hint', {}, 'In the archive: ', h('code', {}, e.field)) : '';
      msg.replaceChildren(errorBox(e), where);
    } finally {
      button.disabled = false;
      button.textContent = 'Import';
    }
  });
  ctx.main.append(form);
}
