// The invitation page (/invite/{token}): what the link is for, a display name (and the password, if it has one),
// then a guest session and into the room (its device check first; in a cluster the room page follows the room to
// its node). A link that cannot be used says why (#invite-refused[data-code]).
//
// Hooks: #invite-page[data-state] (checking, form, refused), #invite-room, #invite-form, #invite-name,
// #invite-password, #invite-submit, #invite-error, #invite-refused with #invite-refused-title, #invite-enter-self.
import { request } from '../api.js';
import { h, mount, icon, formatShortDateTime } from '../dom.js';
import { t } from '../i18n.js';
import { rememberGuestRoom, guestRoom } from './guest.js';

/** Why a link cannot be used, by the API's error code. */
const REFUSED = {
  invitation_invalid: () => [t('invite.invalid_title'), t('invite.invalid_text')],
  invitation_expired: () => [t('invite.expired_title'), t('invite.expired_text')],
  invitation_revoked: () => [t('invite.revoked_title'), t('invite.revoked_text')],
  invitation_used: () => [t('invite.used_title'), t('invite.used_text')],
};

export async function renderInvite(container, { app, params }) {
  const token = params[0];
  document.title = `${t('invite.title')} · Convene`;
  const page = h('section', { id: 'invite-page', class: 'login-page invite-page', dataset: { state: 'checking' } });
  const card = h('div', { class: 'login-card panel' });
  page.append(card);
  mount(container, page);
  mount(card, h('p', { class: 'muted' }, t('invite.checking')));

  function refused(err) {
    page.dataset.state = 'refused';
    const known = REFUSED[err.code];
    const [title, text] = known ? known() : [t('invite.error_title'), err.message];
    document.title = `${title} · Convene`;
    // A guest who came in with this link already (a reload after redeeming a single-use one) goes on.
    const room = guestRoom(app.user);
    mount(card,
      h('div', { id: 'invite-refused', class: 'invite-refused', role: 'alert', dataset: { code: err.code || '' } },
        h('h1', { id: 'invite-refused-title' }, title),
        h('p', { id: 'invite-refused-text' }, text),
        room ? h('a', { href: `/room/${encodeURIComponent(room)}`, id: 'guest-room-link', class: 'btn btn-primary', 'data-link': true }, t('guest.go_to_room')) : null));
  }

  let info;
  try {
    info = await request('POST', '/invitations/check', { token }, { quiet401: true });
  } catch (err) {
    if (err.status === 404 || err.status === 410 || err.status === 400) {
      refused(err);
      return undefined;
    }
    throw err;
  }
  const roomId = info.room.id;
  const roomName = info.room.name || '';
  page.dataset.state = 'form';
  document.title = roomName ? `${roomName} · Convene` : `${t('invite.title')} · Convene`;

  const name = h('input', {
    id: 'invite-name', name: 'display_name', type: 'text', autocomplete: 'name', required: true, maxlength: 100,
    'aria-describedby': 'invite-name-hint',
  });
  const password = info.password_required
    ? h('input', { id: 'invite-password', name: 'password', type: 'password', autocomplete: 'off', required: true, maxlength: 256 })
    : null;
  const error = h('div', { id: 'invite-error', class: 'alert alert-error', role: 'alert', hidden: true });
  const submit = h('button', { id: 'invite-submit', type: 'submit', class: 'btn btn-primary btn-block' }, icon('enter'), t('invite.submit'));
  const form = h('form', { id: 'invite-form', class: 'login-form', novalidate: true, 'aria-describedby': 'invite-error' },
    h('div', { class: 'field' }, h('label', { for: 'invite-name' }, t('invite.name')), name,
      h('small', { class: 'field-hint', id: 'invite-name-hint' }, t('invite.name_hint'))),
    password ? h('div', { class: 'field' }, h('label', { for: 'invite-password' }, t('invite.password')), password,
      h('small', { class: 'field-hint' }, t('invite.password_hint'))) : null,
    error,
    submit);

  // Someone signed in already: enter as themselves, or (a guest of this very room) go on.
  const u = app.user;
  let already = null;
  if (u && u.role !== 'guest') {
    already = h('div', { class: 'alert alert-info invite-signed-in' },
      h('p', {}, t('invite.signed_in_as', { name: u.display_name || u.login })),
      h('a', { href: `/room/${encodeURIComponent(roomId)}`, id: 'invite-enter-self', class: 'btn btn-secondary', 'data-link': true },
        t('invite.enter_as_self', { name: u.display_name || u.login })),
      h('p', { class: 'muted small' }, t('invite.or_guest')));
  }

  mount(card,
    h('div', { class: 'login-brand' },
      h('img', { src: '/assets/favicon.svg', alt: '', width: 48, height: 48 }),
      h('h1', {}, t('invite.title'))),
    h('p', { id: 'invite-room', class: 'invite-room' }, roomName ? t('invite.to_room', { room: roomName }) : ''),
    h('p', { class: 'muted small' },
      info.role === 'moderator' ? `${t('invite.as_moderator')} ` : '',
      t('invite.expires', { time: formatShortDateTime(info.expires_at) })),
    already,
    form);
  name.focus();

  const showError = (message, field) => {
    error.textContent = message;
    error.hidden = false;
    field?.focus();
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const displayName = name.value.trim();
    if (!displayName) return showError(t('invite.name_required'), name);
    if ([...displayName].length > 100 || /\p{Cc}/u.test(displayName)) return showError(t('invite.name_invalid'), name);
    if (password && !password.value) return showError(t('invite.password_required'), password);
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const res = await request('POST', '/invitations/redeem',
        { token, display_name: displayName, password: password ? password.value : null, client: 'web' }, { quiet401: true });
      rememberGuestRoom(res.user, res.room.id);
      app.setUser(res.user);
      app.navigate(`/room/${encodeURIComponent(res.room.id)}`, { replace: true });
    } catch (err) {
      if (REFUSED[err.code]) {
        refused(err);
      } else if (err.code === 'wrong_password' || err.code === 'password_required') {
        showError(err.code === 'wrong_password' ? t('invite.wrong_password') : t('invite.password_required'), password);
        if (password) password.value = '';
      } else if (err.status === 429) {
        showError(t('invite.too_many', { seconds: err.retryAfter || 1 }));
      } else {
        showError(err.message);
      }
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
    return undefined;
  });
  return undefined;
}
