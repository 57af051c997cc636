// Client side of the Convene live-room protocol (docs/protocol.md).
//
// This module knows nothing about the page: it turns the WebSocket into events and keeps
// the room's state (you, room, participants, chat). Views listen to a RoomSession and render.
//
//   RoomConnection — one WebSocket: parses frames, sends requests, reports the close.
//   RoomSession    — enter → connect → welcome, and automatic re-entry: at once when the room moved
//                    to another node (4010), with backoff when the node drains (1001) or the
//                    connection is lost (1006), for as long as the page is open.
//
// A node killed with `kill -9` keeps its rooms for ~5 s until the cluster notices; meanwhile `enter` may
// fail or name the dead node. The session never navigates to a node that does not answer (it probes its /ws
// first); when this page's own node is the dead one, it moves to a live node from the last `welcome`.
// Media signalling frames (media_offer, media_answer, media_tracks, media_closed) are passed on as 'media'
// events to js/media.js; the session keeps the media state of the participants (media, presenter, can_publish).
// Messages for people come from the catalogues of js/i18n.js (no DOM there either).
import { t, language } from './i18n.js';

export { CloseCode, LEFT_REASONS, describeClose } from './closes.js';
import { CloseCode, describeClose, sentence } from './closes.js';

/** One WebSocket to the room's hosting node. Emits one event per server frame type, plus 'open' and 'close'. */
export class RoomConnection extends EventTarget {
  /**
   * @param {string} url ws_url from the enter answer
   * @param {(url: string) => WebSocket} [makeSocket]
   */
  constructor(url, makeSocket = (u) => new WebSocket(u)) {
    super();
    this.closed = false;
    this.lastFrameAt = Date.now();
    this.ws = makeSocket(url);
    this.ws.onopen = () => this.dispatchEvent(new CustomEvent('open'));
    this.ws.onmessage = (ev) => this.#onMessage(ev);
    this.ws.onclose = (ev) => this.#finish(ev.code, ev.reason || '', ev.wasClean);
    this.ws.onerror = () => {
      // A close event always follows; nothing to do here.
    };
  }

  #onMessage(ev) {
    this.lastFrameAt = Date.now();
    if (typeof ev.data !== 'string') return; // the server sends text frames only
    let frame;
    try {
      frame = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== 'string') return;
    this.dispatchEvent(new CustomEvent('frame', { detail: frame }));
  }

  #finish(code, reason, wasClean) {
    if (this.closed) return;
    this.closed = true;
    this.dispatchEvent(new CustomEvent('close', { detail: { code, reason, wasClean } }));
  }

  get isOpen() {
    return !this.closed && this.ws.readyState === 1;
  }

  /** Sends one request frame; false when the socket is not open. */
  send(type, fields = {}) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify({ type, ...fields }));
    return true;
  }

  chat(text) { return this.send('chat', { text }); }
  setHand(raised) { return this.send('hand', { raised: !!raised }); }
  lowerHand(participantId) { return this.send('lower_hand', { participant_id: participantId }); }
  kick(participantId) { return this.send('kick', { participant_id: participantId }); }
  grantModerator(participantId) { return this.send('grant_moderator', { participant_id: participantId }); }
  revokeModerator(participantId) { return this.send('revoke_moderator', { participant_id: participantId }); }
  askMute(participantId) { return this.send('ask_mute', { participant_id: participantId }); }
  ping(nonce) { return this.send('ping', nonce ? { nonce } : {}); }

  /** Closes from our side. Emits 'close' at once (code 1000 unless told), without waiting for the server. */
  close(code = CloseCode.NORMAL, reason = '') {
    const ws = this.ws;
    ws.onmessage = null;
    ws.onclose = null;
    try {
      if (ws.readyState === 0 || ws.readyState === 1) ws.close(code === CloseCode.NORMAL ? 1000 : 4000, reason);
    } catch {
      // already closing
    }
    this.#finish(code, reason, true);
  }
}

