// Audio, video and screen sharing: the client side of "Audio, video and screen sharing" in docs/protocol.md.
//
// Like protocol.js, this module knows nothing about the page: MediaEngine listens to a RoomSession, drives the
// peer connections and reports what there is to show; views (js/views/room-media.js) render it.
//
//   up   — what this participant publishes. The client offers, the server answers. One sendonly transceiver per
//          track, labelled microphone, camera or screen. A transceiver is added the first time its track is
//          turned on and then kept: turning a track off or switching devices is a replaceTrack(), with no
//          renegotiation. An offer goes out when a transceiver is added, and whenever publishing starts again
//          after everything was off (the server checks the room's rules, e.g. the interview limit, on offers).
//   down — what the others publish. The server offers (a new offer whenever tracks come or go), the client
//          answers; `media_tracks` then says which mid carries whose microphone, camera or screen.
//
// The server is ICE-lite and answers only: SDP is sent once ICE gathering is complete (or after a short
// timeout), never trickled. Codecs: Opus and VP8. A new welcome (reconnection) rebuilds both connections.
//
// The pure pieces (layout, track bookkeeping, messages) are in media-parts.js.

import {
  LABELS, GATHER_TIMEOUT_MS, ANSWER_TIMEOUT_MS, TrackMap, waitForIceGathering, sumInbound, describeMediaError, rightsMessage,
} from './media-parts.js';
import { t } from './i18n.js';

const OFF = Object.freeze({ microphone: false, camera: false, screen: false });
const DEVICE_KEY = 'convene.device.';

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/**
 * Events (CustomEvent, details in brackets):
 *   change    local tracks, rights or connections changed (buttons, self view)
 *   remote    the remote tracks changed: engine.remote() / engine.remoteByParticipant()
 *   error     [{message, label, code}]  a device could not be started, or publishing was refused
 *   muted     [{by}]  a moderator turned our microphone off
 *   rights    [{can_publish, reason}]
 *   speaker   [{id}]  the active speaker
 */
