// Rendering pieces of the room page: participant rows and chat messages.
import { h, icon, formatTime, formatDateTime } from '../dom.js';
import { displayName } from '../protocol.js';

/** A round avatar with initials; the colour follows the name. */
export function avatar(name) {
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const initials = (words.length > 1 ? words[0][0] + words[words.length - 1][0] : (words[0] || '?').slice(0, 2)).toUpperCase();
  let hash = 0;
  for (const ch of String(name)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return h('span', { class: 'avatar', dataset: { hue: String(hash % 8) }, 'aria-hidden': 'true' }, initials);
}

const ACTIONS = [
  { action: 'lower_hand', label: 'Lower hand', when: (p) => p.hand_raised, aria: (n) => `Lower the hand of ${n}` },
  { action: 'ask_mute', label: 'Ask to mute', when: () => true, icon: 'mic_off', aria: (n) => `Ask ${n} to mute` },
  { action: 'grant_moderator', label: 'Make moderator', when: (p) => !p.moderator, aria: (n) => `Make ${n} a moderator` },
  { action: 'revoke_moderator', label: 'Revoke moderator', when: (p) => p.moderator, aria: (n) => `Revoke moderator rights of ${n}` },
  { action: 'kick', label: 'Remove', when: () => true, icon: 'kick', danger: true, aria: (n) => `Remove ${n} from the room` },
];

/**
 * Renders the participant list in place.
 * Each row: li[data-participant-id][data-login], .participant-name, .badge-moderator, .hand-indicator,
 * and for moderators buttons [data-action] (lower_hand, ask_mute, grant_moderator, revoke_moderator, kick).
 */
export function renderParticipants(ul, participants, { you, moderator, onAction }) {
  // Keep keyboard focus on the same button across re-renders.
  const active = document.activeElement;
  let focusKey = null;
  if (active && ul.contains(active)) {
    const li = active.closest('li[data-participant-id]');
    if (li) focusKey = { id: li.dataset.participantId, action: active.dataset.action || null };
  }

  const rows = participants.map((p) => {
    const name = displayName(p);
    const isYou = !!you && p.id === you.id;
    const user = p.user || {};
    const nameEl = h('span', { class: 'participant-name', title: user.login ? `${name} (${user.login})` : name }, name);
    const badges = h('span', { class: 'participant-badges' },
      isYou ? h('span', { class: 'badge badge-you' }, 'You') : null,
      p.moderator ? h('span', { class: 'badge badge-moderator', title: 'Moderator' }, icon('shield'), 'Moderator') : null,
      p.hand_raised ? h('span', { class: 'hand-indicator', title: 'Hand raised', role: 'img', 'aria-label': 'Hand raised' }, icon('hand')) : null);
    let actions = null;
    if (moderator && !isYou) {
      actions = h('div', { class: 'participant-actions' },
        ACTIONS.filter((a) => a.when(p)).map((a) => h('button', {
          type: 'button',
          class: ['btn', 'btn-small', a.danger ? 'btn-danger-ghost' : 'btn-secondary'],
          dataset: { action: a.action },
          'aria-label': a.aria(name),
          on: { click: () => onAction(a.action, p) },
        }, a.icon ? icon(a.icon) : null, a.label)));
    }
    return h('li', {
      class: ['participant', isYou ? 'is-you' : null, p.hand_raised ? 'hand-raised' : null, p.moderator ? 'is-moderator' : null],
      dataset: {
        participantId: String(p.id),
        login: user.login || '',
        userId: user.id != null ? String(user.id) : '',
        moderator: String(!!p.moderator),
        hand: String(!!p.hand_raised),
      },
    },
    h('div', { class: 'participant-row' }, avatar(name), h('div', { class: 'participant-main' }, nameEl, badges)),
    actions);
  });
  ul.replaceChildren(...rows);

  if (focusKey) {
    const li = ul.querySelector(`li[data-participant-id="${CSS.escape(focusKey.id)}"]`);
    const target = li && (focusKey.action ? li.querySelector(`[data-action="${CSS.escape(focusKey.action)}"]`) : null);
    (target || li?.querySelector('button') || ul.closest('section'))?.focus?.();
  }
}

/** One chat message: .chat-message[data-message-id] with .chat-author, time.chat-time and .chat-text. */
export function renderMessage(m, you) {
  const user = m.user || {};
  const own = !!you && (m.participant_id === you.id || (you.user && user.id === you.user.id));
  return h('div', {
    class: ['chat-message', own ? 'own' : null],
    dataset: { messageId: String(m.id), login: user.login || '' },
  },
  h('div', { class: 'chat-meta' },
    h('span', { class: 'chat-author' }, displayName(user)),
    h('time', { class: 'chat-time', datetime: m.sent_at || '', title: formatDateTime(m.sent_at) }, formatTime(m.sent_at))),
  h('p', { class: 'chat-text' }, m.text));
}
