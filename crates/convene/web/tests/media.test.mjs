// Tests of web/js/media-parts.js (grid layout, track bookkeeping, messages) and web/js/media.js (the media engine's
// signalling, against fake peer connections, devices and session): `node --test crates/convene/web/tests/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './load.mjs';

// media.js imports ./media-parts.js and ./i18n.js: load.mjs gives both modules the same instances.
const M = await load('../js/media-parts.js');
const E = await load('../js/media.js');

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const until = async (cond, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await tick(2);
  }
};

// --- pure pieces ------------------------------------------------------------------------------

test('gridLayout: 1, 2, 3–4, 5–9 and more tiles; a screen share with others', () => {
  const l = (n, s) => M.gridLayout(n, s);
  assert.deepEqual(l(0), { layout: '1', columns: 1, rows: 1 });
  assert.deepEqual(l(1), { layout: '1', columns: 1, rows: 1 });
  assert.deepEqual(l(2), { layout: '2', columns: 2, rows: 1 });
  assert.deepEqual(l(3), { layout: '4', columns: 2, rows: 2 });
  assert.deepEqual(l(4), { layout: '4', columns: 2, rows: 2 });
  assert.deepEqual(l(5), { layout: '9', columns: 3, rows: 2 });
  assert.deepEqual(l(6), { layout: '9', columns: 3, rows: 2 });
  assert.deepEqual(l(7), { layout: '9', columns: 3, rows: 3 });
  assert.deepEqual(l(9), { layout: '9', columns: 3, rows: 3 });
  assert.deepEqual(l(10), { layout: 'many', columns: 4, rows: 0 });
  assert.deepEqual(l(40), { layout: 'many', columns: 4, rows: 0 });
  // A screen share alone is just one tile; with others it is large, the others in a strip (at least 3 rows).
  assert.equal(l(1, 1).layout, '1');
  assert.deepEqual(l(2, 1), { layout: 'screen', columns: 2, rows: 3 });
  assert.deepEqual(l(7, 1), { layout: 'screen', columns: 2, rows: 6 });
  assert.equal(l('x').layout, '1');
});

test('layerFor: large tiles get the high simulcast layer, small ones the low one', () => {
  for (const layout of ['1', '2', '4']) assert.equal(M.layerFor(layout), 'high');
  for (const layout of ['9', 'many', 'screen']) assert.equal(M.layerFor(layout), 'low');
  assert.equal(M.layerFor('screen', { main: true }), 'high');
});

test('TrackMap: description and track in either order; gone mids are forgotten', () => {
  const m = new M.TrackMap();
  const t = (id) => ({ id });
  m.setTrack('0', t('a-mic')); // ontrack before media_tracks
  assert.deepEqual(m.entries(), [], 'nothing is shown before its description');
  const gone = m.setInfo([
    { mid: '0', participant_id: 'A', kind: 'audio', label: 'microphone' },
    { mid: '1', participant_id: 'A', kind: 'video', label: 'camera' },
    { mid: '2', participant_id: 'B', kind: 'video', label: 'screen' },
    { mid: '3', participant_id: 'B', kind: 'video', label: 'bogus' }, // unknown label → by kind
    { participant_id: 'B', kind: 'video', label: 'camera' }, // no mid: ignored
  ]);
  assert.deepEqual(gone, []);
  m.setTrack('1', t('a-cam'));
  m.setTrack('2', t('b-screen'));
  m.setTrack(3, t('b-cam'));
  assert.deepEqual(m.entries().map((e) => [e.mid, e.participantId, e.kind, e.label, e.track.id]), [
    ['0', 'A', 'audio', 'microphone', 'a-mic'],
    ['1', 'A', 'video', 'camera', 'a-cam'],
    ['2', 'B', 'video', 'screen', 'b-screen'],
    ['3', 'B', 'video', 'camera', 'b-cam'],
  ]);
  const byP = m.byParticipant();
  assert.equal(byP.get('A').microphone.id, 'a-mic');
  assert.equal(byP.get('A').camera.id, 'a-cam');
  assert.equal(byP.get('A').screen, null);
  assert.equal(byP.get('B').screen.id, 'b-screen');
  // B stops everything: the next list no longer has its mids, and their tracks go.
  assert.deepEqual(m.setInfo([{ mid: '0', participant_id: 'A', kind: 'audio', label: 'microphone' }, { mid: '1', participant_id: 'A', kind: 'video', label: 'camera' }]), ['2', '3']);
  assert.equal(m.tracks.has('2'), false);
  assert.deepEqual([...m.byParticipant().keys()], ['A']);
  m.removeTrack('1');
  assert.deepEqual(m.entries().map((e) => e.mid), ['0']);
  m.clear();
  assert.deepEqual(m.entries(), []);
  assert.deepEqual(m.setInfo(null), []);
});

