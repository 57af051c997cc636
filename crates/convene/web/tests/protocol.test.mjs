// Tests of web/js/protocol.js with a fake WebSocket: `node --test crates/convene/web/tests/`.
// No npm packages; protocol.js and its imports (i18n.js) are loaded from data: URLs (load.mjs).
import { test, afterEach, mock } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './load.mjs';

const P = await load('../js/protocol.js');

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

// Every session a test makes is stopped after it, so that a failed assertion never leaves one retrying.
const sessions = [];
afterEach(() => {
  while (sessions.length) sessions.pop().stop();
});

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

// probe: every node answers unless a test says otherwise (probeNode itself is tested on its own).
function makeSession(enter, extra = {}) {
  FakeSocket.all = [];
  const events = [];
  const s = new P.RoomSession({
    roomId: 7, enter, origin: ORIGIN, makeSocket: (u) => new FakeSocket(u), storage: null, probe: async () => true, ...extra,
  });
  sessions.push(s);
  for (const t of ['state', 'welcome', 'participants', 'chat', 'retry', 'ended', 'unauthorized', 'server_error', 'mute_requested', 'moderator', 'redirecting', 'draining']) {
    s.addEventListener(t, (e) => events.push({ type: t, ...(e.detail || {}) }));
  }
  return { s, events };
}

function welcome(sock, you, others = [], history = [], server = { id: 1, name: 'node-a' }, extra = {}) {
  sock.open();
  sock.receive({
    type: 'welcome', you, room: { id: 7, name: 'Maths', kind: 'conference', capacity: 10 },
    participants: [you, ...others], history, server, ...extra,
  });
}
const NODE_B = { id: 2, name: 'node-b', url: 'http://node-b:5081' };

const fail = (status, message, code = status ? `http_${status}` : 'network') => Object.assign(new Error(message), { status, code });

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
    if (calls === 1) throw fail(503, 'no server available', 'unavailable');
    return answer(calls);
  });
  r.s.start();
  await until(() => FakeSocket.all.length === 1, 5000);
  assert.equal(calls, 2);
  r.s.stop();
});

test('describeClose covers every close code of the protocol', () => {
  for (const code of [1000, 1001, 1008, 1009, 4001, 4003, 4008, 4009, 4010, 4401, 1006, 1011]) {
    const d = P.describeClose(code, 'why');
    assert.ok(['auto', 'manual', 'none'].includes(d.retry), `${code}`);
    assert.ok(d.title.length > 5 && d.message.length > 3, `${code}`);
  }
  assert.equal(P.describeClose(1001).retry, 'auto');
  assert.equal(P.describeClose(4010).retry, 'auto');
  assert.match(P.describeClose(4010).message, /another server/);
  assert.equal(P.describeClose(4001).retry, 'none');
  assert.equal(P.describeClose(4003).retry, 'none');
  assert.match(P.describeClose(4003).message, /deleted/, 'a default explanation without a reason');
});

test('backoff grows and is capped', () => {
  const mid = () => 0.5;
  assert.equal(P.backoffDelay(1, mid), 500);
  assert.equal(P.backoffDelay(2, mid), 1000);
  assert.equal(P.backoffDelay(10, mid), 1000, 'once a second while a dead node is being noticed');
  assert.equal(P.backoffDelay(12, mid), 4000);
  assert.equal(P.backoffDelay(20, mid), 15000);
  assert.equal(P.backoffDelay(1000, () => 0.999), 15000, 'never more than 15 s, even with jitter');
  assert.ok(P.backoffDelay(1000, () => 0) >= 11000);
});

