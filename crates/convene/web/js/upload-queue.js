// The upload queue of the Files panel (views/room-files.js): one entry per selected or dropped file, at most
// `concurrency` (2) sent at once, the rest waiting in order. No DOM and no translations: the view draws the
// entries and words their errors; tests drive it with a fake `send` (tests/upload-queue.test.mjs).
//
// An entry's state:
//
//   waiting ──start──▶ uploading ──201──▶ done
//      │                   │  └──error──▶ failed    (error: {code, message, status}: the server's, or 'network')
//      │                   └──cancel───▶ cancelled
//      ├──cancel──▶ cancelled
//      └──refused here (too large, past the quota)──▶ failed (error.code 'too_large' or 'quota', error.local)
//
// failed and cancelled entries may be retried (the same File, from the start), except a file over the size limit:
// it can never pass. Retrying puts the entry back at the end of the waiting line.
//
// The limits come from the listing (`max_file_bytes`, `quota`, `used`). A file is checked against the size limit
// when it is added and again when its turn comes; against the quota when its turn comes, counting the bytes of
// the uploads in flight and of those finished since the listing was loaded (see mark() / counted()).

export const STATES = Object.freeze(['waiting', 'uploading', 'done', 'failed', 'cancelled']);

/** The client's own reasons for refusing a file before it is sent. */
export const LOCAL_CODES = Object.freeze(['too_large', 'quota']);

/**
 * Why a file of `size` bytes may not be sent, or null. limits: {maxFileBytes, quota, used} (0 or missing: no
 * limit); reserved: bytes already on their way that `used` does not count yet.
 */
export function refusal(size, limits = {}, reserved = 0) {
  const max = Number(limits.maxFileBytes) || 0;
  if (max > 0 && size > max) return 'too_large';
  const quota = Number(limits.quota) || 0;
  if (quota > 0) {
    const free = quota - (Number(limits.used) || 0) - reserved;
    if (size > free) return 'quota';
  }
  return null;
}

/** The percentage of an upload, 0 to 100 (whole numbers; 100 only once the server answered). */
export function percent(loaded, total) {
  if (!(total > 0)) return 0;
  return Math.max(0, Math.min(99, Math.floor((loaded / total) * 100)));
}

export class UploadQueue {
  /**
   * @param {object} o
   * @param {(entry: object, progress: (loaded: number, total: number) => void) => {promise: Promise<any>, abort: () => void}} o.send
   *   starts one upload; its promise resolves with the server's answer, or rejects with an Error carrying
   *   `code` ('cancelled' after abort(), 'network', or the server's code), `message` and `status`
   * @param {(entry: object) => void} [o.onChange]  an entry was added, changed or removed (entry.removed)
   * @param {(entry: object, result: any) => void} [o.onDone]  an upload finished
   * @param {number} [o.concurrency]
   */
  constructor({ send, onChange = () => {}, onDone = () => {}, concurrency = 2 }) {
    this.send = send;
    this.onChange = onChange;
    this.onDone = onDone;
    this.concurrency = Math.max(1, concurrency);
    this.entries = [];
    this.limits = { maxFileBytes: 0, quota: 0, used: 0 };
    this.nextId = 1;
    this.clock = 0; // counts finished uploads, for mark() / counted()
    this.handles = new Map(); // entry id → {abort}
    this.closed = false;
  }

  /** The listing's limits: {maxFileBytes, quota, used}. */
  setLimits(limits) {
    this.limits = { ...this.limits, ...limits };
  }

  get(id) {
    return this.entries.find((e) => e.id === id) || null;
  }

  get running() {
    return this.entries.filter((e) => e.state === 'uploading').length;
  }

  /** Nothing waiting or being sent. */
  get idle() {
    return !this.entries.some((e) => e.state === 'waiting' || e.state === 'uploading');
  }

  /**
   * Bytes that the listing's `used` does not count yet: uploads in flight, and those finished after the last
   * listing was asked for.
   */
  reserved(except = null) {
    let n = 0;
    for (const e of this.entries) {
      if (e === except) continue;
      if (e.state === 'uploading' || (e.state === 'done' && !e.counted)) n += e.size;
    }
    return n;
  }

  /** Call before asking for the listing; hand the value to counted() once it came. */
  mark() {
    return this.clock;
  }

  /** The listing asked for at `mark` is in: the uploads finished before it are in its `used`. */
  counted(mark) {
    for (const e of this.entries) if (e.state === 'done' && e.doneAt <= mark) e.counted = true;
  }