test('sumInbound adds decoded video frames and received audio bytes of inbound RTP only', () => {
  const report = new Map([
    ['a', { type: 'inbound-rtp', kind: 'video', framesDecoded: 30, bytesReceived: 9999 }],
    ['b', { type: 'inbound-rtp', kind: 'video', framesDecoded: 12 }],
    ['c', { type: 'inbound-rtp', kind: 'audio', bytesReceived: 500 }],
    ['d', { type: 'inbound-rtp', mediaType: 'audio', bytesReceived: 20 }],
    ['e', { type: 'outbound-rtp', kind: 'video', framesEncoded: 100, bytesSent: 7 }],
    ['f', { type: 'candidate-pair', bytesReceived: 123456 }],
  ]);
  assert.deepEqual(M.sumInbound(report), { videoFramesDecoded: 42, audioBytesReceived: 520 });
  assert.deepEqual(M.sumInbound(null), { videoFramesDecoded: 0, audioBytesReceived: 0 });
});

test('device errors and publishing rights in words', () => {
  const e = (name) => Object.assign(new Error('x'), { name });
  assert.match(M.describeMediaError(e('NotAllowedError'), 'camera'), /blocked the camera/);
  assert.match(M.describeMediaError(e('NotFoundError'), 'microphone'), /No microphone was found/);
  assert.match(M.describeMediaError(e('NotReadableError'), 'camera'), /another application/);
  assert.match(M.describeMediaError(e('NotSupportedError'), 'camera'), /https/);
  assert.match(M.describeMediaError(e('NotAllowedError'), 'screen'), /Screen sharing was cancelled/);
  assert.match(M.describeMediaError(e('Weird'), 'camera'), /could not be started/);
  for (const kind of ['presentation', 'interview', 'conference', undefined]) assert.match(M.rightsMessage(kind), /\bonly\b/);
  assert.match(M.rightsMessage('presentation'), /moderators and presenters/);
  assert.match(M.rightsMessage('interview'), /two people/);
});

test('waitForIceGathering: at once when complete, on the event, or after the timeout', async () => {
  class Pc extends EventTarget {
    iceGatheringState = 'gathering';
  }
  const done = await Promise.race([M.waitForIceGathering(Object.assign(new Pc(), { iceGatheringState: 'complete' }), 1000).then(() => 'done'), tick(50).then(() => 'late')]);
  assert.equal(done, 'done');
  const pc = new Pc();
  const p = M.waitForIceGathering(pc, 5000);
  setTimeout(() => {
    pc.iceGatheringState = 'complete';
    pc.dispatchEvent(new Event('icegatheringstatechange'));
  }, 5);
  await p;
  const pc2 = new Pc();
  const p2 = M.waitForIceGathering(pc2, 5000);
  setTimeout(() => pc2.dispatchEvent(Object.assign(new Event('icecandidate'), { candidate: null })), 5);
  await p2;
  const t0 = Date.now();
  await M.waitForIceGathering(new Pc(), 30);
  assert.ok(Date.now() - t0 >= 25, 'gave up after the timeout');
});

