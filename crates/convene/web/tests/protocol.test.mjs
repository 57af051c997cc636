// Tests of web/js/protocol.js with a fake WebSocket: `node --test crates/convene/web/tests/`.
// No npm packages; protocol.js has no imports, so it is loaded from a data: URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

const src = await readFile(new URL('../js/protocol.js', import.meta.url), 'utf8');
const P = await import(`data:text/javascript;base64,${Buffer.from(src).toString('base64')}`);

class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    FakeSocket.all.push(this);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close(code, reason) { this.closedWith = { code, reason }; this.readyState = 3; }
  // server side
  open() { this.readyState = 1; this.onopen?.({}); }
  receive(frame) { this.onmessage?.({ data: JSON.stringify(frame) }); }
  serverClose(code, reason = '') { this.readyState = 3; this.onclose?.({ code, reason, wasClean: code !== 1006 }); }
}
FakeSocket.all = [];

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const until = async (cond, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await tick(5);
  }
};

const user = (id, login) => ({ id, login, display_name: login.toUpperCase() });
const part = (id, u, extra = {}) => ({ id, user: u, moderator: false, hand_raised: false, since: '2025-01-01T00:00:00Z', ...extra });
const ORIGIN = 'http://node-a:5080';
const answer = (n, url = ORIGIN) => ({
  server: { id: 1, name: 'node-a', url },
  token: `t${n}`,
  ws_url: `${url.replace('http', 'ws')}/ws?token=t${n}`,
  room_url: `${url}/room/7?token=t${n}`,
  expires_in: 60,
});

function makeSession(enter, extra = {}) {
  FakeSocket.all = [];
  const events = [];
  const s = new P.RoomSession({
    roomId: 7, enter, origin: ORIGIN, makeSocket: (u) => new FakeSocket(u), storage: null, ...extra,
  });
  for (const t of ['state', 'welcome', 'participants', 'chat', 'retry', 'ended', 'unauthorized', 'server_error', 'mute_requested', 'moderator', 'redirecting']) {
    s.addEventListener(t, (e) => events.push({ type: t, ...(e.detail || {}) }));
  }
  return { s, events };
}

function welcome(sock, you, others = [], history = []) {
  sock.open();
  sock.receive({
    type: 'welcome', you, room: { id: 7, name: 'Maths', kind: 'conference', capacity: 10 },
    participants: [you, ...others], history, server: { id: 1, name: 'node-a' },
  });
}

test('enter, connect, welcome: state, participants and history', async () => {
  let calls = 0;
  const { s, events } = makeSession(async () => answer(++calls));
  s.start();
  await until(() => FakeSocket.all.length === 1);
  const sock = FakeSocket.all[0];
  assert.equal(sock.url, 'ws://node-a:5080/ws?token=t1');
  const me = part('aa', user(1, 'ann'));
  welcome(sock, me, [part('bb', user(2, 'bob'), { moderator: true })], [
    { id: 2, participant_id: null, user: user(2, 'bob'), text: 'second', sent_at: '2025-01-01T10:00:02Z' },
    { id: 1, participant_id: null, user: user(2, 'bob'), text: 'first', sent_at: '2025-01-01T10:00:01Z' },
  ]);
  assert.equal(s.state, 'open');
  assert.equal(s.participants.size, 2);
  assert.deepEqual(s.messages.map((m) => m.text), ['first', 'second']);
  assert.deepEqual(s.sortedParticipants().map((p) => p.user.login), ['bob', 'ann'], 'moderators first');
  assert.ok(events.some((e) => e.type === 'welcome'));
  s.stop();
  assert.deepEqual(sock.closedWith, { code: 1000, reason: 'left' });
});

test('requests are the frames of the protocol', async () => {
  const { s } = makeSession(async () => answer(1));
  s.start();
  await until(() => FakeSocket.all.length === 1);
  const sock = FakeSocket.all[0];
  welcome(sock, part('aa', user(1, 'ann'), { moderator: true }));
  assert.equal(s.sendChat('  '), false, 'blank text is not sent');
  assert.equal(s.sendChat('x'.repeat(2001)), false, 'too long');
  s.sendChat('hello');
  s.setHand(true);
  s.kick('bb');
  s.lowerHand('bb');
  s.grantModerator('bb');
  s.revokeModerator('bb');
  s.askMute('bb');
  assert.deepEqual(sock.sent, [
    { type: 'chat', text: 'hello' },
    { type: 'hand', raised: true },
    { type: 'kick', participant_id: 'bb' },
    { type: 'lower_hand', participant_id: 'bb' },
    { type: 'grant_moderator', participant_id: 'bb' },
    { type: 'revoke_moderator', participant_id: 'bb' },
    { type: 'ask_mute', participant_id: 'bb' },
  ]);
  s.stop();
});

test('server frames update the state', async () => {
  const { s, events } = makeSession(async () => answer(1));
  s.start();
  await until(() => FakeSocket.all.length === 1);
  const sock = FakeSocket.all[0];
  welcome(sock, part('aa', user(1, 'ann')));
  sock.receive({ type: 'joined', participant: part('bb', user(2, 'bob')) });
  sock.receive({ type: 'hand', participant_id: 'bb', raised: true });
  assert.equal(s.participants.get('bb').hand_raised, true);
  sock.receive({ type: 'moderator', participant_id: 'aa', moderator: true, by: 'bb' });
  assert.equal(s.isModerator, true);
  assert.ok(events.some((e) => e.type === 'moderator' && e.you));
  const msg = { id: 5, participant_id: 'bb', user: user(2, 'bob'), text: 'hi', sent_at: '2025-01-01T10:00:05Z' };
  sock.receive({ type: 'chat', message: msg });
  sock.receive({ type: 'chat', message: msg });
  assert.equal(s.messages.length, 1, 'duplicates are dropped');
  sock.receive({ type: 'room_updated', room: { id: 7, name: 'Physics', kind: 'presentation', capacity: 5 } });
  assert.equal(s.room.name, 'Physics');
  sock.receive({ type: 'mute_requested', by: part('bb', user(2, 'bob')) });
  assert.ok(events.some((e) => e.type === 'mute_requested' && e.by.id === 'bb'));
  sock.receive({ type: 'error', code: 'forbidden', message: 'no' });
  assert.ok(events.some((e) => e.type === 'server_error' && e.code === 'forbidden'));
  sock.receive({ type: 'left', participant_id: 'bb', reason: 'left' });
  assert.equal(s.participants.has('bb'), false);
  s.stop();
});