export class MediaEngine extends EventTarget {
  /**
   * @param {object} opts
   * @param {EventTarget} opts.session  a RoomSession (protocol.js)
   * @param {MediaDevices} [opts.mediaDevices]
   * @param {typeof RTCPeerConnection} [opts.PeerConnection]
   * @param {boolean} [opts.simulcast]  camera in two layers (rids h and l)
   */
  constructor(opts) {
    super();
    this.session = opts.session;
    this.mediaDevices = opts.mediaDevices === undefined ? globalThis.navigator?.mediaDevices ?? null : opts.mediaDevices;
    this.PeerConnection = opts.PeerConnection ?? globalThis.RTCPeerConnection;
    this.MediaStream = opts.MediaStream ?? globalThis.MediaStream;
    this.simulcast = opts.simulcast ?? true;
    this.gatherTimeoutMs = opts.gatherTimeoutMs ?? GATHER_TIMEOUT_MS;
    this.answerTimeoutMs = opts.answerTimeoutMs ?? ANSWER_TIMEOUT_MS;

    this.local = { microphone: null, camera: null, screen: null }; // our MediaStreamTracks
    this.starting = { microphone: false, camera: false, screen: false };
    this.deviceIds = { microphone: storage()?.getItem(`${DEVICE_KEY}microphone`) || '', camera: storage()?.getItem(`${DEVICE_KEY}camera`) || '' };
    this.up = null; // {pc, tx: {label: RTCRtpTransceiver}}
    this.down = null; // {pc}
    this.tracks = new TrackMap();
    this.announced = { ...OFF };
    this.pending = null; // the up offer awaiting media_answer: {resolve, reject, timer}
    this.upChain = Promise.resolve();
    this.downChain = Promise.resolve();
    this.layers = new Map(); // participant id → 'high' | 'low' asked for
    this.epoch = 0; // bumped by every reset: work of an older connection gives up
    this.destroyed = false;

    const on = (type, fn) => {
      const h = (ev) => fn(ev.detail || {});
      this.session.addEventListener(type, h);
      this.unlisten.push(() => this.session.removeEventListener(type, h));
    };
    this.unlisten = [];
    on('welcome', () => this.#rebuild());
    on('state', ({ state }) => {
      if (state === 'ended') this.stopAll();
      else if (state !== 'open') this.#reset();
    });
    on('media', ({ frame }) => this.#onFrame(frame));
    on('server_error', (detail) => this.#onServerError(detail));
    on('publish_rights', ({ can_publish: can, reason }) => this.#onRights(can, reason));
    on('muted', ({ by }) => this.#onMuted(by));
    on('active_speaker', ({ id }) => this.#emit('speaker', { id }));
    on('left', ({ id }) => {
      this.layers.delete(String(id));
    });
  }

  // --- what views read ---

  /** The node has a media service (unknown before the first welcome: assumed). */
  get available() {
    return this.session.media?.available !== false && !!this.PeerConnection;
  }

  /** May we publish under the room's rules? */
  get canPublish() {
    const you = this.session.you;
    return this.available && !!you && !!(you.can_publish ?? this.session.media?.can_publish);
  }

  isOn(label) {
    return !!this.local[label];
  }

  isStarting(label) {
    return !!this.starting[label];
  }

  /** A media stream of one of our tracks, for the self view (null when off). */
  localStream(label) {
    const t = this.local[label];
    if (!t) return null;
    if (!this.streams) this.streams = new Map();
    let s = this.streams.get(t);
    if (!s) {
      s = new this.MediaStream([t]);
      this.streams.set(t, s);
    }
    return s;
  }

  /** [{mid, participantId, kind, label, track}] */
  remote() {
    return this.tracks.entries();
  }

  remoteByParticipant() {
    return this.tracks.byParticipant();
  }

  get publishing() {
    const up = this.up;
    return !!up && LABELS.some((l) => up.tx[l] && up.tx[l].sender.track);
  }

  // --- actions ---

  toggle(label) {
    return this.setOn(label, !this.local[label]);
  }

  /**
   * Turns one of our tracks on or off. Resolves true when done; false when refused (the reason went out as an
   * 'error' event). opts.force: skip the check of the right to publish (the server decides). opts.track: a live
   * track to use instead of asking for the device again (the device check's preview); it is stopped when refused.
   */
  async setOn(label, on, opts = {}) {
    if (!LABELS.includes(label)) return false;
    if (!on) {
      this.#drop(label);
      this.#changed();
      await this.#sync().catch(() => {});
      return true;
    }
    const given = opts.track && opts.track.readyState !== 'ended' ? opts.track : null;
    if (this.local[label]) {
      if (given && given !== this.local[label]) given.stop();
      return true;
    }
    if (!opts.force && !this.canPublish) {
      given?.stop();
      this.#emit('error', { label, code: 'forbidden', message: rightsMessage(this.session.room?.kind) });
      return false;
    }
    if (this.starting[label]) {
      given?.stop();
      return false;
    }
    this.starting[label] = true;
    this.#changed();
    let track;
    try {
      track = given || (await this.#acquire(label));
    } catch (err) {
      this.starting[label] = false;
      this.#changed();
      if (opts.rethrow) throw err;
      this.#emit('error', { label, code: err?.name || 'device', message: describeMediaError(err, label) });
      return false;
    }
    this.starting[label] = false;
    if (this.destroyed) {
      track.stop();
      return false;
    }
    this.#adopt(label, track);
    this.#changed();
    try {
      await this.#sync(opts);
    } catch (err) {
      if (opts.rethrow) throw err;
      return false;
    }
    return true;
  }

  /** Turns everything off (leaving the room, ended visit). */
  stopAll() {
    for (const l of LABELS) this.#drop(l);
    this.#reset();
    this.#changed();
  }

  /**
   * Publishes camera and microphone even when the page says we may not (a test hook): resolves when the
   * server answers the offer, rejects with the server's message when it refuses.
   */
  async forcePublish() {
    for (const label of ['microphone', 'camera']) {
      if (!this.local[label]) this.#adopt(label, await this.#acquire(label));
    }
    this.#changed();
    await this.#sync({ force: true, reoffer: true });
  }

  /** Devices to choose from: {microphone: [{deviceId, label}], camera: [...]}. Labels appear once allowed. */
  async listDevices() {
    const out = { microphone: [], camera: [] };
    if (!this.mediaDevices?.enumerateDevices) return out;
    let list = [];
    try {
      list = await this.mediaDevices.enumerateDevices();
    } catch {
      return out;
    }
    for (const d of list) {
      const label = d.kind === 'audioinput' ? 'microphone' : d.kind === 'videoinput' ? 'camera' : null;
      if (!label || !d.deviceId) continue;
      out[label].push({
        deviceId: d.deviceId,
        label: d.label || (label === 'camera' ? t('media.camera_n', { n: out[label].length + 1 }) : t('media.microphone_n', { n: out[label].length + 1 })),
        unnamed: !d.label,
      });
    }
    return out;
  }

  /** The device in use (or chosen) for microphone or camera. */
  deviceId(label) {
    const t = this.local[label];
    return (t && t.getSettings?.().deviceId) || this.deviceIds[label] || '';
  }

  /** Switches microphone or camera to another device: a new track, swapped in with replaceTrack. */
  async selectDevice(label, deviceId) {
    if (label !== 'microphone' && label !== 'camera') return false;
    this.deviceIds[label] = deviceId || '';
    try {
      storage()?.setItem(`${DEVICE_KEY}${label}`, deviceId || '');
    } catch {
      // storage denied
    }
    const old = this.local[label];
    if (!old || (deviceId && old.getSettings?.().deviceId === deviceId)) return true;
    let next;
    try {
      next = await this.#acquire(label, true);
    } catch (err) {
      if (err?.name !== 'NotReadableError') {
        this.#emit('error', { label, code: err?.name || 'device', message: describeMediaError(err, label) });
        return false;
      }
      // Some systems open one camera at a time: release the old one first.
      old.stop();
      try {
        next = await this.#acquire(label, true);
      } catch (err2) {
        this.#drop(label);
        this.#changed();
        this.#emit('error', { label, code: err2?.name || 'device', message: describeMediaError(err2, label) });
        await this.#sync().catch(() => {});
        return false;
      }
    }
    if (this.local[label] !== old) {
      next.stop(); // turned off meanwhile
      return false;
    }
    this.#adopt(label, next);
    old.stop();
    const tx = this.up?.tx[label];
    if (tx) await tx.sender.replaceTrack(next).catch(() => {});
    this.#changed();
    return true;
  }

  /** Asks for the high or low simulcast layer of a participant's camera (sent when it changes). */
  setLayer(participantId, quality) {
    const id = String(participantId);
    if (this.layers.get(id) === quality) return;
    if (this.session.send('media_layer', { participant_id: participantId, quality })) this.layers.set(id, quality);
  }

  /** For tests: what the down connection decoded, and the state of both connections. */
  async stats() {
    const pc = this.down?.pc;
    let sums = { videoFramesDecoded: 0, audioBytesReceived: 0 };
    if (pc) {
      try {
        sums = sumInbound(await pc.getStats());
      } catch {
        // closed meanwhile
      }
    }
    return {
      ...sums,
      publishing: this.publishing,
      upState: this.up ? this.up.pc.connectionState : 'none',
      downState: this.down ? this.down.pc.connectionState : 'none',
    };
  }

  destroy() {
    this.destroyed = true;
    this.stopAll();
    for (const f of this.unlisten) f();
    this.unlisten = [];
  }

  // --- internals ---

  #emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #changed() {
    this.#emit('change');
  }

  async #acquire(label, exact = false) {
    const md = this.mediaDevices;
    if (label === 'screen') {
      if (!md?.getDisplayMedia) throw Object.assign(new Error('screen sharing is not supported'), { name: 'NotSupportedError' });
      const stream = await md.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
      const track = stream.getVideoTracks()[0];
      if (!track) throw Object.assign(new Error('no screen'), { name: 'NotFoundError' });
      if ('contentHint' in track) track.contentHint = 'detail';
      return track;
    }
    if (!md?.getUserMedia) throw Object.assign(new Error('no media devices'), { name: 'NotSupportedError' });
    const id = this.deviceIds[label];
    const constraints = (device) => (label === 'microphone'
      ? { audio: { ...device, echoCancellation: true, noiseSuppression: true, autoGainControl: true } }
      : { video: { ...device, width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24, max: 30 } } });
    let stream;
    try {
      // The chosen device exactly (browsers treat a preferred one as a hint and may pick the default).
      stream = await md.getUserMedia(constraints(id ? { deviceId: { exact: id } } : {}));
    } catch (err) {
      // Gone (unplugged, or ids changed): any device of the kind, unless that very device was asked for.
      if (exact || !id || (err?.name !== 'OverconstrainedError' && err?.name !== 'NotFoundError')) throw err;
      stream = await md.getUserMedia(constraints({}));
    }
    const track = label === 'microphone' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
    if (!track) throw Object.assign(new Error('no track'), { name: 'NotFoundError' });
    return track;
  }

  /** Keeps a new local track; when the browser ends it (device unplugged, "Stop sharing"), it is turned off. */
  #adopt(label, track) {
    this.local[label] = track;
    track.addEventListener('ended', () => {
      if (this.local[label] === track) this.setOn(label, false);
    });
  }

  #drop(label) {
    const t = this.local[label];
    this.local[label] = null;
    if (t) {
      t.stop();
      this.streams?.delete(t);
    }
  }

  /** Brings the up connection in line with the local tracks (one run at a time). */
  #sync(opts = {}) {
    const run = this.upChain.then(() => this.#syncNow(opts));
    this.upChain = run.catch(() => {});
    return run;
  }

  async #syncNow(opts) {
    const epoch = this.epoch;
    const want = { microphone: !!this.local.microphone, camera: !!this.local.camera, screen: !!this.local.screen };
    const any = want.microphone || want.camera || want.screen;
    if (!this.session.connected || !this.available) return; // the next welcome publishes
    if (!any) {
      if (this.up) for (const l of LABELS) await this.up.tx[l]?.sender.replaceTrack(null).catch(() => {});
      this.#announce(OFF);
      return;
    }
    if (!opts.force && !this.canPublish) {
      for (const l of LABELS) this.#drop(l);
      this.#changed();
      return;
    }
    // Starting again after everything was off: offer, so that the server applies the room's rules.
    let offer = !!opts.reoffer || !this.up || !(this.announced.microphone || this.announced.camera || this.announced.screen);
    const up = this.#ensureUp();
    for (const l of LABELS) {
      const track = this.local[l];
      const tx = up.tx[l];
      if (track && !tx) {
        up.tx[l] = up.pc.addTransceiver(track, this.#transceiverInit(l, track));
        offer = true;
      } else if (tx && tx.sender.track !== track) {
        await tx.sender.replaceTrack(track || null);
      }
    }
    if (epoch !== this.epoch) return;
    if (offer) {
      try {
        await this.#offer(up);
      } catch (err) {
        // A reset (reconnection, media_closed) redoes the work itself.
        if (epoch === this.epoch && err?.code !== 'reset') this.#publishFailed(err);
        throw err;
      }
      if (epoch !== this.epoch) return;
    }
    this.#announce({ microphone: !!this.local.microphone, camera: !!this.local.camera, screen: !!this.local.screen });
    this.#changed();
  }

  #transceiverInit(label, track) {
    const init = { direction: 'sendonly', streams: [new this.MediaStream([track])] };
    if (label === 'camera' && this.simulcast) {
      init.sendEncodings = [
        { rid: 'h', maxBitrate: 1_200_000 },
        { rid: 'l', scaleResolutionDownBy: 2, maxBitrate: 300_000 },
      ];
    } else if (label === 'screen') {
      init.sendEncodings = [{ maxBitrate: 2_500_000 }];
    }
    return init;
  }

  #iceServers() {
    const s = this.session.media?.ice_servers;
    return Array.isArray(s) ? s : [];
  }