test('4010 (room moved) re-enters at once, without backoff', async () => {
  let calls = 0;
  const { s, events } = makeSession(async () => answer(++calls));
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')));
  FakeSocket.all[0].serverClose(4010, 'the room is now hosted on another server');
  assert.equal(calls, 2, 'enter was called again right away, not after a delay');
  assert.equal(s.state, 'reconnecting');
  const retry = events.find((e) => e.type === 'retry');
  assert.equal(retry.code, 4010);
  assert.equal(retry.delay, 0);
  await until(() => FakeSocket.all.length === 2);
  welcome(FakeSocket.all[1], part('ab', user(1, 'ann')), [], [], { id: 2, name: 'node-b' });
  assert.equal(s.state, 'open');
  assert.equal(s.server.name, 'node-b');
  assert.ok(!events.some((e) => e.type === 'ended'));
});

test('4010 over and over (no welcome between) falls back to backoff', async () => {
  let calls = 0;
  const { s, events } = makeSession(async () => answer(++calls));
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')));
  for (let i = 0; i < 4; i++) {
    const sock = FakeSocket.all[FakeSocket.all.length - 1];
    if (i > 0) sock.open();
    sock.serverClose(4010, 'moved');
    if (i < 3) await until(() => FakeSocket.all.length === i + 2);
  }
  const delays = events.filter((e) => e.type === 'retry').map((e) => e.delay);
  assert.deepEqual(delays.slice(0, 3), [0, 0, 0]);
  assert.ok(delays[3] > 0, 'the fourth move in a row waits');
  assert.equal(s.state, 'reconnecting');
});

test('draining: a notice with the deadline, then 1001 moves the session to another node', async () => {
  let calls = 0;
  const { s, events } = makeSession(async () => answer(++calls));
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')));
  const before = Date.now();
  FakeSocket.all[0].receive({ type: 'draining', deadline_seconds: 30 });
  const d = events.find((e) => e.type === 'draining');
  assert.equal(d.deadline_seconds, 30);
  assert.ok(d.until >= before + 30000 && d.until <= Date.now() + 30000);
  assert.equal(s.state, 'open', 'nothing changes before the deadline');
  assert.equal(calls, 1);
  // The deadline: the server closes with 1001; the session enters again by itself.
  FakeSocket.all[0].serverClose(1001, 'server draining');
  assert.equal(s.state, 'reconnecting');
  assert.equal(s.drainingUntil, null);
  await until(() => FakeSocket.all.length === 2, 2000);
  welcome(FakeSocket.all[1], part('ac', user(1, 'ann')), [], [], { id: 2, name: 'node-b' });
  assert.equal(s.state, 'open');
  assert.equal(s.server.id, 2);
});

test('kill -9 of the node: 1006, enter fails for a while, retries never stop, then it reconnects', async () => {
  let calls = 0;
  let down = false;
  const { s, events } = makeSession(async () => {
    calls += 1;
    if (down) throw fail(0, 'Cannot reach the server.');
    return answer(calls);
  }, { backoff: () => 1 });
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')));
  down = true;
  FakeSocket.all[0].serverClose(1006);
  await until(() => calls > 80);
  assert.equal(s.state, 'reconnecting', 'still trying after 80 failed entries');
  assert.ok(!events.some((e) => e.type === 'ended'));
  down = false;
  await until(() => FakeSocket.all.length === 2);
  welcome(FakeSocket.all[1], part('ab', user(1, 'ann')));
  assert.equal(s.state, 'open');
});

test('enter naming a dead node (the cluster has not noticed yet) is retried, never followed', async () => {
  let calls = 0;
  const probed = [];
  const visits = [];
  const { s, events } = makeSession(async () => {
    calls += 1;
    return calls <= 3 ? answer(calls, 'http://node-dead:5082') : answer(calls);
  }, {
    backoff: () => 1,
    probe: async (url) => { probed.push(url); return !url.includes('node-dead'); },
    navigate: (u) => visits.push(u),
  });
  s.start();
  await until(() => FakeSocket.all.length === 1);
  assert.deepEqual(visits, [], 'the browser was not sent to the dead node');
  assert.equal(probed[0], 'ws://node-dead:5082/ws', 'probed without the entry token');
  assert.equal(calls, 4);
  assert.equal(FakeSocket.all[0].url, 'ws://node-a:5080/ws?token=t4');
  assert.ok(events.some((e) => e.type === 'retry' && /not answering/.test(e.message)));
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')));
  assert.equal(s.state, 'open');
});