// --- the engine, with fakes -------------------------------------------------------------------

class FakeTrack extends EventTarget {
  constructor(kind, deviceId = 'default') {
    super();
    this.kind = kind;
    this.id = `${kind}-${++FakeTrack.n}`;
    this.stopped = false;
    this.deviceId = deviceId;
    this.contentHint = '';
  }
  stop() { this.stopped = true; }
  getSettings() { return { deviceId: this.deviceId }; }
}
FakeTrack.n = 0;

class FakeStream {
  constructor(tracks = []) { this.tracks = tracks; }
  getTracks() { return this.tracks; }
  getAudioTracks() { return this.tracks.filter((t) => t.kind === 'audio'); }
  getVideoTracks() { return this.tracks.filter((t) => t.kind === 'video'); }
}

function fakeDevices() {
  const d = {
    fail: null, // an error name to throw
    calls: [],
    async getUserMedia(c) {
      d.calls.push(c);
      if (d.fail) throw Object.assign(new Error('denied'), { name: d.fail });
      const id = c.audio?.deviceId?.exact || c.video?.deviceId?.exact || 'default';
      return new FakeStream([new FakeTrack(c.audio ? 'audio' : 'video', id)]);
    },
    async getDisplayMedia() { return new FakeStream([new FakeTrack('video')]); },
    async enumerateDevices() {
      return [{ kind: 'audioinput', deviceId: 'm1', label: '' }, { kind: 'videoinput', deviceId: 'c1', label: 'Cam' }, { kind: 'audiooutput', deviceId: 'o', label: 'x' }];
    },
  };
  return d;
}

// An RTCPeerConnection that records what it is asked. A remote offer is JSON: [{mid, kind}], stopped ones with stopped: true.
class FakePc extends EventTarget {
  constructor(config) {
    super();
    this.config = config;
    this.transceivers = [];
    this.nextMid = 0;
    this.closed = false;
    this.connectionState = 'new';
    this.iceGatheringState = 'new';
    this.signalingState = 'stable';
    this.remote = [];
    this.local = [];
    this.localDescription = null;
    this.stats = new Map();
    FakePc.all.push(this);
  }
  addTransceiver(track, init) {
    const t = {
      mid: null, init, direction: init.direction, currentDirection: null, stopped: false,
      sender: { track, async replaceTrack(x) { this.track = x; } },
      receiver: { track: null },
    };
    this.transceivers.push(t);
    return t;
  }
  getTransceivers() { return this.transceivers; }
  async createOffer() { return { type: 'offer', sdp: `offer-${this.local.length}` }; }
  async createAnswer() { return { type: 'answer', sdp: `answer-${this.local.length}` }; }
  async setLocalDescription(d) {
    for (const t of this.transceivers) if (t.mid == null) t.mid = String(this.nextMid++);
    this.local.push(d);
    this.localDescription = d;
    this.iceGatheringState = 'complete';
    this.signalingState = d.type === 'offer' ? 'have-local-offer' : 'stable';
  }
  async setRemoteDescription(d) {
    this.remote.push(d);
    if (d.type !== 'offer') {
      this.signalingState = 'stable';
      return;
    }
    for (const m of JSON.parse(d.sdp)) {
      let t = this.transceivers.find((x) => x.mid === m.mid);
      if (m.stopped) {
        if (t) {
          t.stopped = true;
          t.currentDirection = 'stopped';
        }
        continue;
      }
      if (t) continue;
      t = { mid: m.mid, direction: 'recvonly', currentDirection: 'recvonly', stopped: false, sender: { track: null }, receiver: { track: new FakeTrack(m.kind) } };
      this.transceivers.push(t);
      this.dispatchEvent(Object.assign(new Event('track'), { track: t.receiver.track, transceiver: t }));
    }
  }
  async getStats() { return this.stats; }
  close() { this.closed = true; this.connectionState = 'closed'; }
}
FakePc.all = [];

