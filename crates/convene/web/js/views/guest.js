// Guests (role `guest`, from an invitation) reach their room only: any other page of the UI shows this one
// (#guest-only) instead, with the way back into the room. Which room: GET /me's `guest.room_id` when the server
// says, else the one remembered in this browser when the invitation was redeemed or the room page opened.
import { h, mount } from '../dom.js';
import { t } from '../i18n.js';

const KEY = 'convene.guest';

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** Remembers the room of this guest account (per browser and origin). */
export function rememberGuestRoom(user, roomId) {
  if (!user || user.role !== 'guest' || roomId == null) return;
  try {
    storage()?.setItem(KEY, JSON.stringify({ user: user.id, room: String(roomId) }));
  } catch {
    // storage full or denied: the page then offers no link back
  }
}

/** The room of a guest account, or null when it is not known here. */
export function guestRoom(user) {
  if (!user || user.role !== 'guest') return null;
  if (user.guest && user.guest.room_id != null) return String(user.guest.room_id);
  try {
    const rec = JSON.parse(storage()?.getItem(KEY) || 'null');
    return rec && rec.user === user.id ? rec.room : null;
  } catch {
    return null;
  }
}

/** The page a guest sees anywhere but in its room. */
export function renderGuestOnly(container, { app }) {
  document.title = `${t('guest.title')} · Convene`;
  const room = guestRoom(app.user);
  mount(container, h('section', { class: 'panel empty-state', id: 'guest-only' },
    h('h1', {}, t('guest.title')),
    h('p', {}, t('guest.only_room')),
    room
      ? h('a', { href: `/room/${encodeURIComponent(room)}`, id: 'guest-room-link', class: 'btn btn-primary', 'data-link': true }, t('guest.go_to_room'))
      : h('p', { class: 'muted' }, t('guest.open_link_again'))));
}