test('the node serving the page dies: the page moves to another node that answers', async () => {
  let down = false;
  let calls = 0;
  const visits = [];
  const probed = [];
  // welcome.servers: the live nodes, this one included.
  const servers = [
    { id: 1, name: 'node-a', url: ORIGIN },
    { id: 2, name: 'node-b', url: 'http://node-b:5081' },
    { id: 4, name: 'node-d', url: 'https://node-d/convene' },
  ];
  const { s, events } = makeSession(async () => {
    calls += 1;
    if (down) throw fail(0, 'Cannot reach the server.');
    return answer(calls);
  }, {
    backoff: () => 1,
    probe: async (url) => { probed.push(url); return url.startsWith('wss://node-d'); },
    navigate: (u) => visits.push(u),
  });
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')), [], [], undefined, { servers });
  assert.deepEqual(s.peers.map((p) => p.id), [1, 2, 4]);
  down = true;
  FakeSocket.all[0].serverClose(1006);
  await until(() => visits.length === 1);
  assert.deepEqual(visits, ['https://node-d/convene/room/7#moved']);
  assert.deepEqual(probed.sort(), ['ws://node-b:5081/ws', 'wss://node-d/convene/ws'], 'not this page\'s own node');
  assert.equal(s.state, 'redirecting');
  assert.ok(events.some((e) => e.type === 'redirecting' && e.failover && e.server.id === 4));
});

test('no other node answers either (the network is down): keep retrying here', async () => {
  let calls = 0;
  const visits = [];
  const { s } = makeSession(async () => {
    calls += 1;
    if (calls > 1) throw fail(0, 'Cannot reach the server.');
    return answer(calls);
  }, {
    backoff: () => 1,
    probe: async () => false,
    navigate: (u) => visits.push(u),
  });
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')), [], [], undefined, { servers: [NODE_B] });
  await tick(5);
  FakeSocket.all[0].serverClose(1006);
  await until(() => calls > 10);
  assert.deepEqual(visits, []);
  assert.equal(s.state, 'reconnecting');
});

test('an API error from this node (503 unavailable) is no reason to move', async () => {
  let calls = 0;
  const visits = [];
  const { s } = makeSession(async () => {
    calls += 1;
    if (calls > 1) throw fail(503, 'no server available', 'unavailable');
    return answer(calls);
  }, {
    backoff: () => 1,
    navigate: (u) => visits.push(u),
  });
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')), [], [], undefined, { servers: [NODE_B] });
  await tick(5);
  FakeSocket.all[0].serverClose(1006);
  await until(() => calls > 10);
  assert.deepEqual(visits, []);
});

test('a silent dead connection (no close, no pong) is noticed by the unanswered ping', async () => {
  mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
  try {
    let calls = 0;
    const { s } = makeSession(async () => answer(++calls), { backoff: () => 60000 });
    s.start();
    await Promise.resolve();
    await Promise.resolve();
    const sock = FakeSocket.all[0];
    welcome(sock, part('aa', user(1, 'ann')));
    mock.timers.tick(10000);
    assert.equal(sock.sent.filter((f) => f.type === 'ping').length, 1);
    sock.receive({ type: 'pong', nonce: 'x' });
    // A quiet room whose timers were throttled for a minute is not declared dead: the ping was answered.
    mock.timers.tick(60000);
    assert.equal(s.state, 'open');
    // Now the node stops answering: the outstanding ping times out.
    const pings = sock.sent.filter((f) => f.type === 'ping').length;
    mock.timers.tick(20000);
    assert.equal(sock.sent.filter((f) => f.type === 'ping').length, pings, 'no second ping while one is unanswered');
    assert.equal(s.state, 'reconnecting');
  } finally {
    mock.timers.reset();
  }
});