export const MAX_CHAT_LENGTH = 2000;
const NO_MEDIA = Object.freeze({ microphone: false, camera: false, screen: false });
const LIVENESS_TICK_MS = 5000;
const PING_EVERY_MS = 10000;
const PONG_TIMEOUT_MS = 12000; // a ping unanswered (and nothing else received) this long: the node is gone
const MAX_KEPT_MESSAGES = 1000;
const REDIRECT_WINDOW_MS = 60000;
const MAX_REDIRECTS = 2;
const MAX_QUICK_MOVES = 3; // 4010 re-enters at once this many times in a row, then with backoff
const FAILOVER_AFTER = 2; // consecutive failures to reach this page's node before trying another node
export const PROBE_TIMEOUT_MS = 4000;

/**
 * Whether a node answers: opens a WebSocket to its /ws without a token. A running node upgrades and
 * closes with 4401; a dead one fails (1006) or never answers. Resolves true or false, never rejects.
 */
export function probeNode(wsUrl, makeSocket = (u) => new WebSocket(u), timeoutMs = PROBE_TIMEOUT_MS) {
  return new Promise((resolve) => {
    let ws = null;
    let done = false;
    let timer = null;
    const finish = (alive) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (ws) {
        ws.onopen = null;
        ws.onclose = null;
        ws.onerror = null;
        ws.onmessage = null;
        try {
          if (ws.readyState === 0 || ws.readyState === 1) ws.close(1000);
        } catch {
          // closing already
        }
      }
      resolve(alive);
    };
    if (!wsUrl) {
      resolve(false);
      return;
    }
    timer = setTimeout(() => finish(false), timeoutMs);
    try {
      ws = makeSocket(wsUrl);
    } catch {
      finish(false);
      return;
    }
    ws.onopen = () => finish(true);
    ws.onclose = (ev) => finish(ev.code !== CloseCode.ABNORMAL && ev.code !== 1015);
    ws.onerror = () => {}; // a close event follows
  });
}

