// Pure pieces of the media engine (js/media.js) and the video grid (js/views/room-media.js): layout choice,
// bookkeeping of the receiving connection's tracks, ICE gathering, statistics, messages for people.
// No DOM (tests load this file in Node, web/tests/media.test.mjs); messages come from js/i18n.js.
import { t } from './i18n.js';

export const LABELS = Object.freeze(['microphone', 'camera', 'screen']);
export const GATHER_TIMEOUT_MS = 2500;
export const ANSWER_TIMEOUT_MS = 15000;

/**
 * The grid's arrangement for `tiles` tiles, `screens` of which are screen shares.
 * layout: '1', '2', '4' (3–4 tiles), '9' (5–9), 'many' (more: 4 columns, scrolling), or 'screen' (a screen share
 * large, the other tiles in a strip beside it). columns / rows: the grid's tracks (rows 0: as many as needed).
 */
export function gridLayout(tiles, screens = 0) {
  const n = Math.max(0, Math.floor(Number(tiles) || 0));
  if (screens > 0 && n > 1) return { layout: 'screen', columns: 2, rows: Math.max(3, n - 1) };
  if (n <= 1) return { layout: '1', columns: 1, rows: 1 };
  if (n === 2) return { layout: '2', columns: 2, rows: 1 };
  if (n <= 4) return { layout: '4', columns: 2, rows: 2 };
  if (n <= 9) return { layout: '9', columns: 3, rows: Math.ceil(n / 3) };
  return { layout: 'many', columns: 4, rows: 0 };
}

/** Which simulcast layer to ask for a camera shown in this layout: small tiles get the low one. */
export function layerFor(layout, { main = false } = {}) {
  if (main) return 'high';
  return layout === '1' || layout === '2' || layout === '4' ? 'high' : 'low';
}

function labelOf(label, kind) {
  if (LABELS.includes(label)) return label;
  return kind === 'audio' ? 'microphone' : 'camera';
}

/**
 * Bookkeeping of the down connection: what each mid carries (from `media_tracks`) and the track that arrived
 * on it (from `ontrack`). Either may come first; a mid is shown once both are known.
 */
export class TrackMap {
  constructor() {
    this.info = new Map(); // mid → {participantId, kind, label}
    this.tracks = new Map(); // mid → MediaStreamTrack
  }

  /** A `media_tracks` list (the whole truth). Returns the mids that went away; their tracks are forgotten. */
  setInfo(list) {
    const next = new Map();
    for (const t of Array.isArray(list) ? list : []) {
      if (!t || t.mid == null || t.participant_id == null) continue;
      const kind = t.kind === 'audio' ? 'audio' : 'video';
      next.set(String(t.mid), { participantId: String(t.participant_id), kind, label: labelOf(t.label, kind) });
    }
    const gone = [...this.info.keys()].filter((mid) => !next.has(mid));
    for (const mid of gone) this.tracks.delete(mid);
    this.info = next;
    return gone;
  }

  setTrack(mid, track) {
    if (mid == null || !track) return;
    this.tracks.set(String(mid), track);
  }

  removeTrack(mid) {
    this.tracks.delete(String(mid));
  }

  clear() {
    this.info.clear();
    this.tracks.clear();
  }

  /** [{mid, participantId, kind, label, track}] for every mid with both a description and a track. */
  entries() {
    const out = [];
    for (const [mid, info] of this.info) {
      const track = this.tracks.get(mid);
      if (track) out.push({ mid, ...info, track });
    }
    return out;
  }

  /** participant id → {microphone, camera, screen} (tracks or null; the first of a label wins). */
  byParticipant() {
    const out = new Map();
    for (const e of this.entries()) {
      let slot = out.get(e.participantId);
      if (!slot) out.set(e.participantId, (slot = { microphone: null, camera: null, screen: null }));
      if (!slot[e.label]) slot[e.label] = e.track;
    }
    return out;
  }
}

/** Resolves once the connection's ICE gathering is complete, or after timeoutMs (never rejects). */
export function waitForIceGathering(pc, timeoutMs = GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    let timer = null;
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onState);
      pc.removeEventListener('icecandidate', onCandidate);
      resolve();
    };
    const onState = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const onCandidate = (ev) => {
      if (!ev.candidate) done();
    };
    timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', onState);
    pc.addEventListener('icecandidate', onCandidate);
  });
}

/** Sums a getStats() report: decoded video frames and received audio bytes of the inbound RTP streams. */
export function sumInbound(report) {
  let videoFramesDecoded = 0;
  let audioBytesReceived = 0;
  const each = (r) => {
    if (!r || r.type !== 'inbound-rtp') return;
    const kind = r.kind || r.mediaType;
    if (kind === 'video') videoFramesDecoded += Number(r.framesDecoded) || 0;
    else if (kind === 'audio') audioBytesReceived += Number(r.bytesReceived) || 0;
  };
  if (report && typeof report.forEach === 'function') report.forEach(each);
  return { videoFramesDecoded, audioBytesReceived };
}

/** What kind of failure a getUserMedia / getDisplayMedia error is: denied, missing, busy, insecure or other. */
export function mediaErrorKind(err) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') return 'denied';
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') return 'missing';
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') return 'busy';
  if (name === 'NotSupportedError' || name === 'TypeError') return 'insecure';
  return 'other';
}

/** A getUserMedia / getDisplayMedia failure in words for people. label: microphone, camera or screen. */
export function describeMediaError(err, label) {
  const kind = mediaErrorKind(err);
  if (label === 'screen') {
    if (kind === 'denied') return t('media.error.screen_denied');
    if (kind === 'missing') return t('media.error.screen_missing');
    if (kind === 'busy') return t('media.error.screen_busy');
    if (kind === 'insecure') return t('media.error.screen_insecure');
    return err && err.message ? t('media.error.screen_other_because', { message: err.message }) : t('media.error.screen_other');
  }
  const mic = label === 'microphone';
  if (kind === 'denied') return mic ? t('media.error.mic_denied') : t('media.error.camera_denied');
  if (kind === 'missing') return mic ? t('media.error.mic_missing') : t('media.error.camera_missing');
  if (kind === 'busy') return mic ? t('media.error.mic_busy') : t('media.error.camera_busy');
  if (kind === 'insecure') return mic ? t('media.error.mic_insecure') : t('media.error.camera_insecure');
  if (err && err.message) {
    return mic ? t('media.error.mic_other_because', { message: err.message }) : t('media.error.camera_other_because', { message: err.message });
  }
  return mic ? t('media.error.mic_other') : t('media.error.camera_other');
}

/** In words: why this participant may not publish (contains "only" in English, for people and tests alike). */
export function rightsMessage(kind) {
  if (kind === 'presentation') return t('media.rights.presentation');
  if (kind === 'interview') return t('media.rights.interview');
  return t('media.rights.other');
}
