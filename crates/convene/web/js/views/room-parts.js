// Rendering pieces of the room page: participant rows and chat messages.
import { h, icon, formatTime, formatDateTime } from '../dom.js';
import { displayName } from '../protocol.js';
import { t } from '../i18n.js';
import { linkify } from '../linkify.js';

/** A round avatar with initials; the colour follows the name. */
export function avatar(name) {
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const initials = (words.length > 1 ? words[0][0] + words[words.length - 1][0] : (words[0] || '?').slice(0, 2)).toUpperCase();
  let hash = 0;
  for (const ch of String(name)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return h('span', { class: 'avatar', dataset: { hue: String(hash % 8) }, 'aria-hidden': 'true' }, initials);
}

const ACTIONS = [
  { action: 'lower_hand', label: () => t('participant.lower_hand'), when: (p) => p.hand_raised, aria: (name) => t('participant.lower_hand_of', { name }) },
  { action: 'mute', label: () => t('participant.mute'), when: (p) => !!p.media?.microphone, icon: 'mic_off', aria: (name) => t('participant.mute_of', { name }) },
  { action: 'ask_mute', label: () => t('participant.ask_mute'), when: () => true, aria: (name) => t('participant.ask_mute_of', { name }) },
  { action: 'grant_presenter', label: () => t('participant.grant_presenter'), when: (p, kind) => kind === 'presentation' && !p.presenter && !p.moderator, icon: 'presenter', aria: (name) => t('participant.grant_presenter_of', { name }) },
  { action: 'revoke_presenter', label: () => t('participant.revoke_presenter'), when: (p, kind) => kind === 'presentation' && !!p.presenter, aria: (name) => t('participant.revoke_presenter_of', { name }) },
  { action: 'grant_whiteboard', label: () => t('participant.grant_whiteboard'), when: (p) => !p.moderator && !p.can_draw, aria: (name) => t('participant.grant_whiteboard_of', { name }) },
  { action: 'revoke_whiteboard', label: () => t('participant.revoke_whiteboard'), when: (p) => !p.moderator && !!p.can_draw, aria: (name) => t('participant.revoke_whiteboard_of', { name }) },
  { action: 'grant_moderator', label: () => t('participant.grant_moderator'), when: (p) => !p.moderator, aria: (name) => t('participant.grant_moderator_of', { name }) },
  { action: 'revoke_moderator', label: () => t('participant.revoke_moderator'), when: (p) => p.moderator, aria: (name) => t('participant.revoke_moderator_of', { name }) },
  { action: 'kick', label: () => t('participant.kick'), when: () => true, icon: 'kick', danger: true, aria: (name) => t('participant.kick_of', { name }) },
];

/**
 * Renders the participant list in place.
 * Each row: li[data-participant-id][data-login][data-microphone][data-camera][data-screen], .participant-name,
 * .badge-moderator, .badge-presenter, .hand-indicator, .media-icons (.media-microphone, .media-camera, .media-screen),
 * .badge-draw (may draw on the whiteboard, not being a moderator), and for moderators buttons [data-action]
 * (lower_hand, mute, ask_mute, grant_presenter, revoke_presenter, grant_whiteboard, revoke_whiteboard,
 * grant_moderator, revoke_moderator, kick). kind: the room's kind; speaker: the active speaker's id.
 */
export function renderParticipants(ul, participants, { you, moderator, onAction, kind = null, speaker = null }) {
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
      isYou ? h('span', { class: 'badge badge-you' }, t('participant.you')) : null,
      p.moderator ? h('span', { class: 'badge badge-moderator', title: t('participant.moderator') }, icon('shield'), t('participant.moderator')) : null,
      p.guest ? h('span', { class: 'badge badge-guest', title: t('lobby.guest_title') }, t('lobby.guest')) : null,
      p.presenter ? h('span', { class: 'badge badge-presenter', title: t('participant.presenter_title') }, icon('presenter'), t('participant.presenter')) : null,
      p.can_draw && !p.moderator ? h('span', { class: 'badge badge-draw', title: t('participant.can_draw_title') }, t('participant.can_draw')) : null,
      p.hand_raised ? h('span', { class: 'hand-indicator', title: t('participant.hand_raised'), role: 'img', 'aria-label': t('participant.hand_raised') }, icon('hand')) : null);
    const media = mediaIcons(p);
    let actions = null;
    if (moderator && !isYou) {
      actions = h('div', { class: 'participant-actions' },
        ACTIONS.filter((a) => a.when(p, kind)).map((a) => h('button', {
          type: 'button',
          class: ['btn', 'btn-small', a.danger ? 'btn-danger-ghost' : 'btn-secondary'],
          dataset: { action: a.action },
          'aria-label': a.aria(name),
          on: { click: () => onAction(a.action, p) },
        }, a.icon ? icon(a.icon) : null, a.label())));
    }
    const m = p.media || {};
    const speaking = speaker != null && String(speaker) === String(p.id) && !!m.microphone;
    return h('li', {
      class: ['participant', isYou ? 'is-you' : null, p.hand_raised ? 'hand-raised' : null, p.moderator ? 'is-moderator' : null, speaking ? 'speaking' : null],
      dataset: {
        participantId: String(p.id),
        login: user.login || '',
        userId: user.id != null ? String(user.id) : '',
        moderator: String(!!p.moderator),
        hand: String(!!p.hand_raised),
        microphone: String(!!m.microphone),
        camera: String(!!m.camera),
        screen: String(!!m.screen),
        presenter: String(!!p.presenter),
        canDraw: String(!!p.can_draw),
      },
    },
    h('div', { class: 'participant-row' }, avatar(name), h('div', { class: 'participant-main' }, nameEl, badges), media),
    actions);
  });
  ul.replaceChildren(...rows);

  if (focusKey) {
    const li = ul.querySelector(`li[data-participant-id="${CSS.escape(focusKey.id)}"]`);
    const target = li && (focusKey.action ? li.querySelector(`[data-action="${CSS.escape(focusKey.action)}"]`) : null);
    (target || li?.querySelector('button') || ul.closest('section'))?.focus?.();
  }
}

/** The microphone, camera and screen state of a participant: icons for what is on; a crossed microphone when
 * they may speak but are silent. */
function mediaIcons(p) {
  const m = p.media || {};
  const item = (cls, name, label) => h('span', { class: ['media-icon', cls], role: 'img', 'aria-label': label, title: label }, icon(name));
  const items = [
    m.screen ? item('media-screen', 'screen', t('participant.sharing_screen')) : null,
    m.camera ? item('media-camera', 'video', t('participant.camera_on')) : null,
    m.microphone ? item('media-microphone is-on', 'mic', t('participant.mic_on'))
      : p.can_publish ? item('media-microphone is-off', 'mic_off', t('participant.mic_off')) : null,
  ].filter(Boolean);
  return items.length ? h('span', { class: 'media-icons' }, items) : null;
}

/** The active speaker's row gets .speaking (without rebuilding the list). */
export function markSpeaker(ul, id) {
  for (const li of ul.querySelectorAll('li[data-participant-id]')) {
    li.classList.toggle('speaking', id != null && li.dataset.participantId === String(id) && li.dataset.microphone === 'true');
  }
}

/** One chat message: .chat-message[data-message-id] with .chat-author, time.chat-time and .chat-text (URLs in it
 * as links a.chat-link, built by linkify.js with DOM calls). */
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
  h('p', { class: 'chat-text' }, linkify(m.text)));
}
