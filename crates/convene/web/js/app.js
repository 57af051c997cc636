// Entry point: session state, header, and the client-side router (history.pushState).
import { api, onUnauthorized } from './api.js';
import { h, mount, ROLE_LABELS } from './dom.js';
import { toast } from './ui.js';
import { renderLogin } from './views/login.js';
import { renderRooms } from './views/rooms.js';
import { renderRoom } from './views/room.js';
import { renderAdmin, ADMIN_PAGES } from './views/admin.js';

const main = document.getElementById('app');

const app = {
  user: null, // {id, login, role, display_name} or null
  cleanup: null, // the current view's teardown
  renderId: 0,
  navigate,
  setUser,
};

/** Routes: pattern, view, options. A view gets (container, ctx) and may return a teardown function. */
const ROUTES = [
  { re: /^\/$/, redirect: '/rooms' },
  { re: /^\/login\/?$/, view: renderLogin, public: true, name: 'login' },
  { re: /^\/rooms\/?$/, view: renderRooms, name: 'rooms' },
  { re: /^\/room\/([^/]+)\/?$/, view: renderRoom, name: 'room' },
  { re: /^\/admin\/?$/, redirect: `/admin/${ADMIN_PAGES[0].page}` },
  { re: /^\/admin\/([a-z-]+)\/?$/, view: renderAdmin, admin: true, name: 'admin' },
];

export function navigate(path, { replace = false } = {}) {
  const url = new URL(path, location.origin);
  if (url.origin !== location.origin) {
    location.assign(url.href);
    return;
  }
  const target = url.pathname + url.search + url.hash;
  if (replace) history.replaceState(null, '', target);
  else if (target !== location.pathname + location.search + location.hash) history.pushState(null, '', target);
  render({ focus: !replace });
}

function setUser(user) {
  app.user = user;
  updateHeader();
}

function updateHeader(routeName) {
  const u = app.user;
  document.getElementById('main-nav').hidden = !u;
  document.getElementById('user-box').hidden = !u;
  document.getElementById('nav-admin').hidden = !(u && u.role === 'admin');
  if (u) {
    document.getElementById('current-user-name').textContent = u.display_name || u.login;
    document.getElementById('current-user-name').title = `Signed in as ${u.login}`;
    const role = document.getElementById('current-user-role');
    role.textContent = ROLE_LABELS[u.role] || u.role;
    role.hidden = u.role !== 'admin' || (u.display_name || u.login) === role.textContent;
  }
  const section = routeName === 'admin' ? 'nav-admin' : routeName === 'rooms' || routeName === 'room' ? 'nav-rooms' : null;
  for (const id of ['nav-rooms', 'nav-admin']) {
    const a = document.getElementById(id);
    if (id === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function match(pathname) {
  for (const r of ROUTES) {
    const m = r.re.exec(pathname);
    if (m) return { route: r, params: m.slice(1).map(decodeURIComponent) };
  }
  return null;
}

function teardown() {
  if (typeof app.cleanup === 'function') {
    try {
      app.cleanup();
    } catch (err) {
      console.error(err);
    }
  }
  app.cleanup = null;
}

async function render({ focus = false } = {}) {
  const renderId = ++app.renderId;
  teardown();
  const found = match(location.pathname);
  if (!found) {
    updateHeader();
    document.title = 'Page not found · Convene';
    mount(main, h('section', { class: 'panel empty-state', id: 'not-found' },
      h('h1', {}, 'Page not found'),
      h('p', {}, 'There is nothing at this address.'),
      h('a', { href: '/rooms', class: 'btn btn-primary', 'data-link': true }, 'Go to rooms')));
    return;
  }
  const { route, params } = found;
  if (route.redirect) {
    navigate(route.redirect, { replace: true });
    return;
  }
  if (!route.public && !app.user) {
    const next = location.pathname + location.search;
    navigate(`/login?next=${encodeURIComponent(next)}`, { replace: true });
    return;
  }
  if (route.admin && app.user.role !== 'admin') {
    updateHeader(route.name);
    document.title = 'Not allowed · Convene';
    mount(main, h('section', { class: 'panel empty-state', id: 'forbidden' },
      h('h1', {}, 'Administrators only'),
      h('p', {}, 'Your account does not have access to the administration pages.'),
      h('a', { href: '/rooms', class: 'btn btn-primary', 'data-link': true }, 'Go to rooms')));
    return;
  }
  updateHeader(route.name);
  document.body.dataset.page = route.name;
  main.replaceChildren();
  main.setAttribute('aria-busy', 'true');
  try {
    const query = new URLSearchParams(location.search);
    const cleanup = await route.view(main, { app, params, query });
    if (renderId !== app.renderId) {
      // Navigated away while the view was loading.
      if (typeof cleanup === 'function') cleanup();
      return;
    }
    app.cleanup = cleanup;
  } catch (err) {
    console.error(err);
    if (renderId === app.renderId) {
      mount(main, h('section', { class: 'panel empty-state' },
        h('h1', {}, 'Something went wrong'),
        h('p', { role: 'alert' }, err && err.message ? err.message : String(err)),
        h('button', { type: 'button', class: 'btn btn-primary', on: { click: () => render() } }, 'Try again')));
    }
  } finally {
    if (renderId === app.renderId) main.setAttribute('aria-busy', 'false');
  }
  if (focus && renderId === app.renderId && !main.contains(document.activeElement)) {
    main.focus({ preventScroll: true });
  }
}

// Same-origin links navigate without reloading.
document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !match(url.pathname)) return;
  ev.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', () => render());

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await api.logout();
  } catch (err) {
    if (err.status !== 401) {
      toast(err.message, 'error');
      return;
    }
  }
  teardown();
  setUser(null);
  navigate('/login', { replace: true });
});

onUnauthorized(() => {
  if (!app.user) return;
  setUser(null);
  toast('Your session has ended. Please sign in again.', 'warn');
  const next = location.pathname + location.search;
  navigate(`/login?next=${encodeURIComponent(next)}`, { replace: true });
});

async function boot() {
  for (let attempt = 0; ; attempt++) {
    try {
      setUser(await api.me());
      break;
    } catch (err) {
      if (err.status === 401) {
        setUser(null);
        break;
      }
      if (attempt >= 2) {
        mount(main, h('section', { class: 'panel empty-state', id: 'boot-error' },
          h('h1', {}, 'Convene is not reachable'),
          h('p', { role: 'alert' }, err.message),
          h('button', { type: 'button', class: 'btn btn-primary', on: { click: () => location.reload() } }, 'Reload')));
        main.setAttribute('aria-busy', 'false');
        return;
      }
      await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
    }
  }
  await render();
}

boot();
