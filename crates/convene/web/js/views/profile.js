// Profile (/profile, from the name in the top bar): #profile-form (#profile-display-name, #profile-language,
// #profile-save) and #password-form (#profile-current-password, #profile-new-password,
// #profile-new-password-again, #password-save, #password-error). PUT /api/v1/me, POST /api/v1/me/password.
import { api } from '../api.js';
import { h, mount, ROLE_LABELS } from '../dom.js';
import { field, pageHeader, toast } from '../ui.js';
import { t, LANGUAGES } from '../i18n.js';

const MIN_PASSWORD = 8;

function passwordInput(id, autocomplete) {
  return h('input', { id, name: id, type: 'password', autocomplete, required: true, maxlength: 256 });
}

export function renderProfile(container, { app }) {
  document.title = `${t('profile.title')} · Convene`;
  const u = app.user;

  const account = h('p', { class: 'muted', id: 'profile-account' },
    t('profile.account', { login: u.login, role: ROLE_LABELS[u.role] || u.role }));

  if (u.role === 'guest') {
    mount(container, h('section', { class: 'page profile-page', id: 'profile' },
      pageHeader(t('profile.title')), h('div', { class: 'panel' }, account, h('p', {}, t('profile.guest_note')))));
    return undefined;
  }

  // Name and language.
  const name = h('input', { id: 'profile-display-name', name: 'display_name', maxlength: 100, value: u.display_name || '', autocomplete: 'name' });
  const lang = h('select', { id: 'profile-language', name: 'language' },
    h('option', { value: '', selected: !u.language }, t('profile.language_browser')),
    LANGUAGES.map((l) => h('option', { value: l.code, lang: l.code, selected: u.language === l.code }, l.name)));
  const detailsError = h('div', { id: 'profile-error', class: 'alert alert-error', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', id: 'profile-save', class: 'btn btn-primary' }, t('common.save'));
  const details = h('form', { id: 'profile-form', class: 'panel profile-form', novalidate: true },
    h('h2', {}, t('profile.details')),
    field(t('profile.display_name'), name, t('profile.display_name_hint')),
    field(t('profile.language'), lang, t('profile.language_hint')),
    detailsError,
    h('div', { class: 'form-actions' }, save));
  details.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    detailsError.hidden = true;
    save.disabled = true;
    try {
      const saved = await api.updateMe({ display_name: name.value.trim(), language: lang.value || null });
      toast(t('profile.saved'), 'success');
      // The account's language applies at once; the page is drawn again in it.
      app.setUser(saved);
      app.navigate('/profile', { replace: true });
    } catch (err) {
      detailsError.textContent = err.message;
      detailsError.hidden = false;
    } finally {
      save.disabled = false;
    }
  });

  // Password.
  const current = passwordInput('profile-current-password', 'current-password');
  const fresh = passwordInput('profile-new-password', 'new-password');
  fresh.minLength = MIN_PASSWORD;
  const again = passwordInput('profile-new-password-again', 'new-password');
  const passwordError = h('div', { id: 'password-error', class: 'alert alert-error', role: 'alert', hidden: true });
  const change = h('button', { type: 'submit', id: 'password-save', class: 'btn btn-primary' }, t('profile.change_password'));
  const passwords = h('form', { id: 'password-form', class: 'panel profile-form', novalidate: true },
    h('h2', {}, t('profile.password')),
    h('p', { class: 'muted' }, t('profile.password_intro')),
    // For password managers: whose password this is.
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: u.login, hidden: true, readonly: true }),
    field(t('profile.current_password'), current),
    field(t('profile.new_password'), fresh, t('profile.new_password_hint', { min: MIN_PASSWORD })),
    field(t('profile.new_password_again'), again),
    passwordError,
    h('div', { class: 'form-actions' }, change));
  const showPasswordError = (message, focus) => {
    passwordError.textContent = message;
    passwordError.hidden = false;
    if (focus) focus.focus();
  };
  passwords.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    passwordError.hidden = true;
    if (!current.value) return showPasswordError(t('profile.current_missing'), current);
    if ([...fresh.value].length < MIN_PASSWORD) return showPasswordError(t('profile.password_too_short', { min: MIN_PASSWORD }), fresh);
    if (fresh.value !== again.value) return showPasswordError(t('profile.passwords_differ'), again);
    change.disabled = true;
    try {
      const out = await api.changePassword(current.value, fresh.value);
      const count = Number(out && out.other_sessions_ended) || 0;
      toast(t('profile.password_changed', { count }), 'success');
      passwords.reset();
    } catch (err) {
      showPasswordError(err.code === 'wrong_password' ? t('profile.wrong_password') : err.message, err.code === 'wrong_password' ? current : null);
      if (err.code === 'wrong_password') current.value = '';
    } finally {
      change.disabled = false;
    }
  });

  mount(container, h('section', { class: 'page profile-page', id: 'profile' },
    pageHeader(t('profile.title')),
    account,
    h('div', { class: 'profile-grid' }, details, passwords)));
  return undefined;
}
