// Administration: tabs (Users, Rooms, Connections, Servers) under /admin/{page}.
// On a single node the cluster pages (Servers) are out of sight unless the admin asks for them (#show-cluster,
// remembered in this browser); the page is still there at its address.
import { api } from '../api.js';
import { h, mount } from '../dom.js';
import { t } from '../i18n.js';
import { renderAdminUsers } from './admin-users.js';
import { renderAdminRooms } from './admin-rooms.js';
import { renderAdminConnections } from './admin-connections.js';
import { renderAdminServers } from './admin-servers.js';

const SHOW_CLUSTER_KEY = 'convene.showCluster';

export const ADMIN_PAGES = [
  { page: 'users', get label() { return t('admin.users'); }, render: renderAdminUsers },
  { page: 'rooms', get label() { return t('admin.rooms'); }, render: renderAdminRooms },
  { page: 'connections', get label() { return t('admin.connections'); }, render: renderAdminConnections },
  { page: 'servers', get label() { return t('admin.servers'); }, render: renderAdminServers, cluster: true },
];

function storedShowCluster() {
  try {
    return globalThis.localStorage?.getItem(SHOW_CLUSTER_KEY) === 'on';
  } catch {
    return false;
  }
}

function storeShowCluster(on) {
  try {
    globalThis.localStorage?.setItem(SHOW_CLUSTER_KEY, on ? 'on' : 'off');
  } catch {
    // storage denied
  }
}

/** {single, shown}: whether this is a one-server installation, and whether cluster pages and wording show. */
async function clusterView() {
  let servers = null;
  try {
    servers = await api.servers();
  } catch {
    servers = null; // unknown: show everything
  }
  const single = Array.isArray(servers) && servers.length <= 1;
  return { single, shown: !single || storedShowCluster() };
}

export async function renderAdmin(container, ctx) {
  const page = ADMIN_PAGES.find((p) => p.page === ctx.params[0]);
  const cluster = await clusterView();
  const visible = ADMIN_PAGES.filter((p) => !p.cluster || cluster.shown || p === page);
  const tabs = h('nav', { class: 'admin-tabs', id: 'admin-tabs', 'aria-label': t('admin.title') },
    visible.map((p) => h('a', {
      href: `/admin/${p.page}`,
      id: `admin-tab-${p.page}`,
      class: 'admin-tab',
      'data-link': true,
      'aria-current': p === page ? 'page' : null,
    }, p.label)));
  let toggle = null;
  if (cluster.single) {
    const box = h('input', { type: 'checkbox', id: 'show-cluster', checked: cluster.shown });
    box.addEventListener('change', () => {
      storeShowCluster(box.checked);
      ctx.app.navigate(!box.checked && page?.cluster ? '/admin/users' : location.pathname, { replace: true });
    });
    toggle = h('div', { class: 'field-check show-cluster', title: t('admin.show_cluster_hint') },
      box, h('label', { for: 'show-cluster' }, t('admin.show_cluster')));
  }
  const body = h('div', { class: 'admin-body', id: 'admin-body' });
  mount(container, h('section', { class: 'page admin-page', id: 'admin', dataset: { page: page ? page.page : '', cluster: String(cluster.shown) } },
    h('div', { class: 'admin-top' }, tabs, toggle), body));
  if (!page) {
    document.title = `${t('admin.title')} · Convene`;
    mount(body, h('div', { class: 'panel empty-state' },
      h('h1', {}, t('admin.no_page')),
      h('p', {}, t('admin.no_page_hint'))));
    return undefined;
  }
  document.title = `${page.label} · ${t('admin.title')} · Convene`;
  return page.render(body, { ...ctx, cluster });
}