  #ensureUp() {
    if (this.up) return this.up;
    const pc = new this.PeerConnection({ iceServers: this.#iceServers(), bundlePolicy: 'max-bundle' });
    const up = { pc, tx: {} };
    pc.addEventListener('connectionstatechange', () => {
      if (this.up === up) this.#changed();
    });
    this.up = up;
    return up;
  }

  async #offer(up) {
    const pc = up.pc;
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, this.gatherTimeoutMs);
    if (this.up !== up) throw resetError();
    const tracks = {};
    for (const l of LABELS) {
      const mid = up.tx[l]?.mid;
      if (mid != null) tracks[mid] = l;
    }
    const sdp = await this.#request(pc.localDescription.sdp, tracks);
    if (this.up !== up) throw resetError();
    await pc.setRemoteDescription({ type: 'answer', sdp });
  }

  /** Sends media_offer; resolves with the answer's SDP, rejects with the server's error. */
  #request(sdp, tracks) {
    this.#settle(null, resetError());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#settle(null, new Error(t('media.no_answer'))), this.answerTimeoutMs);
      this.pending = { resolve, reject, timer };
      if (!this.session.send('media_offer', { sdp, tracks })) this.#settle(null, new Error(t('room.not_connected')));
    });
  }

  #settle(sdp, err) {
    const p = this.pending;
    if (!p) return false;
    this.pending = null;
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(sdp);
    return true;
  }

  /** Publishing was refused or failed: everything off, and say why. */
  #publishFailed(err) {
    this.#closeUp();
    for (const l of LABELS) this.#drop(l);
    this.#announce(OFF);
    this.#changed();
    // The server's words ("two people already speak in this interview; wait until one stops").
    const message = sentence(err?.message) || t('media.publish_failed');
    this.#emit('error', { label: null, code: err?.code || 'failed', message });
  }

  #announce(state) {
    const a = this.announced;
    if (a.microphone === state.microphone && a.camera === state.camera && a.screen === state.screen) return;
    if (this.session.send('media_state', { ...state })) this.announced = { ...state };
  }

  #onServerError(detail) {
    // A refused media_offer: forbidden (the room's rules), bad_request (SDP), unavailable (no media service).
    if (!this.pending || !['forbidden', 'bad_request', 'unavailable'].includes(detail.code)) return;
    detail.handled = true;
    this.#settle(null, Object.assign(new Error(detail.message || detail.code), { code: detail.code }));
  }

  #onFrame(f) {
    switch (f.type) {
      case 'media_answer':
        this.#settle(String(f.sdp || ''), null);
        break;
      case 'media_offer':
        this.#answerDown(String(f.sdp || ''));
        break;
      case 'media_tracks': {
        this.tracks.setInfo(f.tracks);
        // Tracks that arrived before their description (or whose ontrack went unnoticed).
        for (const t of this.down?.pc.getTransceivers() || []) {
          if (t.mid != null && this.tracks.info.has(t.mid) && !this.tracks.tracks.has(t.mid)) this.tracks.setTrack(t.mid, t.receiver.track);
        }
        this.#emit('remote');
        break;
      }
      case 'media_closed':
        if (f.direction === 'up') {
          // The server dropped our publishing connection: offer again on a new one.
          this.#closeUp();
          this.announced = { ...OFF };
          if (LABELS.some((l) => this.local[l])) this.#sync().catch(() => {});
          this.#changed();
        } else if (f.direction === 'down') {
          // A new offer follows, for a new connection.
          this.#closeDown();
          this.#emit('remote');
        }
        break;
      default:
        break;
    }
  }

  #ensureDown() {
    if (this.down) return this.down;
    const pc = new this.PeerConnection({ iceServers: this.#iceServers(), bundlePolicy: 'max-bundle' });
    const down = { pc };
    pc.addEventListener('track', (ev) => {
      if (this.down !== down) return;
      const mid = ev.transceiver?.mid;
      if (mid == null) return;
      this.tracks.setTrack(mid, ev.track);
      ev.track.addEventListener('ended', () => {
        if (this.down === down && this.tracks.tracks.get(mid) === ev.track) {
          this.tracks.removeTrack(mid);
          this.#emit('remote');
        }
      });
      this.#emit('remote');
    });
    pc.addEventListener('connectionstatechange', () => {
      if (this.down === down) this.#changed();
    });
    this.down = down;
    return down;
  }

  #answerDown(sdp) {
    const epoch = this.epoch;
    const run = this.downChain.then(async () => {
      if (epoch !== this.epoch || this.destroyed) return;
      const down = this.#ensureDown();
      const pc = down.pc;
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await waitForIceGathering(pc, this.gatherTimeoutMs);
      if (epoch !== this.epoch || this.down !== down) return;
      this.session.send('media_answer', { sdp: pc.localDescription.sdp });
      // Mids the offer stopped carry nothing any more.
      for (const t of pc.getTransceivers()) {
        if (t.mid != null && (t.stopped || t.currentDirection === 'inactive' || t.currentDirection === 'stopped')) this.tracks.removeTrack(t.mid);
      }
      this.#emit('remote');
    });
    this.downChain = run.catch((err) => {
      if (epoch !== this.epoch) return;
      console.warn('convene: cannot answer the media offer', err);
      // Start over: the next offer (after media_closed) gets a fresh connection.
      this.#closeDown();
      this.#emit('remote');
    });
  }

  #closeUp() {
    const up = this.up;
    this.up = null;
    if (up) {
      try {
        up.pc.close();
      } catch {
        // closed
      }
    }
    this.#settle(null, resetError());
  }

  #closeDown() {
    const down = this.down;
    this.down = null;
    this.tracks.clear();
    this.downChain = Promise.resolve();
    if (down) {
      try {
        down.pc.close();
      } catch {
        // closed
      }
    }
  }

  /** Both connections go (the WebSocket closed: the server forgot them); local tracks stay. */
  #reset() {
    this.epoch += 1;
    this.#closeUp();
    this.#closeDown();
    this.upChain = Promise.resolve();
    this.announced = { ...OFF };
    this.layers.clear();
    this.#emit('remote');
  }

  /** A new welcome: new connections; publish again what is on, if still allowed. */
  #rebuild() {
    this.#reset();
    if (!this.canPublish) {
      for (const l of LABELS) this.#drop(l);
    } else if (LABELS.some((l) => this.local[l])) {
      this.#sync().catch(() => {});
    }
    this.#changed();
  }

  #onRights(can, reason) {
    if (!can) {
      // The server already stopped forwarding and dropped our publishing connection.
      this.#closeUp();
      for (const l of LABELS) this.#drop(l);
      this.announced = { ...OFF };
    }
    this.#changed();
    this.#emit('rights', { can_publish: can, reason });
  }

  #onMuted(by) {
    if (this.local.microphone) {
      // Off for good (a new media_state follows): turning it on again lifts the mute.
      this.#drop('microphone');
      this.#sync().catch(() => {});
    } else {
      this.announced = { ...this.announced, microphone: false };
    }
    this.#changed();
    this.#emit('muted', { by });
  }
}

function resetError() {
  return Object.assign(new Error('The connection was reset.'), { code: 'reset' });
}

function sentence(text) {
  const x = String(text || '').trim();
  if (!x) return '';
  const s = x.charAt(0).toUpperCase() + x.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}
