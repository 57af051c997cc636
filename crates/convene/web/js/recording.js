// Room recordings (issue 11), without DOM: the state of the recording indicator (LiveRecording: `welcome.recording`,
// `recording` frames and the answers of the start / stop calls), the Record button's state, the clock shown beside the
// red dot, and the Recordings panel's list (order, words, which actions a row offers, when to poll, status changes).
// Imports only i18n.js; tests/recording.test.mjs loads it in Node.
import { t, language } from './i18n.js';

/** The statuses of a recording (REST): recording → stopping → processing → ready | failed. */
export const STATUSES = Object.freeze(['recording', 'stopping', 'processing', 'ready', 'failed']);

/** Statuses that change on their own on the server: the panel polls while a row has one. */
const POLLED = new Set(['stopping', 'processing']);

/** The name of who started a recording: a frame's string, a recording's {id, name}, or ''. */
export function starterName(by) {
  if (typeof by === 'string') return by;
  if (by && typeof by === 'object') return String(by.name || by.display_name || by.login || '');
  return '';
}

function parseTime(v) {
  if (typeof v === 'number' && Number.isFinite(v)) return v < 1e12 ? v * 1000 : v;
  if (typeof v !== 'string' || !v) return NaN;
  return Date.parse(v);
}

// A start frame is sent when the recording starts: a started_at further off than this is the clocks disagreeing.
const FRESH_SKEW_MS = 15000;

/**
 * When a recording started, on this browser's clock (ms). `live`: told just now that it started (a frame, an answer),
 * so a time in the future or long ago means the two clocks differ and `now` is closer to the truth. Otherwise (the
 * welcome of a room already being recorded) the server's time, never later than now.
 */
export function startTime(startedAt, now, live) {
  const at = parseTime(startedAt);
  if (!Number.isFinite(at)) return now;
  if (live && (at > now + 1000 || at < now - FRESH_SKEW_MS)) return now;
  return Math.min(at, now);
}

/**
 * The recording running in the room, as everyone in it sees it (the red dot in the header). The frames are the
 * truth; the answers of the start / stop calls move it ahead of them (optimistic), and a recording once known to be
 * stopped is not revived by a late answer or frame. `welcome` replaces everything (it is the server's state).
 */
export class LiveRecording {
  constructor() {
    /** null, or {id, startedAt (ms, this browser's clock), started_at (as the server wrote it), startedBy} */
    this.current = null;
    this.stopped = new Set(); // ids known to have stopped
  }

  get active() {
    return this.current !== null;
  }

  /** The Record button's data-state: 'recording' or 'idle'. */
  get state() {
    return this.current ? 'recording' : 'idle';
  }

  /** Milliseconds since the running recording started (0 when none). */
  elapsed(now = Date.now()) {
    return this.current ? Math.max(0, now - this.current.startedAt) : 0;
  }

  #start(id, startedAt, by, now, live) {
    if (id != null && this.stopped.has(String(id))) return null;
    const same = this.current && id != null && String(this.current.id) === String(id);
    if (same) {
      if (!this.current.startedBy && starterName(by)) this.current = { ...this.current, startedBy: starterName(by) };
      return null;
    }
    this.current = { id: id ?? null, startedAt: startTime(startedAt, now, live), started_at: startedAt ?? null, startedBy: starterName(by) };
    return 'started';
  }

  #stop(id) {
    if (id != null) this.stopped.add(String(id));
    if (!this.current) return null;
    if (id != null && this.current.id != null && String(this.current.id) !== String(id)) return null;
    this.current = null;
    return 'stopped';
  }

  /** welcome.recording: null or {id, started_at, started_by}. Returns 'started', 'stopped' or null (no change). */
  welcome(rec, now = Date.now()) {
    if (rec && typeof rec === 'object') {
      if (rec.id != null) this.stopped.delete(String(rec.id));
      return this.#start(rec.id, rec.started_at, rec.started_by, now, false);
    }
    const had = this.current;
    this.current = null;
    return had ? 'stopped' : null;
  }

  /** A `recording` frame {active, id, started_at?, started_by?}. Returns 'started', 'stopped' or null. */
  frame(f, now = Date.now()) {
    if (!f || typeof f !== 'object') return null;
    return f.active ? this.#start(f.id, f.started_at, f.started_by, now, true) : this.#stop(f.id);
  }

  /** The recording a start or stop call answered with (REST shape). Returns 'started', 'stopped' or null. */
  answer(rec, now = Date.now()) {
    if (!rec || typeof rec !== 'object') return null;
    if (rec.status === 'recording') return this.#start(rec.id, rec.started_at, rec.started_by, now, true);
    return this.#stop(rec.id);
  }
}

