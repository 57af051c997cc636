// Cameras, microphones and speakers: the choices remembered in this browser, the lists to choose from, the
// microphone level (Web Audio AnalyserNode) and the speaker of audio elements (setSinkId). Shared by the device
// check before entering (views/device-check.js) and the room (views/room-media.js, media.js). No DOM besides
// the media-device and Web Audio APIs: tests load this module in Node with fakes.
import { t } from './i18n.js';

/** localStorage keys: the chosen device per kind (the same keys media.js reads), and what to turn on when joining. */
export const DEVICE_KEY = 'convene.device.';
export const JOIN_KEY = 'convene.join.';

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** The device chosen for 'microphone', 'camera' or 'speaker' in this browser ('' for the default). */
export function storedDevice(label) {
  return storage()?.getItem(`${DEVICE_KEY}${label}`) || '';
}

export function storeDevice(label, deviceId) {
  try {
    storage()?.setItem(`${DEVICE_KEY}${label}`, deviceId || '');
  } catch {
    // storage denied: the choice lasts for this page
  }
}

/** Whether to turn the microphone or camera on when entering (the device check's switches). */
export function storedJoin(label, fallback = true) {
  const v = storage()?.getItem(`${JOIN_KEY}${label}`);
  return v === 'on' ? true : v === 'off' ? false : fallback;
}

export function storeJoin(label, on) {
  try {
    storage()?.setItem(`${JOIN_KEY}${label}`, on ? 'on' : 'off');
  } catch {
    // storage denied
  }
}

const KINDS = { audioinput: 'microphone', videoinput: 'camera', audiooutput: 'speaker' };

function unnamedLabel(label, n) {
  if (label === 'camera') return t('media.camera_n', { n });
  if (label === 'speaker') return t('media.speaker_n', { n });
  return t('media.microphone_n', { n });
}

/**
 * The devices to choose from: {microphone: [{deviceId, label, unnamed}], camera: [...], speaker: [...]}, and
 * `present` (which kinds exist at all: before permission, browsers list a kind without ids or names).
 */
export async function listDevices(mediaDevices = globalThis.navigator?.mediaDevices) {
  const out = { microphone: [], camera: [], speaker: [], present: { microphone: false, camera: false, speaker: false } };
  if (!mediaDevices?.enumerateDevices) return out;
  let list = [];
  try {
    list = await mediaDevices.enumerateDevices();
  } catch {
    return out;
  }
  for (const d of list) {
    const label = KINDS[d.kind];
    if (!label) continue;
    out.present[label] = true;
    if (!d.deviceId) continue;
    if (out[label].some((x) => x.deviceId === d.deviceId)) continue;
    out[label].push({ deviceId: d.deviceId, label: d.label || unnamedLabel(label, out[label].length + 1), unnamed: !d.label });
  }
  return out;
}

/** The id to select in a list: the wanted one when it is there, else the first ('' when the list is empty). */
export function chooseDevice(list, wanted) {
  if (!Array.isArray(list) || !list.length) return '';
  return list.some((d) => d.deviceId === wanted) ? wanted : list[0].deviceId;
}

/** Whether audio elements can play on a chosen speaker (HTMLMediaElement.setSinkId). */
export function speakerSupported(proto = globalThis.HTMLMediaElement?.prototype) {
  return !!proto && typeof proto.setSinkId === 'function';
}

/** Plays an audio element on a speaker (best effort: unknown ids and old browsers keep the default). */
export async function applySpeaker(el, deviceId) {
  if (!el || typeof el.setSinkId !== 'function') return false;
  if ((el.sinkId || '') === (deviceId || '')) return true;
  try {
    await el.setSinkId(deviceId || '');
    return true;
  } catch {
    return false;
  }
}

/**
 * The loudness of one block of samples (-1 … 1) on a 0 … 1 scale: the RMS level in decibels, from -60 dBFS
 * (0, silence) to -6 dBFS and above (1, loud speech).
 */
export function levelOf(samples) {
  const n = samples?.length || 0;
  if (!n) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += samples[i] * samples[i];
  const rms = Math.sqrt(sum / n);
  if (!(rms > 0)) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (db + 60) / 54));
}

/**
 * A live level of a microphone track: calls onLevel(0 … 1) about every `intervalMs`, smoothed so that the meter
 * falls slower than it rises. stop() releases the audio graph (not the track).
 */
export class LevelMeter {
  constructor(track, onLevel, { AudioContext = globalThis.AudioContext || globalThis.webkitAudioContext, MediaStream = globalThis.MediaStream, intervalMs = 60 } = {}) {
    this.onLevel = onLevel;
    this.level = 0;
    this.stopped = false;
    if (!track || !AudioContext || !MediaStream) {
      this.ctx = null;
      return;
    }
    this.ctx = new AudioContext();
    this.source = this.ctx.createMediaStreamSource(new MediaStream([track]));
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.source.connect(this.analyser);
    this.buffer = new Float32Array(this.analyser.fftSize);
    // A context made without a click may start suspended (autoplay rules): the next click resumes it.
    this.resume = () => {
      if (this.ctx && this.ctx.state === 'suspended') this.ctx.resume?.().catch(() => {});
    };
    this.resume();
    globalThis.document?.addEventListener?.('pointerdown', this.resume, true);
    this.timer = setInterval(() => this.#tick(), intervalMs);
  }

  #tick() {
    if (this.stopped || !this.analyser) return;
    this.analyser.getFloatTimeDomainData(this.buffer);
    const now = levelOf(this.buffer);
    this.level = now >= this.level ? now : Math.max(now, this.level - 0.08);
    this.onLevel(this.level);
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    globalThis.document?.removeEventListener?.('pointerdown', this.resume, true);
    try {
      this.source?.disconnect();
    } catch {
      // already disconnected
    }
    this.ctx?.close?.().catch?.(() => {});
    this.onLevel(0);
  }
}

/** A short test tone as a WAV file (a Blob), for "Play a test sound" on the chosen speaker. */
export function testToneWav({ seconds = 0.6, frequency = 660, rate = 22050 } = {}) {
  const n = Math.floor(seconds * rate);
  const buf = new ArrayBuffer(44 + n * 2);
  const v = new DataView(buf);
  const str = (o, s) => {
    for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i));
  };
  str(0, 'RIFF');
  v.setUint32(4, 36 + n * 2, true);
  str(8, 'WAVE');
  str(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  str(36, 'data');
  v.setUint32(40, n * 2, true);
  for (let i = 0; i < n; i++) {
    // Two short beeps with soft edges.
    const tt = i / rate;
    const inBeep = (tt % 0.3) < 0.2;
    const edge = Math.min(1, (tt % 0.3) / 0.01, (0.2 - (tt % 0.3)) / 0.01);
    const s = inBeep ? Math.sin(2 * Math.PI * frequency * tt) * 0.4 * Math.max(0, edge) : 0;
    v.setInt16(44 + i * 2, Math.round(s * 32767), true);
  }
  return new Blob([buf], { type: 'audio/wav' });
}
