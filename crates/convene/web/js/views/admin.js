// Administration: tabs (Users, Rooms, Connections, Servers) under /admin/{page}.
import { h, mount } from '../dom.js';
import { renderAdminUsers } from './admin-users.js';
import { renderAdminRooms } from './admin-rooms.js';
import { renderAdminConnections } from './admin-connections.js';
import { renderAdminServers } from './admin-servers.js';

export const ADMIN_PAGES = [
  { page: 'users', label: 'Users', render: renderAdminUsers },
  { page: 'rooms', label: 'Rooms', render: renderAdminRooms },
  { page: 'connections', label: 'Connections', render: renderAdminConnections },
  { page: 'servers', label: 'Servers', render: renderAdminServers },
];

export function renderAdmin(container, ctx) {
  const page = ADMIN_PAGES.find((p) => p.page === ctx.params[0]);
  const tabs = h('nav', { class: 'admin-tabs', id: 'admin-tabs', 'aria-label': 'Administration' },
    ADMIN_PAGES.map((p) => h('a', {
      href: `/admin/${p.page}`,
      id: `admin-tab-${p.page}`,
      class: 'admin-tab',
      'data-link': true,
      'aria-current': p === page ? 'page' : null,
    }, p.label)));
  const body = h('div', { class: 'admin-body', id: 'admin-body' });
  mount(container, h('section', { class: 'page admin-page', id: 'admin', dataset: { page: page ? page.page : '' } }, tabs, body));
  if (!page) {
    document.title = 'Administration · Convene';
    mount(body, h('div', { class: 'panel empty-state' },
      h('h1', {}, 'No such administration page'),
      h('p', {}, 'Choose a section above.')));
    return undefined;
  }
  document.title = `${page.label} · Administration · Convene`;
  return page.render(body, ctx);
}
