// Sign-in page: #login-form, #login-name, #login-password, #login-submit, #login-error.
import { api } from '../api.js';
import { h, mount } from '../dom.js';
import { t } from '../i18n.js';

/**
 * Only a path on this origin is a place to return to after signing in. The value is
 * parsed as the browser would follow it (which turns `/\host` into `//host` and drops
 * tabs and line breaks), and refused unless it stays here.
 */
function safeNext(query) {
  const next = query.get('next') || '';
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return '/rooms';
  }
  if (!next.startsWith('/') || url.origin !== location.origin || url.pathname.startsWith('/login')) {
    return '/rooms';
  }
  return url.pathname + url.search + url.hash;
}

export function renderLogin(container, { app, query }) {
  const next = safeNext(query);
  if (app.user) {
    app.navigate(next, { replace: true });
    return undefined;
  }
  document.title = `${t('login.title')} · Convene`;

  const name = h('input', {
    id: 'login-name', name: 'login', type: 'text', autocomplete: 'username',
    autocapitalize: 'none', spellcheck: 'false', required: true, maxlength: 200,
  });
  const password = h('input', {
    id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true,
  });
  const error = h('div', { id: 'login-error', class: 'alert alert-error', role: 'alert', hidden: true });
  const submit = h('button', { id: 'login-submit', type: 'submit', class: 'btn btn-primary btn-block' }, t('login.submit'));
  const showPassword = h('input', { id: 'login-show-password', type: 'checkbox' });
  showPassword.addEventListener('change', () => {
    password.type = showPassword.checked ? 'text' : 'password';
  });

  const form = h('form', { id: 'login-form', class: 'login-form', novalidate: true, 'aria-describedby': 'login-error' },
    h('div', { class: 'field' }, h('label', { for: 'login-name' }, t('login.login')), name),
    h('div', { class: 'field' }, h('label', { for: 'login-password' }, t('login.password')), password),
    h('div', { class: 'field field-check' }, showPassword, h('label', { for: 'login-show-password' }, t('login.show_password'))),
    error,
    submit,
  );

  const showError = (message) => {
    error.textContent = message;
    error.hidden = false;
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const login = name.value.trim();
    if (!login) {
      showError(t('login.enter_login'));
      name.focus();
      return;
    }
    if (!password.value) {
      showError(t('login.enter_password'));
      password.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = t('login.signing_in');
    form.setAttribute('aria-busy', 'true');
    try {
      const res = await api.login(login, password.value);
      app.setUser(res.user);
      app.navigate(next, { replace: true });
    } catch (err) {
      let message = err.message;
      if (err.status === 401 && (!message || err.code === 'http_401')) message = t('login.wrong');
      showError(message);
      password.value = '';
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = t('login.submit');
      form.removeAttribute('aria-busy');
    }
  });

  mount(container,
    h('section', { class: 'login-page' },
      h('div', { class: 'login-card panel' },
        h('div', { class: 'login-brand' },
          h('img', { src: '/assets/favicon.svg', alt: '', width: 48, height: 48 }),
          h('h1', {}, t('login.heading'))),
        h('p', { class: 'muted' }, t('login.intro')),
        form)));
  name.focus();
  return undefined;
}