test('probeNode: a node that upgrades (and closes 4401) answers; 1006 or silence does not', async () => {
  const run = async (behave, timeout = 50) => {
    let sock;
    const p = P.probeNode('ws://n:1/ws', (u) => { sock = new FakeSocket(u); return sock; }, timeout);
    behave(sock);
    return p;
  };
  assert.equal(await run((w) => w.open()), true);
  assert.equal(await run((w) => w.serverClose(4401, 'no entry token')), true);
  assert.equal(await run((w) => w.serverClose(1006)), false);
  assert.equal(await run(() => {}), false, 'no answer within the timeout');
  assert.equal(await P.probeNode('ws://n:1/ws', () => { throw new Error('bad url'); }), false);
  assert.equal(await P.probeNode(null, (u) => new FakeSocket(u)), false);
  // The probe closes its socket once it knows.
  let sock;
  await P.probeNode('ws://n:1/ws', (u) => { sock = new FakeSocket(u); queueMicrotask(() => sock.open()); return sock; });
  assert.equal(sock.closedWith.code, 1000);
});

test('wsEndpoint turns a node URL into its /ws URL', () => {
  assert.equal(P.wsEndpoint('http://10.0.0.12:5080'), 'ws://10.0.0.12:5080/ws');
  assert.equal(P.wsEndpoint('https://n2.meet.example.org/convene/'), 'wss://n2.meet.example.org/convene/ws');
  assert.equal(P.wsEndpoint('not a url'), null);
});

test('a re-entry that lands on another node says so in the URL (#moved); a first entry does not', async () => {
  let calls = 0;
  const visits = [];
  const { s } = makeSession(async () => (++calls === 1 ? answer(calls) : answer(calls, 'http://node-b:5081')), {
    navigate: (u) => visits.push(u),
  });
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')));
  FakeSocket.all[0].serverClose(1001, 'server draining');
  await until(() => visits.length === 1);
  assert.deepEqual(visits, ['http://node-b:5081/room/7?token=t2#moved']);
  assert.equal(s.state, 'redirecting');
});

test('a move to another node carries what the page asks for in the fragment (#moved-mc)', async () => {
  let calls = 0;
  const visits = [];
  let carry = 'mc';
  const { s } = makeSession(async () => {
    calls += 1;
    if (calls === 2) return answer(calls, 'http://node-b:5081'); // the room moved
    if (calls >= 3) throw fail(0, 'Cannot reach the server.');
    return answer(calls);
  }, { backoff: () => 1, navigate: (u) => visits.push(u), carry: () => carry });
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')), [], [], undefined, { servers: [NODE_B] });
  FakeSocket.all[0].serverClose(4010);
  await until(() => visits.length === 1);
  assert.deepEqual(visits, ['http://node-b:5081/room/7?token=t2#moved-mc']);
  // Failover (this node is dead) carries it too; junk is dropped.
  const r = makeSession(async () => {
    calls += 1;
    if (calls > 3) throw fail(0, 'Cannot reach the server.');
    return answer(calls);
  }, { backoff: () => 1, navigate: (u) => visits.push(u), carry: () => 'c<script>' });
  r.s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')), [], [], undefined, { servers: [NODE_B] });
  FakeSocket.all[0].serverClose(1006);
  await until(() => visits.length === 2);
  assert.equal(visits[1], 'http://node-b:5081/room/7#moved-cscript');
  carry = '';
});

test('failover uses the live nodes of the last welcome; a welcome without a list keeps the previous one', async () => {
  let calls = 0;
  const visits = [];
  const { s } = makeSession(async () => {
    calls += 1;
    if (calls >= 3) throw fail(0, 'Cannot reach the server.');
    return answer(calls);
  }, {
    backoff: () => 1,
    navigate: (u) => visits.push(u),
  });
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')), [], [], undefined, { servers: [{ id: 1, name: 'node-a', url: ORIGIN }, NODE_B] });
  assert.deepEqual(s.peers.map((p) => p.id), [1, 2]);
  FakeSocket.all[0].serverClose(1011);
  await until(() => FakeSocket.all.length === 2);
  welcome(FakeSocket.all[1], part('ab', user(1, 'ann')));
  assert.deepEqual(s.peers.map((p) => p.id), [1, 2], 'kept');
  FakeSocket.all[1].serverClose(1006);
  await until(() => visits.length === 1);
  assert.deepEqual(visits, ['http://node-b:5081/room/7#moved']);
});

