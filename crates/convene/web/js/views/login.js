// Sign-in page: #login-form, #login-name, #login-password, #login-submit, #login-error.
import { api } from '../api.js';
import { h, mount } from '../dom.js';

/** Only local paths are accepted as a place to return to after signing in. */
function safeNext(query) {
  const next = query.get('next') || '';
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/login')) return '/rooms';
  return next;
}

export function renderLogin(container, { app, query }) {
  const next = safeNext(query);
  if (app.user) {
    app.navigate(next, { replace: true });
    return undefined;
  }
  document.title = 'Sign in · Convene';

  const name = h('input', {
    id: 'login-name', name: 'login', type: 'text', autocomplete: 'username',
    autocapitalize: 'none', spellcheck: 'false', required: true, maxlength: 200,
  });
  const password = h('input', {
    id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true,
  });
  const error = h('div', { id: 'login-error', class: 'alert alert-error', role: 'alert', hidden: true });
  const submit = h('button', { id: 'login-submit', type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const showPassword = h('input', { id: 'login-show-password', type: 'checkbox' });
  showPassword.addEventListener('change', () => {
    password.type = showPassword.checked ? 'text' : 'password';
  });

  const form = h('form', { id: 'login-form', class: 'login-form', novalidate: true, 'aria-describedby': 'login-error' },
    h('div', { class: 'field' }, h('label', { for: 'login-name' }, 'Login'), name),
    h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), password),
    h('div', { class: 'field field-check' }, showPassword, h('label', { for: 'login-show-password' }, 'Show password')),
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
      showError('Please enter your login.');
      name.focus();
      return;
    }
    if (!password.value) {
      showError('Please enter your password.');
      password.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    form.setAttribute('aria-busy', 'true');
    try {
      const res = await api.login(login, password.value);
      app.setUser(res.user);
      app.navigate(next, { replace: true });
    } catch (err) {
      let message = err.message;
      if (err.status === 401 && (!message || err.code === 'http_401')) message = 'The login or the password is wrong.';
      showError(message);
      password.value = '';
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
      form.removeAttribute('aria-busy');
    }
  });

  mount(container,
    h('section', { class: 'login-page' },
      h('div', { class: 'login-card panel' },
        h('div', { class: 'login-brand' },
          h('img', { src: '/assets/favicon.svg', alt: '', width: 48, height: 48 }),
          h('h1', {}, 'Sign in to Convene')),
        h('p', { class: 'muted' }, 'Use the account your organisation gave you.'),
        form)));
  name.focus();
  return undefined;
}