class FakeSession extends EventTarget {
  constructor(kind = 'conference', canPublish = true) {
    super();
    this.you = { id: 'me', user: { login: 'me' }, can_publish: canPublish };
    this.room = { id: 1, kind };
    this.media = { available: true, ice_servers: [{ urls: ['turn:t.example:3478'], username: 'u', credential: 'c' }], can_publish: canPublish };
    this.state = 'open';
    this.sent = [];
  }
  get connected() { return this.state === 'open'; }
  send(type, fields = {}) {
    if (!this.connected) return false;
    this.sent.push({ type, ...fields });
    return true;
  }
  emit(type, detail = {}) {
    const ev = new CustomEvent(type, { detail });
    this.dispatchEvent(ev);
    return detail;
  }
  frame(f) { this.emit('media', { frame: f }); }
  last(type) { return this.sent.filter((f) => f.type === type).at(-1); }
  count(type) { return this.sent.filter((f) => f.type === type).length; }
}

function setup(kind, canPublish) {
  FakePc.all = [];
  const session = new FakeSession(kind, canPublish);
  const devices = fakeDevices();
  const engine = new E.MediaEngine({ session, mediaDevices: devices, PeerConnection: FakePc, MediaStream: FakeStream, gatherTimeoutMs: 50, answerTimeoutMs: 500 });
  const events = [];
  for (const t of ['change', 'remote', 'error', 'muted', 'rights', 'speaker']) engine.addEventListener(t, (e) => events.push({ type: t, ...(e.detail || {}) }));
  return { session, devices, engine, events };
}

/** Answers the pending media_offer as the server would. */
async function answerUp(session, n) {
  await until(() => session.count('media_offer') >= n);
  session.frame({ type: 'media_answer', sdp: `server-answer-${n}` });
}

test('publishing: one sendonly transceiver per track, an offer with the labels, media_state after the answer', async () => {
  const { session, engine } = setup();
  const on = engine.setOn('camera', true);
  await answerUp(session, 1);
  assert.equal(await on, true);
  const up = FakePc.all[0];
  assert.deepEqual(up.config.iceServers, session.media.ice_servers, 'the TURN servers of the welcome');
  assert.deepEqual(session.last('media_offer'), { type: 'media_offer', sdp: 'offer-0', tracks: { 0: 'camera' } });
  const cam = up.transceivers[0];
  assert.equal(cam.init.direction, 'sendonly');
  assert.deepEqual(cam.init.sendEncodings.map((e) => [e.rid, e.scaleResolutionDownBy]), [['h', undefined], ['l', 2]], 'simulcast');
  assert.deepEqual(up.remote.at(-1), { type: 'answer', sdp: 'server-answer-1' });
  assert.deepEqual(session.last('media_state'), { type: 'media_state', microphone: false, camera: true, screen: false });
  assert.equal(engine.publishing, true);

  // A second track: a new transceiver, so a new offer naming both mids.
  const mic = engine.setOn('microphone', true);
  await answerUp(session, 2);
  await mic;
  assert.deepEqual(session.last('media_offer').tracks, { 0: 'camera', 1: 'microphone' });
  assert.deepEqual(session.last('media_state'), { type: 'media_state', microphone: true, camera: true, screen: false });

  // Camera off and on again: replaceTrack only, no offer.
  const camTrack = engine.local.camera;
  await engine.setOn('camera', false);
  assert.equal(camTrack.stopped, true, 'the camera is released');
  assert.equal(cam.sender.track, null);
  assert.equal(session.last('media_state').camera, false);
  await engine.setOn('camera', true);
  assert.equal(cam.sender.track, engine.local.camera);
  assert.equal(session.count('media_offer'), 2, 'no renegotiation');
  assert.equal(session.last('media_state').camera, true);

  // Everything off, then on again: an offer, so that the server applies the room's rules again.
  await engine.setOn('camera', false);
  await engine.setOn('microphone', false);
  assert.deepEqual(session.last('media_state'), { type: 'media_state', microphone: false, camera: false, screen: false });
  assert.equal(engine.publishing, false);
  const again = engine.setOn('microphone', true);
  await answerUp(session, 3);
  await again;
  assert.equal(FakePc.all.length, 1, 'the same connection');
  assert.equal(session.last('media_state').microphone, true);
  engine.destroy();
});