test('a single-node cluster has nowhere to fail over to: keep retrying here', async () => {
  let calls = 0;
  const visits = [];
  const { s } = makeSession(async () => {
    calls += 1;
    if (calls > 1) throw fail(0, 'Cannot reach the server.');
    return answer(calls);
  }, { backoff: () => 1, navigate: (u) => visits.push(u) });
  s.start();
  await until(() => FakeSocket.all.length === 1);
  welcome(FakeSocket.all[0], part('aa', user(1, 'ann')), [], [], undefined, { servers: [{ id: 1, name: 'node-a', url: ORIGIN }] });
  FakeSocket.all[0].serverClose(1006);
  await until(() => calls > 6);
  assert.deepEqual(visits, []);
  assert.equal(s.state, 'reconnecting');
});

test('media frames: participants\' media, rights, mutes, presenters and the signalling passed on', async () => {
  let calls = 0;
  const { s } = makeSession(async () => answer(++calls));
  const media = [];
  const seen = [];
  s.addEventListener('media', (e) => media.push(e.detail.frame.type));
  for (const t of ['media_state', 'publish_rights', 'muted', 'presenter', 'active_speaker']) s.addEventListener(t, (e) => seen.push({ type: t, ...e.detail }));
  s.start();
  await until(() => FakeSocket.all.length === 1);
  const sock = FakeSocket.all[0];
  const me = part('aa', user(1, 'ann'), { can_publish: true, presenter: false, media: { microphone: false, camera: false, screen: false } });
  const ben = part('bb', user(2, 'ben'), { can_publish: false, presenter: false, media: { microphone: false, camera: false, screen: false } });
  sock.open();
  sock.receive({
    type: 'welcome', you: me, room: { id: 7, name: 'Talk', kind: 'presentation', capacity: 10 }, participants: [me, ben], history: [],
    server: { id: 1, name: 'node-a' }, media: { available: true, ice_servers: [], can_publish: true },
  });
  assert.deepEqual(s.media, { available: true, ice_servers: [], can_publish: true });

  sock.receive({ type: 'media_state', participant_id: 'bb', microphone: true, camera: true, screen: false });
  assert.deepEqual(s.participants.get('bb').media, { microphone: true, camera: true, screen: false });
  // A presenter may publish: the others learn it from the presenter frame.
  sock.receive({ type: 'presenter', participant_id: 'bb', presenter: true, by: 'aa' });
  assert.equal(s.participants.get('bb').presenter, true);
  assert.equal(s.participants.get('bb').can_publish, true);
  sock.receive({ type: 'presenter', participant_id: 'bb', presenter: false, by: 'aa' });
  assert.equal(s.participants.get('bb').can_publish, false);

  sock.receive({ type: 'media_state', participant_id: 'aa', microphone: true, camera: false, screen: false });
  assert.equal(s.you.media.microphone, true);
  sock.receive({ type: 'muted', by: ben });
  assert.equal(s.you.media.microphone, false);
  sock.receive({ type: 'publish_rights', can_publish: false, reason: 'you are no longer a moderator' });
  assert.equal(s.you.can_publish, false);
  assert.equal(s.media.can_publish, false);
  sock.receive({ type: 'active_speaker', participant_id: 'bb' });
  assert.equal(s.speaker, 'bb');
  sock.receive({ type: 'active_speaker', participant_id: null });
  assert.equal(s.speaker, null);
  assert.deepEqual(seen.map((e) => e.type), ['media_state', 'presenter', 'presenter', 'media_state', 'muted', 'publish_rights', 'active_speaker', 'active_speaker']);
  assert.equal(seen.find((e) => e.type === 'muted').by.id, 'bb');

  for (const type of ['media_offer', 'media_answer', 'media_tracks', 'media_closed']) sock.receive({ type });
  assert.deepEqual(media, ['media_offer', 'media_answer', 'media_tracks', 'media_closed']);

  assert.ok(s.mute('bb') && s.grantPresenter('bb') && s.revokePresenter('bb') && s.send('media_state', { microphone: true, camera: false, screen: false }));
  assert.deepEqual(sock.sent.slice(-4), [
    { type: 'mute', participant_id: 'bb' },
    { type: 'grant_presenter', participant_id: 'bb' },
    { type: 'revoke_presenter', participant_id: 'bb' },
    { type: 'media_state', microphone: true, camera: false, screen: false },
  ]);
  // An error frame can be claimed by a listener (the media engine), so that the page shows it once.
  s.addEventListener('server_error', (e) => { e.detail.handled = true; }, { once: true });
  let handled = null;
  s.addEventListener('server_error', (e) => { handled = e.detail.handled; }, { once: true });
  sock.receive({ type: 'error', code: 'forbidden', message: 'no' });
  assert.equal(handled, true);
});