/** Whether this participant may start and stop recording: welcome.you.can_record, else (older servers) moderator. */
export function mayRecord(you) {
  if (!you) return false;
  if (typeof you.can_record === 'boolean') return you.can_record;
  return !!you.moderator;
}

/**
 * What the Record button shows. pending: 'start' or 'stop' while that call is under way.
 * @returns {{state: 'idle'|'recording', label: string, title: string, busy: boolean}}
 */
export function toggleView(active, pending = null) {
  const state = active ? 'recording' : 'idle';
  if (pending === 'start') return { state, label: t('recording.starting'), title: t('recording.starting'), busy: true };
  if (pending === 'stop') return { state, label: t('recording.stopping'), title: t('recording.stopping'), busy: true };
  return active
    ? { state, label: t('recording.stop'), title: t('recording.stop_title'), busy: false }
    : { state, label: t('recording.start'), title: t('recording.start_title'), busy: false };
}

/** 5000 → "0:05", 754000 → "12:34", 3723000 → "1:02:03". */
export function formatClock(ms) {
  const total = Number.isFinite(Number(ms)) ? Math.max(0, Math.floor(Number(ms) / 1000)) : 0;
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const hr = Math.floor(total / 3600);
  const two = (n) => String(n).padStart(2, '0');
  return hr > 0 ? `${hr}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

/** A recording's duration_seconds as a clock ("1:02:03"), '' when unknown. */
export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined || seconds === '' || !Number.isFinite(Number(seconds)) || Number(seconds) < 0) return '';
  return formatClock(Math.round(Number(seconds)) * 1000);
}

/** 1536 → "1.5 KB" (in the UI's language: "1,5 KB"), '' when unknown. */
export function formatSize(n) {
  if (n === null || n === undefined || n === '' || !Number.isFinite(Number(n)) || Number(n) < 0) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  const digits = i === 0 || v >= 10 ? 0 : 1;
  const text = new Intl.NumberFormat(language(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(v);
  return `${text} ${units[i]}`;
}

/** A time as a short date and time in the UI's language, '' when unknown. */
export function formatWhen(v) {
  const at = parseTime(v);
  if (!Number.isFinite(at)) return '';
  return new Intl.DateTimeFormat(language(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(at));
}

/** A time of day ("16:00"), '' when unknown. */
export function formatTimeOfDay(v) {
  const at = parseTime(v);
  if (!Number.isFinite(at)) return '';
  return new Intl.DateTimeFormat(language(), { hour: 'numeric', minute: '2-digit' }).format(new Date(at));
}

/** The recordings of a listing ({recordings: […]} or […]), newest first (by started_at, then id). */
export function sortRecordings(listing) {
  const list = Array.isArray(listing) ? listing : Array.isArray(listing?.recordings) ? listing.recordings : [];
  const at = (r) => {
    const v = parseTime(r.started_at);
    return Number.isFinite(v) ? v : 0;
  };
  return list.filter((r) => r && r.id != null).slice().sort((a, b) => at(b) - at(a) || Number(b.id) - Number(a.id) || String(b.id).localeCompare(String(a.id)));
}

/** The recording of a listing that is running now (status recording), or null: for the device check. */
export function runningRecording(listing) {
  return sortRecordings(listing).find((r) => r.status === 'recording') || null;
}

/** A status the UI knows ('processing' for one it does not: it may change, so the panel keeps looking). */
export function statusOf(rec) {
  return STATUSES.includes(rec?.status) ? rec.status : 'processing';
}

/** Whether the list has a recording whose status changes without a frame (stopping, processing): poll then. */
export function needsPolling(list) {
  return (list || []).some((r) => POLLED.has(statusOf(r)));
}

/** The name shown for a recording: its name, else "Recording of <date>". */
export function recordingTitle(rec) {
  const name = typeof rec?.name === 'string' ? rec.name.trim() : '';
  if (name) return name;
  const when = formatWhen(rec?.started_at);
  return when ? t('recording.untitled', { date: when }) : t('recording.untitled_plain');
}

/** The media URL with download=1 (the server then answers as an attachment). */
export function downloadUrl(mediaUrl) {
  if (typeof mediaUrl !== 'string' || !mediaUrl) return null;
  const [path, hash = ''] = mediaUrl.split('#');
  const sep = path.includes('?') ? '&' : '?';
  return `${path}${sep}download=1${hash ? `#${hash}` : ''}`;
}

/** A file name for the download attribute: the title without characters file systems refuse, ending in .webm. */
export function downloadName(rec) {
  const base = recordingTitle(rec).replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_').replace(/\s+/g, ' ').trim().slice(0, 120) || 'recording';
  return /\.webm$/i.test(base) ? base : `${base}.webm`;
}

/**
 * What one row of the Recordings panel shows and offers.
 * @returns {{status, statusText: string, busy: boolean, error: string, meta: string[], play: boolean,
 *   download: string|null, rename: boolean, remove: boolean, retry: boolean}}
 */
export function rowView(rec) {
  const status = statusOf(rec);
  const manage = !!rec?.may_manage;
  const ready = status === 'ready' && typeof rec.media_url === 'string' && !!rec.media_url;
  let statusText = '';
  switch (status) {
    case 'recording': statusText = t('recording.status.recording'); break;
    case 'stopping': statusText = t('recording.status.stopping'); break;
    case 'processing': statusText = t('recording.status.processing'); break;
    case 'failed': statusText = t('recording.status.failed'); break;
    default: statusText = ready ? '' : t('recording.status.unavailable'); break;
  }
  // An unnamed recording's title is its date already.
  const named = typeof rec?.name === 'string' && rec.name.trim() !== '';
  const meta = [named ? formatWhen(rec.started_at) : '', formatSeconds(rec?.duration_seconds), formatSize(rec?.size_bytes)].filter(Boolean);
  const by = starterName(rec?.started_by);
  if (by) meta.push(t('recording.by', { name: by }));
  return {
    status,
    statusText,
    busy: status === 'stopping' || status === 'processing',
    error: status === 'failed' ? (typeof rec.error === 'string' && rec.error ? rec.error : t('recording.failed_unknown')) : '',
    meta,
    play: ready,
    download: ready ? downloadUrl(rec.media_url) : null,
    rename: manage,
    // A running recording is stopped first (the Record button); the server decides about the rest.
    remove: manage && status !== 'recording' && status !== 'stopping',
    retry: manage && status === 'failed',
  };
}

/**
 * How the statuses changed between two listings: [{id, name, from, to}] for recordings in both whose status differs
 * (new ones are not changes: their frame said so already).
 */
export function statusChanges(before, after) {
  const old = new Map((before || []).map((r) => [String(r.id), statusOf(r)]));
  const out = [];
  for (const r of after || []) {
    const from = old.get(String(r.id));
    const to = statusOf(r);
    if (from !== undefined && from !== to) out.push({ id: r.id, name: recordingTitle(r), from, to });
  }
  return out;
}

/** The sentence for a status change worth telling (ready, failed), or ''. */
export function changeMessage(change) {
  if (change.to === 'ready') return t('recording.now_ready', { name: change.name });
  if (change.to === 'failed') return t('recording.now_failed', { name: change.name });
  return '';
}

/** The notice for someone entering a room being recorded: "Recording since 16:00, started by …". */
export function recordingSince(current) {
  if (!current) return '';
  const at = formatTimeOfDay(current.started_at ?? current.startedAt);
  const by = current.startedBy ?? starterName(current.started_by);
  if (at && by) return t('recording.since_by', { time: at, name: by });
  if (at) return t('recording.since', { time: at });
  if (by) return t('recording.started_by', { name: by });
  return '';
}