test('a screen share is its own transceiver; the browser ending it turns it off', async () => {
  const { session, engine } = setup();
  const p = engine.setOn('screen', true);
  await answerUp(session, 1);
  await p;
  assert.deepEqual(session.last('media_offer').tracks, { 0: 'screen' });
  assert.equal(engine.local.screen.contentHint, 'detail');
  assert.equal(session.last('media_state').screen, true);
  engine.local.screen.dispatchEvent(new Event('ended')); // "Stop sharing" in the browser's bar
  await until(() => session.last('media_state').screen === false);
  assert.equal(engine.isOn('screen'), false);
  engine.destroy();
});

test('forcePublish: rejects with the server\'s refusal, which the engine claims; everything is turned off', async () => {
  const { session, engine, events } = setup('presentation', false);
  const refused = await engine.setOn('camera', true);
  assert.equal(refused, false, 'the page does not even try');
  assert.match(events.find((e) => e.type === 'error').message, /only moderators and presenters/);
  assert.equal(session.count('media_offer'), 0);

  const p = engine.forcePublish();
  await until(() => session.count('media_offer') === 1);
  assert.deepEqual(Object.values(session.last('media_offer').tracks).sort(), ['camera', 'microphone']);
  const detail = session.emit('server_error', { code: 'forbidden', message: 'you may not publish in this room', handled: false });
  await assert.rejects(p, /you may not publish in this room/);
  assert.equal(detail.handled, true, 'room.js shows no second notice');
  assert.equal(engine.isOn('camera') || engine.isOn('microphone'), false);
  assert.equal(FakePc.all[0].closed, true);
  assert.equal(engine.up, null);
  assert.equal(events.filter((e) => e.type === 'error').at(-1).message, 'You may not publish in this room.');
  // An unrelated error (not during an offer) is left to the page.
  assert.equal(session.emit('server_error', { code: 'forbidden', message: 'moderators only', handled: false }).handled, false);
  engine.destroy();
});

test('forcePublish resolves when media_answer arrives', async () => {
  const { session, engine } = setup();
  const p = engine.forcePublish();
  await answerUp(session, 1);
  await p;
  assert.equal(engine.publishing, true);
  engine.destroy();
});

test('receiving: the server\'s offer is answered; media_tracks maps mids to participants', async () => {
  const { session, engine } = setup();
  session.frame({ type: 'media_offer', sdp: JSON.stringify([{ mid: '0', kind: 'audio' }, { mid: '1', kind: 'video' }]) });
  await until(() => session.count('media_answer') === 1);
  assert.deepEqual(session.last('media_answer'), { type: 'media_answer', sdp: 'answer-0' });
  const down = FakePc.all[0];
  assert.equal(engine.down.pc, down);
  assert.deepEqual(engine.remote(), [], 'nothing shown before media_tracks');
  session.frame({ type: 'media_tracks', tracks: [
    { mid: '0', participant_id: 'ann', kind: 'audio', label: 'microphone' },
    { mid: '1', participant_id: 'ann', kind: 'video', label: 'camera' },
  ] });
  assert.deepEqual(engine.remote().map((e) => [e.mid, e.participantId, e.label]), [['0', 'ann', 'microphone'], ['1', 'ann', 'camera']]);
  assert.equal(engine.remoteByParticipant().get('ann').camera, down.transceivers[1].receiver.track);

  // A new offer: ann's camera stops, ben's screen comes.
  session.frame({ type: 'media_offer', sdp: JSON.stringify([{ mid: '1', stopped: true }, { mid: '2', kind: 'video' }]) });
  await until(() => session.count('media_answer') === 2);
  assert.deepEqual(engine.remote().map((e) => e.mid), ['0'], 'the stopped mid is gone at once');
  session.frame({ type: 'media_tracks', tracks: [
    { mid: '0', participant_id: 'ann', kind: 'audio', label: 'microphone' },
    { mid: '2', participant_id: 'ben', kind: 'video', label: 'screen' },
  ] });
  assert.deepEqual(engine.remote().map((e) => [e.mid, e.participantId, e.label]), [['0', 'ann', 'microphone'], ['2', 'ben', 'screen']]);
  assert.equal(FakePc.all.length, 1, 'one receiving connection throughout');

  // stats(): summed over the receiving connection.
  down.stats = new Map([['v', { type: 'inbound-rtp', kind: 'video', framesDecoded: 5 }], ['a', { type: 'inbound-rtp', kind: 'audio', bytesReceived: 70 }]]);
  down.connectionState = 'connected';
  assert.deepEqual(await engine.stats(), { videoFramesDecoded: 5, audioBytesReceived: 70, publishing: false, upState: 'none', downState: 'connected' });
  engine.destroy();
});