test('whiteboard frames: boards, operations, live pointers and the drawing right are passed on', async () => {
  let calls = 0;
  const { s } = makeSession(async () => answer(++calls));
  const seen = [];
  for (const t of ['boards', 'board', 'board_live', 'whiteboard', 'pong']) s.addEventListener(t, (e) => seen.push({ type: t, ...e.detail }));
  s.start();
  await until(() => FakeSocket.all.length === 1);
  const sock = FakeSocket.all[0];
  const me = part('aa', user(1, 'ann'), { can_draw: false });
  const ben = part('bb', user(2, 'ben'), { moderator: true, can_draw: true });
  welcome(sock, me, [ben]);
  assert.equal(s.canDraw, false);
  const board = { id: 1, name: 'Board 1', page: 0, pages: [], document: null, elements: [] };
  sock.receive({ type: 'boards', seq: 4, boards: [board] });
  const el = { id: 'bb-1', page: 0, tool: 'pen', color: '#000000', width: 2, points: [[0, 0]], text: null, size: null };
  sock.receive({ type: 'board', seq: 5, by: 'bb', op: { kind: 'put', board: 1, elements: [el] } });
  sock.receive({ type: 'board', seq: 6, by: 'aa', op: { kind: 'page', board: 1, page: 0 } });
  sock.receive({ type: 'board_live', participant_id: 'bb', board: 1, pointer: { x: 1, y: 2 }, draft: null });
  sock.receive({ type: 'whiteboard', participant_id: 'aa', can_draw: true, by: 'bb' });
  assert.equal(s.canDraw, true);
  assert.equal(s.participants.get('aa').can_draw, true);
  sock.receive({ type: 'pong', nonce: 'wb1' });
  assert.deepEqual(seen.map((e) => e.type), ['boards', 'board', 'board', 'board_live', 'whiteboard', 'pong']);
  assert.equal(seen[0].seq, 4);
  assert.equal(seen[1].mine, false);
  assert.equal(seen[2].mine, true, 'our own echo');
  assert.deepEqual(seen[3].pointer, { x: 1, y: 2 });
  assert.equal(seen[4].you, true);
  assert.equal(seen[4].by, 'bb');
  assert.equal(seen[5].nonce, 'wb1');

  assert.ok(s.sendBoard({ kind: 'clear', board: 1, page: 0 }) && s.sendBoardLive(1, { x: 3, y: 4 }, null)
    && s.grantWhiteboard('bb') && s.revokeWhiteboard('bb'));
  assert.deepEqual(sock.sent.slice(-4), [
    { type: 'board', op: { kind: 'clear', board: 1, page: 0 } },
    { type: 'board_live', board: 1, pointer: { x: 3, y: 4 }, draft: null },
    { type: 'grant_whiteboard', participant_id: 'bb' },
    { type: 'revoke_whiteboard', participant_id: 'bb' },
  ]);
});
