// pages.js: the page registry. A page is a module under pages/ exporting
//   title        the heading (a string, or a function of the route's params)
//   render(ctx)  fills ctx.main; ctx = {params, query, main, navigate, me}
// and (optionally) `public = true` when it needs no sign-in, `nav` = a menu label.
// Adding a page is that module and one line below: 'route pattern': module.
import * as signin from './pages/signin.js';
import * as devices from './pages/devices.js';
import * as device from './pages/device.js';
import * as deviceNew from './pages/device-new.js';
import * as session from './pages/session.js';
import * as users from './pages/users.js';
import * as userNew from './pages/user-new.js';
import * as user from './pages/user.js';
import * as tokens from './pages/tokens.js';
import * as usage from './pages/usage.js';
import * as sessions from './pages/sessions.js';
import * as tickets from './pages/tickets.js';
import * as ticketNew from './pages/ticket-new.js';
import * as ticket from './pages/ticket.js';
import * as webhooks from './pages/webhooks.js';
import * as webhook from './pages/webhook.js';
import * as clusters from './pages/clusters.js';
import * as clusterNew from './pages/cluster-new.js';
import * as cluster from './pages/cluster.js';
import * as services from './pages/services.js';
import * as marketplace from './pages/marketplace.js';
import * as serviceNew from './pages/service-new.js';
import * as service from './pages/service.js';

import * as tenants from './pages/tenants.js';
import * as tenantNew from './pages/tenant-new.js';
import * as tenant from './pages/tenant.js';
import * as tenantImport from './pages/tenant-import.js';
import * as audit from './pages/audit.js';
import * as system from './pages/system.js';

export const routes = {
  '/signin': signin,
  '/devices': devices,
  '/devices/new': deviceNew, // before /devices/:id, which would take "new" as an id
  '/devices/:id': device,
  '/clusters': clusters,
  '/clusters/new': clusterNew, // before /clusters/:id
  '/clusters/:id': cluster,
  '/services': services,
  '/services/marketplace': marketplace, // before /services/:id
  '/services/new/:slug': serviceNew,
  '/services/:id': service,
  '/sessions': sessions,
  '/sessions/:id': session,
  '/tickets': tickets,
  '/tickets/new': ticketNew, // before /tickets/:id
  '/tickets/:id': ticket,
  '/users': users,
  '/users/new': userNew, // before /users/:id
  '/users/:id': user,
  '/tokens': tokens,
  '/usage': usage,
  '/webhooks': webhooks,
  '/webhooks/:id': webhook,

  '/admin/tenants': tenants,
  '/admin/tenants/import': tenantImport, // before /admin/tenants/:id
  '/admin/tenants/new': tenantNew, // before /admin/tenants/:id
  '/admin/tenants/:id': tenant,
  '/audit': audit,
  '/admin/system': system,
};

export const home = '/devices';
