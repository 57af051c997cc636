// The waiting room in web/js/protocol.js (docs/protocol.md, *Waiting room*), with a fake WebSocket:
// `node --test crates/convene/web/tests/`.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './load.mjs';

const P = await load('../js/protocol.js');

class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.({}); }
  receive(frame) { this.onmessage?.({ data: JSON.stringify(frame) }); }
  serverClose(code, reason = '') { this.readyState = 3; this.onclose?.({ code, reason, wasClean: true }); }
}
FakeSocket.all = [];

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

const ORIGIN = 'http://node-a:5080';
let n = 0;
const answer = () => {
  n += 1;
  return { server: { id: 1, name: 'node-a', url: ORIGIN }, token: `t${n}`, ws_url: `ws://node-a:5080/ws?token=t${n}`, room_url: `${ORIGIN}/room/7?token=t${n}`, expires_in: 60 };
};

function session() {
  FakeSocket.all = [];
  const events = [];
  let enters = 0;
  const s = new P.RoomSession({
    roomId: 7, enter: async () => { enters += 1; return answer(); }, origin: ORIGIN, makeSocket: (u) => new FakeSocket(u), storage: null, probe: async () => true,
  });
  sessions.push(s);
  for (const t of ['state', 'waiting', 'admitted', 'lobby', 'welcome', 'ended', 'retry']) {
    s.addEventListener(t, (e) => events.push({ type: t, ...(e.detail || {}) }));
  }
  return { s, events, enters: () => enters };
}

const room = { id: 7, name: 'Maths', kind: 'conference', capacity: 10, waiting_room: true };
const you = { id: 'w1', user: { id: 3, login: 'guest-1', display_name: 'Greta' }, moderator: false, hand_raised: false, since: '', guest: true };

test('a waiter waits, is admitted, then welcomed', async () => {
  const { s, events } = session();
  s.start();
  await until(() => FakeSocket.all.length === 1);
  const sock = FakeSocket.all[0];
  sock.open();
  sock.receive({ type: 'waiting', participant_id: 'w1', room });
  assert.equal(s.state, 'waiting');
  assert.deepEqual(events.find((e) => e.type === 'waiting'), { type: 'waiting', id: 'w1', room });
  sock.receive({ type: 'admitted', by: 'm1' });
  assert.equal(events.find((e) => e.type === 'admitted').by, 'm1');
  sock.receive({ type: 'welcome', you, room, participants: [you], history: [], server: { id: 1, name: 'node-a' } });
  assert.equal(s.state, 'open');
  assert.equal(s.room.waiting_room, true);
});

test('a refused waiter (4002) is told and does not enter again', async () => {
  const { s, events, enters } = session();
  s.start();
  await until(() => FakeSocket.all.length === 1);
  const sock = FakeSocket.all[0];
  sock.open();
  sock.receive({ type: 'waiting', participant_id: 'w1', room });
  sock.serverClose(4002, 'a moderator did not let you into the room');
  const ended = events.find((e) => e.type === 'ended');
  assert.equal(ended.code, 4002);
  assert.equal(ended.retry, 'none');
  assert.equal(ended.title, 'You were not let in');
  assert.match(ended.message, /did not let you into the room/);
  await tick(600);
  assert.equal(enters(), 1, 'no second enter');
  assert.deepEqual(P.describeClose(P.CloseCode.REFUSED, '').message, 'A moderator did not let you into the room.');
});

test('moderators get the lobby; admit and refuse are frames', async () => {
  const { s, events } = session();
  s.start();
  await until(() => FakeSocket.all.length === 1);
  const sock = FakeSocket.all[0];
  const mod = { ...you, id: 'm1', moderator: true, guest: false };
  sock.open();
  sock.receive({ type: 'welcome', you: mod, room, participants: [mod], history: [], server: { id: 1, name: 'node-a' } });
  const waiting = [{ id: 'w1', user: you.user, guest: true, since: '2025-01-01T00:00:00Z' }];
  sock.receive({ type: 'lobby', waiting });
  assert.deepEqual(events.find((e) => e.type === 'lobby').waiting, waiting);
  assert.ok(s.send('admit', { participant_id: 'w1' }));
  assert.ok(s.send('refuse', { participant_id: 'w2' }));
  assert.deepEqual(sock.sent.slice(-2), [{ type: 'admit', participant_id: 'w1' }, { type: 'refuse', participant_id: 'w2' }]);
});