test('media_closed down: the connection is dropped and the next offer gets a new one', async () => {
  const { session, engine } = setup();
  session.frame({ type: 'media_offer', sdp: JSON.stringify([{ mid: '0', kind: 'audio' }]) });
  await until(() => session.count('media_answer') === 1);
  session.frame({ type: 'media_tracks', tracks: [{ mid: '0', participant_id: 'ann', kind: 'audio', label: 'microphone' }] });
  session.frame({ type: 'media_closed', direction: 'down' });
  assert.equal(FakePc.all[0].closed, true);
  assert.deepEqual(engine.remote(), []);
  session.frame({ type: 'media_offer', sdp: JSON.stringify([{ mid: '0', kind: 'audio' }]) });
  await until(() => session.count('media_answer') === 2);
  assert.equal(FakePc.all.length, 2);
  assert.equal(engine.down.pc, FakePc.all[1]);
  engine.destroy();
});

test('media_closed up: a new publishing connection offers the tracks that are on', async () => {
  const { session, engine } = setup();
  const p = engine.setOn('microphone', true);
  await answerUp(session, 1);
  await p;
  session.frame({ type: 'media_closed', direction: 'up' });
  assert.equal(FakePc.all[0].closed, true);
  await answerUp(session, 2);
  await until(() => engine.up && engine.up.pc.remote.length === 1);
  assert.equal(engine.up.pc, FakePc.all[1]);
  assert.deepEqual(session.last('media_offer').tracks, { 0: 'microphone' });
  engine.destroy();
});

test('publish_rights withdrawn: tracks stop, the publishing connection closes, the buttons may not turn them on', async () => {
  const { session, engine, events } = setup('presentation', true);
  const p = engine.setOn('camera', true);
  await answerUp(session, 1);
  await p;
  const track = engine.local.camera;
  session.you.can_publish = false;
  session.emit('publish_rights', { can_publish: false, reason: 'you no longer present' });
  assert.equal(track.stopped, true);
  assert.equal(engine.isOn('camera'), false);
  assert.equal(FakePc.all[0].closed, true);
  assert.equal(engine.canPublish, false);
  assert.ok(events.some((e) => e.type === 'rights' && e.can_publish === false));
  assert.equal(await engine.setOn('microphone', true), false);
  // Granted again: a new connection on the next click.
  session.you.can_publish = true;
  session.emit('publish_rights', { can_publish: true, reason: 'you may now present' });
  const again = engine.setOn('microphone', true);
  await answerUp(session, 2);
  await again;
  assert.equal(FakePc.all.length, 2);
  engine.destroy();
});