/** A node URL (http or https, host, port, base path) → its WebSocket endpoint: ws or wss, base path + /ws, no query. */
export function wsEndpoint(httpUrl) {
  try {
    const u = new URL(httpUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.pathname = `${u.pathname.replace(/\/+$/, '')}/ws`;
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return null;
  }
}

function withFragment(url, fragment) {
  try {
    const u = new URL(url);
    u.hash = fragment;
    return u.href;
  } catch {
    return url;
  }
}

function withoutQuery(url) {
  try {
    const u = new URL(url);
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return null;
  }
}

/** Delay before re-entry attempt n (1-based): 0.5 s, 1 s, 2 s … up to 15 s, with ±25 % jitter (at most 15 s). */
export function backoffDelay(attempt, random = Math.random) {
  // About once a second for the first ten seconds: a dead node is noticed by the
  // cluster after 5 s, and the room should be back soon after, not at the next
  // doubling. Then exponentially, up to 15 s.
  let base;
  if (attempt <= 1) base = 500;
  else if (attempt <= 10) base = 1000;
  else base = Math.min(15000, 1000 * 2 ** Math.min(30, attempt - 10));
  return Math.min(15000, Math.round(base * (0.75 + random() * 0.5)));
}

function sameOrigin(url, origin) {
  try {
    return new URL(url).origin === new URL(origin).origin;
  } catch {
    return false;
  }
}

/**
 * A visit to one room: enters, connects, keeps the room state, re-enters after loss.
 *
 * Events (CustomEvent, details in brackets):
 *   state [{state}]  'entering' | 'connecting' | 'waiting' | 'open' | 'reconnecting' | 'redirecting' | 'ended'
 *   waiting [{id, room}], admitted [{by}], lobby [{waiting}]  the waiting room (docs/protocol.md)
 *   welcome, participants, chat [{message}], hand [{participant}], moderator [{participant, by, you}],
 *   mute_requested [{by}], room [{room}], left [{participant, reason}], joined [{participant}],
 *   server_error [{code, message, handled}]  (a listener that deals with the error sets handled = true),
 *   media_state [{participant, media}], publish_rights [{can_publish, reason}], muted [{by}],
 *   presenter [{participant, presenter, by, you}], active_speaker [{id}],
 *   media [{frame}]  media_offer, media_answer, media_tracks or media_closed, for js/media.js,
 *   boards [{seq, boards}], board [{seq, by, op, mine}], board_live [{participant_id, board, pointer, draft}]
 *                 the whiteboard, for js/views/room-board.js (which keeps the boards: js/board-model.js),
 *   whiteboard [{participant, can_draw, by, you}]  the whiteboard right changed (participants follows),
 *   recording [{active, id, started_at, started_by}]  a recording started or stopped (`recording` keeps the running one)
 *   pong [{nonce}]  the answer to a ping (the whiteboard fences its operations with them),
 *   draining [{deadline_seconds, until}]  this node is being drained: at `until` (a Date.now() time) the
 *                 connection closes with 1001 and the session enters again, landing on another node
 *   retry [{attempt, delay, message, code}]   a re-entry is scheduled (delay 0: under way now)
 *   redirecting [{server, failover}]  the page goes to another node (failover: this page's node is gone)
 *   ended [{code, reason, title, message, retry}]  the visit stopped; retry is 'manual' or 'none'
 *   unauthorized  the session cookie is no longer valid
 *
 * Re-entry never gives up while the page is open (backoff up to 15 s between tries); it ends only
 * for closes that say so (kicked, access withdrawn, room full, repeated bad tokens) and for 4xx answers.
 */
export class RoomSession extends EventTarget {
  /**
   * @param {object} opts
   * @param {string|number} opts.roomId
   * @param {() => Promise<object>} opts.enter  POST /rooms/{id}/enter
   * @param {string} [opts.origin]  this page's origin
   * @param {(url: string) => void} [opts.navigate]  goes to another node's room page
   * @param {(url: string) => WebSocket} [opts.makeSocket]
   * @param {Storage|null} [opts.storage]  remembers redirects, to stop a redirect loop
   * @param {(wsUrl: string) => Promise<boolean>} [opts.probe]  whether a node answers (default probeNode)
   * @param {(attempt: number) => number} [opts.backoff]  delay before re-entry attempt n (default backoffDelay)
   * @param {() => string} [opts.carry]  a few letters [a-z] the page wants back after a move to another node
   *   (what was switched on): the next page gets `#moved-<letters>` instead of `#moved`
   */
  constructor(opts) {
    super();
    this.roomId = opts.roomId;
    this.enterFn = opts.enter;
    this.origin = opts.origin ?? globalThis.location?.origin ?? '';
    this.navigate = opts.navigate ?? ((url) => globalThis.location.assign(url));
    this.makeSocket = opts.makeSocket;
    this.storage = opts.storage === undefined ? safeSessionStorage() : opts.storage;
    this.probe = opts.probe ?? ((url) => probeNode(url, this.makeSocket));
    this.backoff = opts.backoff ?? backoffDelay;
    this.carry = opts.carry ?? null;

    this.state = 'idle';
    this.conn = null;
    this.you = null;
    this.room = null;
    this.server = null;
    this.participants = new Map();
    this.messages = [];
    this.messageIds = new Set();
    this.attempt = 0;
    this.badTokens = 0;
    this.quickMoves = 0;
    this.unreachable = 0; // consecutive failures to reach this page's node
    this.peers = []; // the live nodes [{id, name, url}] of the last welcome, for failover
    this.media = null; // welcome.media: {available, ice_servers, can_publish}
    this.recording = null; // the running recording {id, started_at, started_by} (welcome.recording, recording frames)
    this.speaker = null; // the active speaker's participant id
    this.drainingUntil = null;
    this.timer = null;
    this.pingTimer = null;
    this.pingSentAt = 0;
    this.gen = 0; // bumped by every enter and by stop(): an older enter still awaiting gives up
    this.stopped = false;
    this.lastCause = null;
    this.onOnline = () => {
      if (this.state === 'reconnecting') this.retryNow();
    };
  }

  /** Starts the visit. */
  start() {
    this.stopped = false;
    globalThis.addEventListener?.('online', this.onOnline);
    this.#enter();
  }

  /** Leaves the room (close 1000) and stops every timer. */
  stop() {
    this.stopped = true;
    this.gen += 1;
    globalThis.removeEventListener?.('online', this.onOnline);
    clearTimeout(this.timer);
    this.#stopPing();
    if (this.conn) {
      const c = this.conn;
      this.conn = null;
      c.close(CloseCode.NORMAL, 'left');
    }
    this.#setState('ended');
  }

  /** Skips the wait of a scheduled re-entry, or rejoins after a manual stop. */
  retryNow() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    if (this.state === 'ended') this.attempt = 0;
    this.#enter();
  }

  get connected() {
    return this.state === 'open' && !!this.conn && this.conn.isOpen;
  }

  get isModerator() {
    return !!(this.you && this.you.moderator);
  }

  /** Participants sorted: moderators first, then by name. */
  sortedParticipants() {
    return [...this.participants.values()].sort((a, b) => {
      if (!!b.moderator !== !!a.moderator) return b.moderator ? 1 : -1;
      return displayName(a).localeCompare(displayName(b), undefined, { sensitivity: 'base' });
    });
  }

  // --- requests (return false when not connected) ---
  sendChat(text) {
    const t = String(text ?? '');
    if (!t.trim() || t.length > MAX_CHAT_LENGTH) return false;
    return !!this.conn && this.conn.chat(t);
  }
  setHand(raised) { return !!this.conn && this.conn.setHand(raised); }
  lowerHand(pid) { return !!this.conn && this.conn.lowerHand(pid); }
  kick(pid) { return !!this.conn && this.conn.kick(pid); }
  grantModerator(pid) { return !!this.conn && this.conn.grantModerator(pid); }
  revokeModerator(pid) { return !!this.conn && this.conn.revokeModerator(pid); }
  askMute(pid) { return !!this.conn && this.conn.askMute(pid); }
  mute(pid) { return this.send('mute', { participant_id: pid }); }
  grantPresenter(pid) { return this.send('grant_presenter', { participant_id: pid }); }
  revokePresenter(pid) { return this.send('revoke_presenter', { participant_id: pid }); }
  grantWhiteboard(pid) { return this.send('grant_whiteboard', { participant_id: pid }); }
  revokeWhiteboard(pid) { return this.send('revoke_whiteboard', { participant_id: pid }); }
  /** A whiteboard operation (docs/protocol.md, "Whiteboard"). */
  sendBoard(op) { return this.send('board', { op }); }
  /** A laser pointer ({x, y} or null) and an unfinished stroke (an element or null) on a board. */
  sendBoardLive(board, pointer = null, draft = null) { return this.send('board_live', { board, pointer, draft }); }
  /** Whether we may change the whiteboard (moderators always; others when a moderator allows it). */
  get canDraw() { return !!(this.you && (this.you.can_draw ?? this.you.moderator)); }
  /** Any request frame (the media engine's signalling); false when not connected. */
  send(type, fields = {}) { return !!this.conn && this.conn.send(type, fields); }

  // --- internals ---
  #emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.#emit('state', { state });
  }

  async #enter() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const gen = ++this.gen;
    const stale = () => this.stopped || gen !== this.gen;
    this.#setState(this.attempt > 0 ? 'reconnecting' : 'entering');
    let answer;
    try {
      answer = await this.enterFn();
    } catch (err) {
      if (stale()) return;
      this.#enterFailed(err, stale);
      return;
    }
    if (stale()) return;
    this.unreachable = 0;
    const url = answer?.server?.url;
    if (url && !sameOrigin(url, this.origin)) {
      // The room lives on another node. Until the cluster notices a dead node (about 5 s), `enter` still
      // names it: going there would leave the browser on an error page, so check that it answers first.
      const alive = await this.probe(withoutQuery(answer.ws_url) || wsEndpoint(url));
      if (stale()) return;
      if (!alive) {
        // On a single node, say "the server", not its name (the cluster is not something people see there).
        const named = this.peers.length > 1 && answer.server.name;
        this.#scheduleRetry(named ? t('session.node_not_answering', { name: answer.server.name }) : t('session.server_not_answering'), undefined, CloseCode.ABNORMAL);
        return;
      }
      if (answer.room_url && this.#mayRedirect()) {
        this.#setState('redirecting');
        this.#emit('redirecting', { server: answer.server, failover: false });
        // #moved (a fragment survives the node's redirect to /room/{id}) lets the next page say why.
        this.navigate(this.attempt > 0 ? withFragment(answer.room_url, this.#movedFragment()) : answer.room_url);
        return;
      }
    }
    this.#connect(answer);
  }

  async #enterFailed(err, stale) {
    const status = err?.status ?? 0;
    const message = err?.message || t('session.cannot_enter');
    if (status === 401) {
      this.#end(0, '', t('api.session_ended'), 'none', t('session.signed_out'));
      this.#emit('unauthorized');
      return;
    }
    const transient = status === 0 || status === 408 || status === 409 || status === 429 || status >= 500;
    if (!transient) {
      // 403 (no access), 404 (no such room), 400 …
      this.#end(0, '', message, 'none', t('session.cannot_enter_title'));
      return;
    }
    // This page's node does not answer at all (network error, or a proxy in front of it says 502/503/504
    // without an API error body): after a few tries, move to another node of the cluster that answers.
    const proxyError = (status === 502 || status === 503 || status === 504) && String(err?.code || '').startsWith('http_');
    if (status === 0 || proxyError) {
      this.unreachable += 1;
      if (this.unreachable >= FAILOVER_AFTER && (await this.#failover(stale))) return;
      if (stale()) return;
    } else {
      this.unreachable = 0;
    }
    let delay;
    if (status === 429 && err.retryAfter) delay = Math.min(err.retryAfter * 1000, 60000);
    this.#scheduleRetry(message, delay);
  }

  /** Moves the page to another running node, if one answers. True when navigating. */
  async #failover(stale) {
    const peers = this.peers.filter((p) => p.url && !sameOrigin(p.url, this.origin));
    if (peers.length === 0) return false;
    const answers = await Promise.all(peers.map((p) => this.probe(wsEndpoint(p.url)).then((ok) => (ok ? p : null), () => null)));
    if (stale()) return true;
    const target = answers.find(Boolean);
    if (!target) return false;
    this.#setState('redirecting');
    this.#emit('redirecting', { server: target, failover: true });
    this.navigate(`${target.url.replace(/\/+$/, '')}/room/${encodeURIComponent(this.roomId)}#${this.#movedFragment()}`);
    return true;
  }

  /** `moved`, or `moved-<letters>` with what the page asked to carry over. */
  #movedFragment() {
    const extra = String(this.carry?.() || '').replace(/[^a-z]/g, '').slice(0, 8);
    return extra ? `moved-${extra}` : 'moved';
  }

  #connect(answer) {
    this.#setState(this.attempt > 0 ? 'reconnecting' : 'connecting');
    this.server = answer.server ?? this.server;
    const conn = new RoomConnection(answer.ws_url, this.makeSocket);
    this.conn = conn;
    conn.addEventListener('frame', (ev) => {
      if (this.conn === conn) this.#onFrame(ev.detail);
    });
    conn.addEventListener('close', (ev) => {
      if (this.conn !== conn) return;
      this.conn = null;
      this.#stopPing();
      this.#onClose(ev.detail.code, ev.detail.reason);
    });
  }

  #onClose(code, reason) {
    if (this.stopped) return;
    const d = describeClose(code, reason);
    if (code === CloseCode.BAD_TOKEN) {
      this.badTokens += 1;
      if (this.badTokens > 3) {
        this.#end(code, reason, (language() === 'en' && sentence(reason)) || t('close.bad_token'), 'manual', t('close.refused_title'));
        return;
      }
    }
    this.drainingUntil = null;
    if (d.retry === 'auto') {
      let delay;
      if (code === CloseCode.ROOM_MOVED && this.quickMoves < MAX_QUICK_MOVES) {
        // The room is hosted elsewhere now: enter again at once (a few times, then with backoff).
        this.quickMoves += 1;
        delay = 0;
      } else if (code === CloseCode.GOING_AWAY && this.attempt === 0) {
        // Draining or shutting down: the first re-entry goes quickly, spread a little over the room.
        delay = 150 + Math.round(Math.random() * 300);
      }
      this.#scheduleRetry(d.message, delay, code);
    } else {
      this.#end(code, reason, d.message, d.retry, d.title);
    }
  }

  /** Plans the next `enter`; there is no limit on the number of tries while the page is open. */
  #scheduleRetry(message, delay, code = null) {
    this.attempt += 1;
    const wait = delay ?? this.backoff(this.attempt);
    this.lastCause = message;
    this.#setState('reconnecting');
    this.#emit('retry', { attempt: this.attempt, delay: wait, message, code });
    clearTimeout(this.timer);
    this.timer = null;
    if (wait <= 0) this.#enter();
    else this.timer = setTimeout(() => this.#enter(), wait);
  }

  #end(code, reason, message, retry, title) {
    clearTimeout(this.timer);
    this.#stopPing();
    this.#setState('ended');
    this.#emit('ended', { code, reason, message, retry, title });
  }

  // Liveness: a ping every PING_EVERY_MS; when one stays unanswered (and nothing else arrived) for
  // PONG_TIMEOUT_MS, the node or the network is gone (a dead machine sends no close). Judging by the
  // unanswered ping, not by the last frame's age, keeps a quiet room in a throttled background tab alive.
  #startPing() {
    this.#stopPing();
    this.pingSentAt = 0;
    this.pingTimer = setInterval(() => {
      const c = this.conn;
      if (!c) return;
      const now = Date.now();
      const waiting = this.pingSentAt > 0 && c.lastFrameAt < this.pingSentAt;
      if (waiting) {
        if (now - this.pingSentAt > PONG_TIMEOUT_MS) {
          this.conn = null;
          this.#stopPing();
          c.close(CloseCode.ABNORMAL, 'timeout');
          this.#onClose(CloseCode.ABNORMAL, '');
        }
        return;
      }
      if (now - this.pingSentAt >= PING_EVERY_MS && c.ping(String(now))) this.pingSentAt = now;
    }, LIVENESS_TICK_MS);
  }

  #stopPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  #mayRedirect() {
    if (!this.storage) return true;
    const key = `convene.redirects.${this.roomId}`;
    const now = Date.now();
    let rec = { count: 0, since: now };
    try {
      rec = JSON.parse(this.storage.getItem(key) || 'null') || rec;
    } catch {
      // ignore a damaged record
    }
    if (now - rec.since > REDIRECT_WINDOW_MS) rec = { count: 0, since: now };
    if (rec.count >= MAX_REDIRECTS) return false; // a loop: connect to ws_url directly instead
    rec.count += 1;
    try {
      this.storage.setItem(key, JSON.stringify(rec));
    } catch {
      // storage full or denied
    }
    return true;
  }

  #clearRedirects() {
    try {
      this.storage?.removeItem(`convene.redirects.${this.roomId}`);
    } catch {
      // ignore
    }
  }

  #onFrame(f) {
    switch (f.type) {
      case 'welcome': {
        this.you = f.you ?? null;
        this.room = f.room ?? this.room;
        if (f.server) this.server = { ...(this.server || {}), ...f.server };
        this.participants = new Map();
        for (const p of f.participants || []) this.participants.set(p.id, p);
        if (this.you) this.participants.set(this.you.id, this.you);
        for (const m of f.history || []) this.#addMessage(m);
        this.media = f.media ?? null;
        this.recording = f.recording && typeof f.recording === 'object' ? f.recording : null;
        this.speaker = null;
        // The live nodes of the cluster: where to go if the node serving this page dies.
        if (Array.isArray(f.servers)) {
          this.peers = f.servers
            .filter((s) => s && typeof s.url === 'string' && s.url)
            .map((s) => ({ id: s.id, name: s.name, url: s.url }));
        }
        this.attempt = 0;
        this.badTokens = 0;
        this.quickMoves = 0;
        this.unreachable = 0;
        this.drainingUntil = null;
        this.#clearRedirects();
        this.#setState('open');
        this.#startPing();
        this.#emit('welcome', { you: this.you, room: this.room, server: this.server });
        this.#emit('participants');
        this.#emit('history', { messages: this.messages });
        break;
      }
      case 'joined':
        if (f.participant) {
          this.participants.set(f.participant.id, f.participant);
          this.#emit('joined', { participant: f.participant });
          this.#emit('participants');
        }
        break;
      case 'left': {
        const p = this.participants.get(f.participant_id);
        this.participants.delete(f.participant_id);
        this.#emit('left', { participant: p ?? null, id: f.participant_id, reason: f.reason });
        this.#emit('participants');
        break;
      }
      case 'chat':
        if (f.message && this.#addMessage(f.message)) this.#emit('chat', { message: f.message });
        break;
      case 'hand': {
        const p = this.#patch(f.participant_id, { hand_raised: !!f.raised });
        this.#emit('hand', { participant: p, raised: !!f.raised });
        this.#emit('participants');
        break;
      }
      case 'moderator': {
        const old = this.participants.get(f.participant_id);
        const fields = { moderator: !!f.moderator };
        if (old && this.room?.kind === 'presentation' && !(this.you && this.you.id === old.id)) fields.can_publish = !!f.moderator || !!old.presenter;
        const p = this.#patch(f.participant_id, fields);
        this.#emit('moderator', {
          participant: p,
          moderator: !!f.moderator,
          by: f.by,
          you: !!this.you && this.you.id === f.participant_id,
        });
        this.#emit('participants');
        break;
      }
      case 'mute_requested':
        this.#emit('mute_requested', { by: f.by });
        break;
      case 'room_updated':
        this.room = { ...(this.room || {}), ...(f.room || {}) };
        this.#emit('room', { room: this.room });
        break;
      case 'error':
        this.#emit('server_error', { code: f.code, message: f.message, handled: false });
        break;
      case 'media_state': {
        const media = { microphone: !!f.microphone, camera: !!f.camera, screen: !!f.screen };
        const p = this.#patch(f.participant_id, { media });
        this.#emit('media_state', { participant: p, media });
        this.#emit('participants');
        break;
      }
      case 'publish_rights': {
        const can = !!f.can_publish;
        if (this.you) this.#patch(this.you.id, can ? { can_publish: true } : { can_publish: false, media: { ...NO_MEDIA } });
        this.media = { ...(this.media || {}), can_publish: can };
        this.#emit('publish_rights', { can_publish: can, reason: f.reason || '' });
        this.#emit('participants');
        break;
      }
      case 'muted': // the server turned our microphone off
        if (this.you) this.#patch(this.you.id, { media: { ...NO_MEDIA, ...(this.you.media || {}), microphone: false } });
        this.#emit('muted', { by: f.by });
        this.#emit('participants');
        break;
      case 'presenter': {
        const old = this.participants.get(f.participant_id);
        const presenter = !!f.presenter;
        // In a presentation, moderators and presenters publish: the others learn it from this frame.
        const fields = { presenter };
        if (old && this.room?.kind === 'presentation' && !(this.you && this.you.id === old.id)) fields.can_publish = presenter || !!old.moderator;
        const p = this.#patch(f.participant_id, fields);
        this.#emit('presenter', { participant: p, presenter, by: f.by, you: !!this.you && this.you.id === f.participant_id });
        this.#emit('participants');
        break;
      }
      case 'active_speaker':
        this.speaker = f.participant_id ?? null;
        this.#emit('active_speaker', { id: this.speaker });
        break;
      case 'media_offer': case 'media_answer': case 'media_tracks': case 'media_closed':
        this.#emit('media', { frame: f });
        break;
      case 'draining': {
        // This node is being drained. Nothing to do but tell the person: at the deadline the server
        // closes with 1001 and the session enters again, landing on another node.
        const seconds = Math.max(0, Math.round(Number(f.deadline_seconds) || 0));
        this.drainingUntil = Date.now() + seconds * 1000;
        this.#emit('draining', { deadline_seconds: seconds, until: this.drainingUntil });
        break;
      }
      case 'waiting': // a waiting room: until a moderator admits us (admitted, then welcome) or refuses (4002)
        this.#setState('waiting');
        this.#startPing();
        this.#emit('waiting', { id: f.participant_id, room: f.room });
        break;
      case 'admitted': case 'lobby': this.#emit(f.type, f); break; // for js/views/room-lobby.js
      case 'boards':
        this.#emit('boards', { seq: f.seq, boards: Array.isArray(f.boards) ? f.boards : [] });
        break;
      case 'board':
        if (f.op) this.#emit('board', { seq: f.seq, by: f.by ?? null, op: f.op, mine: !!this.you && f.by != null && f.by === this.you.id });
        break;
      case 'board_live':
        this.#emit('board_live', { participant_id: f.participant_id, board: f.board, pointer: f.pointer ?? null, draft: f.draft ?? null });
        break;
      case 'whiteboard': {
        const can = !!f.can_draw;
        const p = this.#patch(f.participant_id, { can_draw: can });
        this.#emit('whiteboard', { participant: p, can_draw: can, by: f.by ?? null, you: !!this.you && this.you.id === f.participant_id });
        this.#emit('participants');
        break;
      }
      case 'pong':
        this.#emit('pong', { nonce: f.nonce ?? null });
        break;
      case 'recording': {
        const rec = { id: f.id ?? null, started_at: f.started_at ?? null, started_by: f.started_by ?? null };
        if (f.active) this.recording = rec;
        else if (!this.recording || f.id == null || String(this.recording.id) === String(f.id)) this.recording = null;
        this.#emit('recording', { active: !!f.active, ...rec });
        break;
      }
      default:
        break;
    }
  }

  #patch(id, fields) {
    const p = this.participants.get(id);
    if (!p) return null;
    const next = { ...p, ...fields };
    this.participants.set(id, next);
    if (this.you && this.you.id === id) this.you = next;
    return next;
  }

  #addMessage(m) {
    if (!m || m.id == null || this.messageIds.has(m.id)) return false;
    this.messageIds.add(m.id);
    const last = this.messages[this.messages.length - 1];
    this.messages.push(m);
    if (last && compareMessages(last, m) > 0) this.messages.sort(compareMessages);
    while (this.messages.length > MAX_KEPT_MESSAGES) {
      this.messageIds.delete(this.messages.shift().id);
    }
    return true;
  }
}

function compareMessages(a, b) {
  const ta = Date.parse(a.sent_at) || 0;
  const tb = Date.parse(b.sent_at) || 0;
  if (ta !== tb) return ta - tb;
  return Number(a.id) - Number(b.id) || String(a.id).localeCompare(String(b.id));
}

/** The name to show for a participant or a chat user. */
export function displayName(p) {
  const u = p && p.user ? p.user : p;
  return (u && (u.display_name || u.login)) || t('session.someone');
}

function safeSessionStorage() {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}