  /** Adds files (a FileList or an array), each its own entry, into `folder`. Returns the new entries. */
  add(files, folder = null) {
    const added = [];
    for (const file of Array.from(files || [])) {
      const entry = {
        id: this.nextId++, file, name: file.name, size: Number(file.size) || 0, folder,
        state: 'waiting', loaded: 0, total: Number(file.size) || 0, percent: 0, error: null, result: null,
        attempts: 0, doneAt: null, counted: false,
      };
      this.entries.push(entry);
      added.push(entry);
      if (refusal(entry.size, { maxFileBytes: this.limits.maxFileBytes }) === 'too_large') this.#refuse(entry, 'too_large');
      else this.onChange(entry);
    }
    this.pump();
    return added;
  }

  /** Whether Retry makes sense for an entry. */
  canRetry(entry) {
    return !!entry && (entry.state === 'failed' || entry.state === 'cancelled') && entry.error?.code !== 'too_large';
  }

  /** Whether Cancel applies (waiting or being sent). */
  canCancel(entry) {
    return !!entry && (entry.state === 'waiting' || entry.state === 'uploading');
  }

  /** Sends a failed or cancelled entry's file again, from the start (it waits for its turn). */
  retry(id) {
    const e = this.get(id);
    if (!this.canRetry(e) || this.closed) return false;
    Object.assign(e, { state: 'waiting', loaded: 0, total: e.size, percent: 0, error: null, result: null });
    // To the end of the line, behind those already waiting.
    this.entries.splice(this.entries.indexOf(e), 1);
    this.entries.push(e);
    this.onChange(e);
    this.pump();
    return true;
  }

  /** Stops an upload in flight (xhr.abort()), or takes a waiting one out of the line. */
  cancel(id) {
    const e = this.get(id);
    if (!this.canCancel(e)) return false;
    if (e.state === 'uploading') {
      // The send's promise rejects with 'cancelled'; settle now so that the state does not wait for it.
      const handle = this.handles.get(e.id);
      this.handles.delete(e.id);
      this.#settle(e, 'cancelled', { code: 'cancelled', message: '', status: 0 });
      try {
        handle?.abort();
      } catch {
        // already finished
      }
    } else {
      this.#settle(e, 'cancelled', { code: 'cancelled', message: '', status: 0 });
    }
    this.pump();
    return true;
  }

  /** Takes a finished, failed or cancelled entry off the list. */
  remove(id) {
    const e = this.get(id);
    if (!e || e.state === 'waiting' || e.state === 'uploading') return false;
    this.entries.splice(this.entries.indexOf(e), 1);
    e.removed = true;
    this.onChange(e);
    return true;
  }

  /** Takes the finished entries off the list; returns how many. */
  clearDone() {
    const done = this.entries.filter((e) => e.state === 'done');
    for (const e of done) this.remove(e.id);
    return done.length;
  }

  /** Stops everything (the page goes away). */
  close() {
    this.closed = true;
    for (const e of this.entries) if (e.state === 'waiting' || e.state === 'uploading') this.cancel(e.id);
  }

  /** Starts waiting entries, in order, while fewer than `concurrency` are being sent. */
  pump() {
    if (this.closed) return;
    for (const e of this.entries) {
      if (this.running >= this.concurrency) break;
      if (e.state === 'waiting') this.#start(e);
    }
  }

  #refuse(entry, code) {
    this.#settle(entry, 'failed', { code, message: '', status: 0, local: true });
  }

  #settle(entry, state, error = null) {
    entry.state = state;
    entry.error = error;
    this.onChange(entry);
  }

  #start(e) {
    const why = refusal(e.size, this.limits, this.reserved(e));
    if (why) {
      this.#refuse(e, why);
      return;
    }
    e.state = 'uploading';
    e.attempts += 1;
    e.loaded = 0;
    e.percent = 0;
    const attempt = e.attempts;
    const current = () => e.state === 'uploading' && e.attempts === attempt && !e.removed;
    let handle;
    try {
      handle = this.send(e, (loaded, total) => {
        if (!current()) return;
        e.loaded = loaded;
        if (total > 0) e.total = total;
        e.percent = percent(loaded, e.total);
        this.onChange(e);
      });
    } catch (err) {
      this.#settle(e, 'failed', errorOf(err));
      return;
    }
    this.handles.set(e.id, handle);
    this.onChange(e);
    Promise.resolve(handle.promise).then((result) => {
      if (!current()) return;
      this.handles.delete(e.id);
      this.clock += 1;
      Object.assign(e, { state: 'done', result, percent: 100, loaded: e.total, error: null, doneAt: this.clock, counted: false });
      this.onChange(e);
      this.onDone(e, result);
      this.pump();
    }, (err) => {
      if (!current()) return;
      this.handles.delete(e.id);
      const error = errorOf(err);
      this.#settle(e, error.code === 'cancelled' ? 'cancelled' : 'failed', error);
      this.pump();
    });
  }
}

function errorOf(err) {
  return {
    code: (err && err.code) || 'network',
    message: (err && err.message) || '',
    status: (err && Number.isFinite(err.status)) ? err.status : 0,
  };
}