test('muted by a moderator: the microphone goes off and the state is sent', async () => {
  const { session, engine, events } = setup();
  const p = engine.setOn('microphone', true);
  await answerUp(session, 1);
  await p;
  const mic = engine.local.microphone;
  session.emit('muted', { by: { id: 'mod', user: { login: 'boss' } } });
  assert.equal(mic.stopped, true);
  assert.equal(engine.isOn('microphone'), false);
  await until(() => session.last('media_state').microphone === false);
  assert.equal(events.find((e) => e.type === 'muted').by.id, 'mod');
  engine.destroy();
});

test('a new welcome (reconnection) rebuilds both connections and publishes again what is on', async () => {
  const { session, engine } = setup();
  const p = engine.setOn('camera', true);
  await answerUp(session, 1);
  await p;
  session.frame({ type: 'media_offer', sdp: JSON.stringify([{ mid: '0', kind: 'audio' }]) });
  await until(() => session.count('media_answer') === 1);
  const [up1, down1] = FakePc.all;
  session.state = 'reconnecting';
  session.emit('state', { state: 'reconnecting' });
  assert.equal(up1.closed && down1.closed, true, 'both go when the connection is lost');
  assert.equal(engine.isOn('camera'), true, 'the camera stays on (self view)');
  session.state = 'open';
  session.emit('state', { state: 'open' });
  session.emit('welcome', {});
  await answerUp(session, 2);
  await until(() => session.last('media_state') && session.count('media_state') === 2);
  assert.notEqual(engine.up.pc, up1);
  assert.deepEqual(session.last('media_offer').tracks, { 0: 'camera' });
  session.frame({ type: 'media_offer', sdp: JSON.stringify([{ mid: '0', kind: 'audio' }]) });
  await until(() => session.count('media_answer') === 2);
  assert.notEqual(engine.down.pc, down1);
  // Leaving the room for good turns everything off.
  session.emit('state', { state: 'ended' });
  assert.equal(engine.isOn('camera'), false);
  engine.destroy();
});

test('a device the browser refuses: an error in words, nothing published', async () => {
  const { session, devices, engine, events } = setup();
  devices.fail = 'NotAllowedError';
  assert.equal(await engine.setOn('camera', true), false);
  const err = events.find((e) => e.type === 'error');
  assert.equal(err.code, 'NotAllowedError');
  assert.match(err.message, /blocked the camera/);
  assert.equal(session.count('media_offer'), 0);
  devices.fail = 'NotFoundError';
  await engine.setOn('microphone', true);
  assert.match(events.filter((e) => e.type === 'error').at(-1).message, /No microphone/);
  engine.destroy();
});

test('switching devices swaps the track with replaceTrack, without an offer', async () => {
  const { session, devices, engine } = setup();
  const p = engine.setOn('camera', true);
  await answerUp(session, 1);
  await p;
  const old = engine.local.camera;
  assert.equal(await engine.selectDevice('camera', 'c2'), true);
  assert.equal(old.stopped, true);
  assert.equal(engine.local.camera.deviceId, 'c2');
  assert.equal(engine.up.tx.camera.sender.track, engine.local.camera);
  assert.equal(session.count('media_offer'), 1);
  assert.deepEqual(devices.calls.at(-1).video.deviceId, { exact: 'c2' });
  const list = await engine.listDevices();
  assert.deepEqual(list.microphone.map((d) => [d.deviceId, d.label, d.unnamed]), [['m1', 'Microphone 1', true]]);
  assert.deepEqual(list.camera.map((d) => [d.deviceId, d.label]), [['c1', 'Cam']]);
  engine.destroy();
});

test('media_layer is sent once per change', () => {
  const { session, engine } = setup();
  engine.setLayer('ann', 'low');
  engine.setLayer('ann', 'low');
  engine.setLayer('ann', 'high');
  assert.deepEqual(session.sent.filter((f) => f.type === 'media_layer').map((f) => f.quality), ['low', 'high']);
  engine.destroy();
});
