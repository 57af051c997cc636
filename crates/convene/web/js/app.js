// Entry point: session state, header, and the client-side router (history.pushState).
import { api, onUnauthorized } from './api.js';
import { h, mount, ROLE_LABELS } from './dom.js';
import { toast } from './ui.js';
import { t, LANGUAGES, language, setLanguage, setAccountLanguage } from './i18n.js';
import { renderLogin } from './views/login.js';
import { renderRooms } from './views/rooms.js';
import { renderRoom } from './views/room.js';
import { renderAdmin, ADMIN_PAGES } from './views/admin.js';
import { renderInvite } from './views/invite.js';
import { renderGuestOnly } from './views/guest.js';
import { renderProfile } from './views/profile.js';
import { renderMyRooms } from './views/my-rooms.js';

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
  { re: /^\/invite\/([^/]+)\/?$/, view: renderInvite, public: true, name: 'invite' },
  { re: /^\/profile\/?$/, view: renderProfile, name: 'profile' },
  { re: /^\/my-rooms\/?$/, view: renderMyRooms, roles: ['organiser', 'admin'], name: 'my-rooms' },
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
  // The account's language (when the server keeps one) wins over this browser's choice.
  setAccountLanguage(user && typeof user.language === 'string' ? user.language : null);
  updateHeader();
}

/** The shell's own texts (index.html: data-i18n → text, data-i18n-label → aria-label) and the picker. */
function translateShell() {
  document.documentElement.lang = language();
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  const picker = document.getElementById('language-select');
  if (picker) {
    if (picker.options.length !== LANGUAGES.length) {
      picker.replaceChildren(...LANGUAGES.map((l) => h('option', { value: l.code, lang: l.code }, l.name)));
    }
    picker.value = language();
    picker.title = t('shell.language');
  }
}

// The language picker: remembered in this browser, and on the account when the server keeps one there.
document.getElementById('language-select')?.addEventListener('change', async (ev) => {
  const code = ev.target.value;
  setLanguage(code, { remember: true });
  const u = app.user;
  if (u && typeof u.language === 'string') {
    try {
      const saved = await api.put('/me', { language: code });
      app.user = { ...u, ...(saved && typeof saved === 'object' ? saved : {}), language: code };
    } catch (err) {
      if (err.status !== 401) toast(err.message, 'error');
    }
  }
  updateHeader(match(location.pathname)?.route.name);
  // The room page keeps its connection (and its language) until it is entered again.
  if (match(location.pathname)?.route.name === 'room') toast(t('shell.language_room'), 'info');
  else render();
});

function updateHeader(routeName) {
  const u = app.user;
  translateShell();
  // A guest has its room only: no navigation to anything else.
  document.getElementById('main-nav').hidden = !u || u.role === 'guest';
  document.getElementById('user-box').hidden = !u;
  document.getElementById('nav-admin').hidden = !(u && u.role === 'admin');
  document.getElementById('nav-my-rooms').hidden = !(u && u.role === 'organiser');
  if (u) {
    document.getElementById('current-user-name').textContent = u.display_name || u.login;
    document.getElementById('current-user-name').title = t('shell.signed_in_as', { login: u.login });
    const role = document.getElementById('current-user-role');
    role.textContent = ROLE_LABELS[u.role] || u.role;
    role.hidden = !['admin', 'organiser'].includes(u.role) || (u.display_name || u.login) === role.textContent;
  }
  const section = { admin: 'nav-admin', rooms: 'nav-rooms', room: 'nav-rooms', 'my-rooms': 'nav-my-rooms', profile: 'current-user' }[routeName] || null;
  for (const id of ['nav-rooms', 'nav-my-rooms', 'nav-admin', 'current-user']) {
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
    document.title = `${t('app.not_found_title')} · Convene`;
    document.body.dataset.page = 'not-found';
    mount(main, h('section', { class: 'panel empty-state', id: 'not-found' },
      h('h1', {}, t('app.not_found_title')),
      h('p', {}, t('app.not_found_text')),
      h('p', { class: 'muted mono small not-found-path' }, location.pathname),
      h('a', { href: '/rooms', class: 'btn btn-primary', 'data-link': true }, t('app.go_to_rooms'))));
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
  // A guest reaches its room and invitation pages only (the API refuses it the rest).
  if (app.user && app.user.role === 'guest' && route.name !== 'room' && route.name !== 'invite') {
    updateHeader(route.name);
    document.body.dataset.page = 'guest-only';
    renderGuestOnly(main, { app });
    return;
  }
  if ((route.admin && app.user.role !== 'admin') || (route.roles && !route.roles.includes(app.user.role))) {
    updateHeader(route.name);
    document.title = `${t('app.forbidden_page_title')} · Convene`;
    mount(main, h('section', { class: 'panel empty-state', id: 'forbidden' },
      h('h1', {}, t('app.forbidden_title')),
      h('p', {}, t('app.forbidden_text')),
      h('a', { href: '/rooms', class: 'btn btn-primary', 'data-link': true }, t('app.go_to_rooms'))));
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
        h('h1', {}, t('app.error_title')),
        h('p', { role: 'alert' }, err && err.message ? err.message : String(err)),
        h('button', { type: 'button', class: 'btn btn-primary', on: { click: () => render() } }, t('app.try_again'))));
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
  toast(t('api.session_ended'), 'warn');
  const next = location.pathname + location.search;
  navigate(`/login?next=${encodeURIComponent(next)}`, { replace: true });
});

async function boot() {
  translateShell();
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
          h('h1', {}, t('app.unreachable_title')),
          h('p', { role: 'alert' }, err.message),
          h('button', { type: 'button', class: 'btn btn-primary', on: { click: () => location.reload() } }, t('app.reload'))));
        main.setAttribute('aria-busy', 'false');
        return;
      }
      await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
    }
  }
  await render();
}

boot();
