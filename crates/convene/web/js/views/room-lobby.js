// The waiting room on the room page (docs/protocol.md, *Waiting room*): what a waiter sees (#waiting-room), the
// list of those waiting for moderators (#lobby-panel, live from `lobby` frames, with Admit and Refuse), and the
// moderators' Invite button (#open-invite, the dialog is views/invite-dialog.js).
import { h, icon } from '../dom.js';
import { displayName } from '../protocol.js';
import { t } from '../i18n.js';
import { avatar } from './room-parts.js';
import { openInviteDialog } from './invite-dialog.js';
import { rememberGuestRoom } from './guest.js';

/**
 * @param {object} o
 * @param {import('../protocol.js').RoomSession} o.session
 * @param {string|number} o.roomId
 * @param {() => object|null} o.user  the signed-in account (guests do not invite)
 * @param {(message: string, level?: string, opts?: object) => void} o.notice
 */
export function createLobbyView({ session, roomId, user, notice }) {
  rememberGuestRoom(user(), roomId);
  let waiting = [];
  let seen = new Set(); // ids already announced to this moderator

  // --- a waiter ---
  const waitingName = h('p', { id: 'waiting-as', class: 'muted' });
  const waitingPanel = h('section', { id: 'waiting-room', class: 'panel waiting-room', hidden: true, role: 'status', 'aria-live': 'polite' },
    h('div', { class: 'waiting-pulse', 'aria-hidden': 'true' }, icon('users')),
    h('h2', { id: 'waiting-title' }, t('lobby.waiting_title')),
    h('p', { id: 'waiting-text' }, t('lobby.waiting_text')),
    waitingName);

  // --- moderators ---
  const count = h('span', { id: 'lobby-count', class: 'count-pill' }, '0');
  const list = h('ul', { id: 'lobby-list', class: 'participant-list lobby-list', 'aria-labelledby': 'lobby-title' });
  const lobbyPanel = h('section', { class: 'panel side-panel lobby-panel', id: 'lobby-panel', hidden: true },
    h('h2', { id: 'lobby-title' }, icon('hand'), ` ${t('lobby.title')} `, count),
    list);
  const inviteButton = h('button', {
    type: 'button', id: 'open-invite', class: 'btn btn-secondary btn-tool', hidden: true, 'aria-label': t('invite.open_label'),
  }, icon('plus'), h('span', { class: 'label' }, t('invite.open')));
  inviteButton.addEventListener('click', () => openInviteDialog({ roomId, roomName: session.room?.name || '' }));

  function decide(action, w) {
    if (!session.send(action, { participant_id: w.id })) notice(t('room.action_not_sent'), 'warn');
  }

  function render() {
    const moderator = session.isModerator && session.state === 'open';
    const u = user();
    inviteButton.hidden = !moderator || !u || u.role === 'guest';
    lobbyPanel.hidden = !moderator || (!session.room?.waiting_room && waiting.length === 0);
    count.textContent = String(waiting.length);
    if (waiting.length === 0) {
      list.replaceChildren(h('li', { class: 'participant-placeholder muted', id: 'lobby-empty' }, t('lobby.empty')));
      return;
    }
    list.replaceChildren(...waiting.map((w) => {
      const name = displayName(w);
      return h('li', { class: 'participant lobby-entry', dataset: { participantId: String(w.id), login: w.user?.login || '', guest: String(!!w.guest) } },
        h('div', { class: 'participant-row' }, avatar(name),
          h('div', { class: 'participant-main' },
            h('span', { class: 'participant-name lobby-name', title: w.user?.login || name }, name),
            h('span', { class: 'participant-badges' }, w.guest ? h('span', { class: 'badge badge-guest' }, t('lobby.guest')) : null))),
        h('div', { class: 'participant-actions' },
          h('button', {
            type: 'button', class: 'btn btn-small btn-primary', dataset: { action: 'admit' },
            'aria-label': t('lobby.admit_label', { name }), on: { click: () => decide('admit', w) },
          }, t('lobby.admit')),
          h('button', {
            type: 'button', class: 'btn btn-small btn-danger-ghost', dataset: { action: 'refuse' },
            'aria-label': t('lobby.refuse_label', { name }), on: { click: () => decide('refuse', w) },
          }, t('lobby.refuse'))));
    }));
  }

  const listeners = [];
  const on = (type, fn) => {
    const wrapped = (ev) => fn(ev.detail || {});
    session.addEventListener(type, wrapped);
    listeners.push([type, wrapped]);
  };
  on('waiting', () => {
    waitingPanel.hidden = false;
    const u = user();
    waitingName.textContent = u ? t('lobby.waiting_as', { name: u.display_name || u.login }) : '';
  });
  on('admitted', () => notice(t('lobby.admitted'), 'success', { ms: 5000 }));
  on('state', ({ state }) => {
    if (state !== 'waiting') waitingPanel.hidden = true;
    render();
  });
  on('lobby', (f) => {
    waiting = Array.isArray(f.waiting) ? f.waiting : [];
    // A moderator hears of each newcomer once.
    for (const w of waiting) {
      if (!seen.has(w.id) && session.isModerator) notice(t('lobby.someone_waits', { name: displayName(w) }), 'info', { ms: 8000 });
    }
    seen = new Set(waiting.map((w) => w.id));
    render();
  });
  on('welcome', render);
  on('participants', render);
  on('room', render);
  on('moderator', ({ you, moderator }) => {
    if (you && !moderator) waiting = [];
    render();
  });

  return {
    waitingPanel,
    lobbyPanel,
    inviteButton,
    destroy() {
      for (const [type, fn] of listeners) session.removeEventListener(type, fn);
    },
  };
}