test('1001 (draining) re-enters and reconnects by itself', async () => {
  let calls = 0;
  const { s, events } = makeSession(async () => answer(++calls));
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')));
  FakeSocket.all[0].serverClose(1001, 'server draining');
  assert.equal(s.state, 'reconnecting');
  await until(() => FakeSocket.all.length === 2);
  assert.equal(calls, 2, 'enter was called again');
  welcome(FakeSocket.all[1], part('cc', user(1, 'ann')));
  assert.equal(s.state, 'open');
  assert.equal(s.you.id, 'cc');
  assert.ok(events.some((e) => e.type === 'retry' && e.code === 1001));
  s.stop();
});

test('a lost connection (1006) is retried; a kick (4001) is final', async () => {
  let calls = 0;
  const { s, events } = makeSession(async () => answer(++calls));
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')));
  FakeSocket.all[0].serverClose(1006);
  await until(() => FakeSocket.all.length === 2, 5000);
  welcome(FakeSocket.all[1], part('ab', user(1, 'ann')));
  FakeSocket.all[1].serverClose(4001, 'kicked by bob');
  assert.equal(s.state, 'ended');
  const ended = events.find((e) => e.type === 'ended');
  assert.equal(ended.retry, 'none');
  assert.match(ended.title, /removed/);
  assert.equal(ended.message, 'Kicked by bob.', 'the server reason, as a sentence');
  await tick(800);
  assert.equal(calls, 2, 'no re-entry after a kick');
});

test('room full (4009) ends with a manual retry; retryNow enters again', async () => {
  let calls = 0;
  const { s, events } = makeSession(async () => answer(++calls));
  s.start();
  await until(() => FakeSocket.all.length === 1);
  FakeSocket.all[0].open();
  FakeSocket.all[0].serverClose(4009, 'the room is full');
  assert.equal(events.find((e) => e.type === 'ended').retry, 'manual');
  s.retryNow();
  await until(() => FakeSocket.all.length === 2);
  s.stop();
});

test('a room on another node redirects the browser, but never in a loop', async () => {
  const storage = new Map();
  const fakeStorage = {
    getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => storage.set(k, v), removeItem: (k) => storage.delete(k),
  };
  const visits = [];
  for (let i = 0; i < 3; i++) {
    const { s } = makeSession(async () => answer(i, 'http://node-b:5081'), {
      storage: fakeStorage, navigate: (u) => visits.push(u),
    });
    s.start();
    await tick(10);
    if (i < 2) {
      assert.equal(s.state, 'redirecting');
      assert.equal(FakeSocket.all.length, 0);
    } else {
      assert.equal(FakeSocket.all.length, 1, 'third time: connect directly');
      assert.equal(FakeSocket.all[0].url, 'ws://node-b:5081/ws?token=t2');
    }
    s.stop();
  }
  assert.deepEqual(visits, ['http://node-b:5081/room/7?token=t0', 'http://node-b:5081/room/7?token=t1']);
});

test('enter failures: 401 asks to sign in, 403 ends, 503 is retried', async () => {
  const fail = (status, message) => Object.assign(new Error(message), { status });
  let r = makeSession(async () => { throw fail(401, 'no session'); });
  r.s.start();
  await until(() => r.events.some((e) => e.type === 'unauthorized'));

  r = makeSession(async () => { throw fail(403, 'You are not a member of this room.'); });
  r.s.start();
  await until(() => r.events.some((e) => e.type === 'ended'));
  assert.equal(r.events.find((e) => e.type === 'ended').message, 'You are not a member of this room.');

  let calls = 0;
  r = makeSession(async () => {
    calls += 1;
    if (calls === 1) throw fail(503, 'no server available');
    return answer(calls);
  });
  r.s.start();
  await until(() => FakeSocket.all.length === 1, 5000);
  assert.equal(calls, 2);
  r.s.stop();
});

test('describeClose covers every close code of the protocol', () => {
  for (const code of [1000, 1001, 1008, 1009, 4001, 4003, 4008, 4009, 4401, 1006, 1011]) {
    const d = P.describeClose(code, 'why');
    assert.ok(['auto', 'manual', 'none'].includes(d.retry), `${code}`);
    assert.ok(d.title.length > 5 && d.message.length > 3, `${code}`);
  }
  assert.equal(P.describeClose(1001).retry, 'auto');
  assert.equal(P.describeClose(4001).retry, 'none');
  assert.equal(P.describeClose(4003).retry, 'none');
  assert.match(P.describeClose(4003).message, /deleted/, 'a default explanation without a reason');
});

test('backoff grows and is capped', () => {
  const mid = () => 0.5;
  assert.equal(P.backoffDelay(1, mid), 500);
  assert.equal(P.backoffDelay(2, mid), 1000);
  assert.equal(P.backoffDelay(10, mid), 15000);
});
