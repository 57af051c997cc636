// The close codes of the live-room protocol (docs/protocol.md) and what they mean for
// people: the sentences come from the catalogues of js/i18n.js. No DOM here.
import { t, language } from './i18n.js';

/** Close codes of the protocol. */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001, // node shutting down or draining: re-enter
  ABNORMAL: 1006, // no close frame: connection lost
  POLICY: 1008,
  TOO_BIG: 1009,
  SERVER_ERROR: 1011,
  KICKED: 4001,
  REFUSED: 4002, // a moderator did not let us in from the waiting room
  FORBIDDEN: 4003,
  TOO_SLOW: 4008,
  ROOM_FULL: 4009,
  ROOM_MOVED: 4010, // the room is now hosted by another node: re-enter at once
  BAD_TOKEN: 4401,
});

/** Reasons of a `left` frame, in words (read in the language of the moment): "{name} left the room". */
const LEFT_KEYS = {
  left: () => t('left.left'),
  kicked: () => t('left.kicked'),
  timeout: () => t('left.timeout'),
  replaced: () => t('left.replaced'),
  shutdown: () => t('left.shutdown'),
  room_deleted: () => t('left.room_deleted'),
  slow: () => t('left.slow'),
  moved: () => t('left.moved'),
  error: () => t('left.error'),
};
export const LEFT_REASONS = Object.freeze(Object.defineProperties({}, Object.fromEntries(
  Object.entries(LEFT_KEYS).map(([k, get]) => [k, { get, enumerable: true }]))));

/** "the room was deleted" → "The room was deleted." */
export function sentence(text) {
  const x = String(text || '').trim();
  if (!x) return '';
  const s = x.charAt(0).toUpperCase() + x.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}

/**
 * What a close code means for the person in the room.
 * title: a short heading; message: one or two sentences (the server's reason when it gave one).
 * retry: 'auto' — reconnect by itself; 'manual' — offer a button; 'none' — the visit is over.
 */
export function describeClose(code, reason) {
  // The server gives its reasons in English: other languages show their own words instead.
  const why = language() === 'en' ? sentence(reason) : '';
  // The server's reason, unless it only repeats the title.
  const same = (title) => why.replace(/\.$/, '').toLowerCase() === title.toLowerCase();
  const d = (retry, level, title, fallback) => ({ retry, level, title, message: why && !same(title) ? why : fallback });
  switch (code) {
    case CloseCode.NORMAL:
      return d('manual', 'info', t('close.disconnected'), t('close.normal'));
    case CloseCode.GOING_AWAY:
      return { retry: 'auto', level: 'warn', title: t('close.reconnecting'), message: t('close.going_away') };
    case CloseCode.POLICY:
      return d('manual', 'error', t('close.disconnected'), t('close.policy'));
    case CloseCode.TOO_BIG:
      return d('manual', 'error', t('close.disconnected'), t('close.too_big'));
    case CloseCode.REFUSED:
      return d('none', 'error', t('close.not_let_in_title'), t('close.not_let_in'));
    case CloseCode.KICKED:
      return d('none', 'error', t('close.kicked_title'), t('close.kicked'));
    case CloseCode.FORBIDDEN:
      return d('none', 'error', t('close.forbidden_title'), t('close.forbidden'));
    case CloseCode.TOO_SLOW:
      return { retry: 'auto', level: 'warn', title: t('close.reconnecting'), message: t('close.too_slow') };
    case CloseCode.ROOM_MOVED:
      return { retry: 'auto', level: 'info', title: t('close.moving_title'), message: t('close.moved') };
    case CloseCode.ROOM_FULL:
      return { retry: 'manual', level: 'error', title: t('close.full_title'), message: t('close.full') };
    case CloseCode.BAD_TOKEN:
      return { retry: 'auto', level: 'warn', title: t('close.refused_title'), message: t('close.refused_retrying', { why: why || t('close.bad_token') }) };
    default:
      return { retry: 'auto', level: 'warn', title: t('close.lost_title'), message: t('close.lost') };
  }
}
