// Tests of web/js/recording.js (room recordings without DOM: the indicator's state from welcome, frames and answers,
// the Record button, the clock, the panel's rows, polling and status changes) and of the `recording` frames in
// protocol.js: `node --test crates/convene/web/tests/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './load.mjs';

const R = await load('../js/recording.js');
const I = await load('../js/i18n.js');
const P = await load('../js/protocol.js');

const T0 = Date.parse('2026-12-02T16:00:00Z');

test('welcome: a room already being recorded shows the indicator with the server’s start time', () => {
  const live = new R.LiveRecording();
  assert.equal(live.state, 'idle');
  assert.equal(live.welcome(null, T0), null, 'nothing running, nothing changes');
  const change = live.welcome({ id: 12, started_at: '2026-12-02T16:00:00Z', started_by: 'Teacher Name' }, T0 + 65000);
  assert.equal(change, 'started');
  assert.equal(live.state, 'recording');
  assert.equal(live.current.startedBy, 'Teacher Name');
  assert.equal(live.elapsed(T0 + 65000), 65000);
  assert.equal(R.formatClock(live.elapsed(T0 + 65000)), '1:05');
  // The same recording again (a reconnection): no change.
  assert.equal(live.welcome({ id: 12, started_at: '2026-12-02T16:00:00Z', started_by: 'Teacher Name' }, T0 + 70000), null);
  // A welcome without one: stopped meanwhile.
  assert.equal(live.welcome(null, T0 + 80000), 'stopped');
  assert.equal(live.active, false);
  assert.equal(live.elapsed(T0 + 90000), 0);
});

test('welcome: a start time in the future (the clocks differ) counts from now', () => {
  const live = new R.LiveRecording();
  live.welcome({ id: 1, started_at: '2026-12-02T16:00:10Z' }, T0);
  assert.equal(live.elapsed(T0), 0);
  assert.equal(live.elapsed(T0 + 3000), 3000);
});

test('frames: start and stop; a stop for another recording or a late start of a stopped one changes nothing', () => {
  const live = new R.LiveRecording();
  assert.equal(live.frame({ type: 'recording', active: true, id: 12, started_at: '2026-12-02T16:00:00Z', started_by: 'T' }, T0 + 500), 'started');
  assert.equal(live.state, 'recording');
  assert.equal(live.elapsed(T0 + 2500), 2500, 'a fresh frame: the server’s time');
  assert.equal(live.frame({ type: 'recording', active: true, id: 12, started_at: '2026-12-02T16:00:00Z' }, T0 + 600), null, 'the same again');
  assert.equal(live.frame({ type: 'recording', active: false, id: 11 }, T0 + 700), null, 'another id');
  assert.equal(live.state, 'recording');
  assert.equal(live.frame({ type: 'recording', active: false, id: 12 }, T0 + 800), 'stopped');
  assert.equal(live.state, 'idle');
  assert.equal(live.frame({ type: 'recording', active: true, id: 12, started_at: '2026-12-02T16:00:00Z' }, T0 + 900), null, 'stopped stays stopped');
  assert.equal(live.state, 'idle');
  assert.equal(live.frame({ type: 'recording', active: true, id: 13, started_at: '2026-12-02T16:05:00Z' }, T0 + 300000), 'started');
  assert.equal(live.current.id, 13);
  assert.equal(live.frame(null), null);
});

test('a fresh frame whose time is far off (clock skew) counts from when it arrived', () => {
  const live = new R.LiveRecording();
  live.frame({ active: true, id: 1, started_at: '2026-12-02T15:00:00Z' }, T0);
  assert.equal(live.elapsed(T0 + 1000), 1000);
  assert.equal(R.startTime('2026-12-02T16:00:00Z', T0 + 5000, true), T0, 'a few seconds: the server’s time');
  assert.equal(R.startTime('2026-12-02T16:00:30Z', T0, true), T0, 'in the future: now');
  assert.equal(R.startTime('2026-12-02T15:00:00Z', T0, false), T0 - 3600000, 'a welcome: the server’s time');
  assert.equal(R.startTime('nonsense', T0, false), T0);
});

test('answers of the start and stop calls move the state ahead of the frames, which stay the truth', () => {
  const live = new R.LiveRecording();
  const rec = { id: 12, status: 'recording', started_at: '2026-12-02T16:00:00Z', started_by: { id: 3, name: 'Teacher Name' } };
  assert.equal(live.answer(rec, T0 + 200), 'started');
  assert.equal(live.current.startedBy, 'Teacher Name', 'a recording’s started_by is {id, name}');
  assert.equal(live.frame({ active: true, id: 12, started_at: '2026-12-02T16:00:00Z', started_by: 'Teacher Name' }, T0 + 300), null, 'the frame confirms');
  // Stop: the answer says processing; the frame that follows changes nothing; a late start frame does not revive it.
  assert.equal(live.answer({ ...rec, status: 'processing' }, T0 + 5000), 'stopped');
  assert.equal(live.frame({ active: false, id: 12 }, T0 + 5100), null);
  assert.equal(live.answer(rec, T0 + 5200), null);
  assert.equal(live.state, 'idle');
  // The frame first, then the answer.
  const other = new R.LiveRecording();
  other.frame({ active: true, id: 20, started_at: '2026-12-02T16:00:00Z' }, T0);
  assert.equal(other.answer({ id: 20, status: 'recording', started_at: '2026-12-02T16:00:00Z' }, T0 + 10), null);
  assert.equal(other.answer(null), null);
});

test('who may record, and what the Record button shows', () => {
  assert.equal(R.mayRecord(null), false);
  assert.equal(R.mayRecord({ can_record: true }), true);
  assert.equal(R.mayRecord({ can_record: false, moderator: true }), false, 'the server’s word wins');
  assert.equal(R.mayRecord({ moderator: true }), true, 'without can_record: moderators');
  I.setLanguage('en');
  assert.deepEqual(R.toggleView(false), { state: 'idle', label: 'Record', title: R.toggleView(false).title, busy: false });
  assert.equal(R.toggleView(true).label, 'Stop recording');
  assert.equal(R.toggleView(true).state, 'recording');
  assert.deepEqual([R.toggleView(false, 'start').busy, R.toggleView(false, 'start').state], [true, 'idle']);
  assert.equal(R.toggleView(true, 'stop').label, 'Stopping…');
  I.setLanguage('de');
  try {
    assert.equal(R.toggleView(false).label, 'Aufnehmen');
  } finally {
    I.setLanguage('en');
  }
});

test('the clock, durations and sizes', () => {
  assert.equal(R.formatClock(0), '0:00');
  assert.equal(R.formatClock(5999), '0:05');
  assert.equal(R.formatClock(754000), '12:34');
  assert.equal(R.formatClock(3723000), '1:02:03');
  assert.equal(R.formatClock(-5), '0:00');
  assert.equal(R.formatClock(NaN), '0:00');
  assert.equal(R.formatSeconds(3723), '1:02:03');
  assert.equal(R.formatSeconds(59.6), '1:00');
  assert.equal(R.formatSeconds(null), '');
  assert.equal(R.formatSeconds(-1), '');
  I.setLanguage('en');
  assert.equal(R.formatSize(512), '512 B');
  assert.equal(R.formatSize(1536), '1.5 KB');
  assert.equal(R.formatSize(52 * 1024 * 1024), '52 MB');
  assert.equal(R.formatSize(null), '');
  I.setLanguage('de');
  try {
    assert.equal(R.formatSize(1536), '1,5 KB');
  } finally {
    I.setLanguage('en');
  }
});

const rec = (id, status, extra = {}) => ({
  id, room_id: 7, name: `Lesson ${id}`, status, error: null, started_at: `2026-12-0${id}T16:00:00Z`, stopped_at: null,
  duration_seconds: null, size_bytes: null, started_by: { id: 3, name: 'Teacher Name' }, media_url: null, thumbnail_url: null,
  may_manage: false, ...extra,
});

test('the listing: newest first, either shape, the running one for the device check', () => {
  const list = R.sortRecordings({ recordings: [rec(1, 'ready'), rec(3, 'recording'), rec(2, 'failed')] });
  assert.deepEqual(list.map((r) => r.id), [3, 2, 1]);
  assert.deepEqual(R.sortRecordings([rec(1, 'ready'), null, { name: 'no id' }]).map((r) => r.id), [1]);
  assert.deepEqual(R.sortRecordings(null), []);
  assert.equal(R.runningRecording({ recordings: [rec(1, 'ready'), rec(3, 'recording')] }).id, 3);
  assert.equal(R.runningRecording({ recordings: [rec(1, 'processing')] }), null);
  assert.equal(R.runningRecording(undefined), null);
});

test('polling while a recording is being stopped or processed', () => {
  assert.equal(R.needsPolling([rec(1, 'ready'), rec(2, 'failed')]), false);
  assert.equal(R.needsPolling([rec(1, 'ready'), rec(2, 'processing')]), true);
  assert.equal(R.needsPolling([rec(1, 'stopping')]), true);
  assert.equal(R.needsPolling([rec(1, 'recording')]), false, 'a running one changes by a frame');
  assert.equal(R.needsPolling([rec(1, 'something new')]), true, 'an unknown status may change');
  assert.equal(R.needsPolling(null), false);
});

test('a row: status words, meta, and the actions by status and may_manage', () => {
  I.setLanguage('en');
  const ready = R.rowView(rec(1, 'ready', {
    media_url: '/api/v1/recordings/1/media', duration_seconds: 3723, size_bytes: 1536, may_manage: true,
  }));
  assert.equal(ready.status, 'ready');
  assert.equal(ready.statusText, '');
  assert.equal(ready.play, true);
  assert.equal(ready.download, '/api/v1/recordings/1/media?download=1');
  assert.deepEqual([ready.rename, ready.remove, ready.retry, ready.busy], [true, true, false, false]);
  assert.ok(ready.meta.includes('1:02:03'));
  assert.ok(ready.meta.includes('1.5 KB'));
  assert.ok(ready.meta.includes('by Teacher Name'));

  const viewer = R.rowView(rec(1, 'ready', { media_url: '/m/1' }));
  assert.deepEqual([viewer.play, viewer.rename, viewer.remove, viewer.retry], [true, false, false, false]);

  const processing = R.rowView(rec(2, 'processing', { may_manage: true }));
  assert.deepEqual([processing.busy, processing.play, processing.download, processing.statusText], [true, false, null, 'Processing…']);
  assert.equal(processing.remove, true);

  const running = R.rowView(rec(3, 'recording', { may_manage: true }));
  assert.deepEqual([running.busy, running.remove, running.statusText], [false, false, 'Recording…'], 'stopped first');
  assert.equal(R.rowView(rec(3, 'stopping', { may_manage: true })).remove, false);

  const failed = R.rowView(rec(4, 'failed', { error: 'ffmpeg exited with 1', may_manage: true }));
  assert.deepEqual([failed.retry, failed.error, failed.statusText], [true, 'ffmpeg exited with 1', 'Processing failed']);
  assert.equal(R.rowView(rec(4, 'failed')).retry, false, 'only for those who may manage');
  assert.equal(R.rowView(rec(4, 'failed')).error, 'The server gave no reason.');

  const noMedia = R.rowView(rec(5, 'ready'));
  assert.deepEqual([noMedia.play, noMedia.statusText], [false, 'Not available']);
});

test('titles, download links and names', () => {
  I.setLanguage('en');
  assert.equal(R.recordingTitle(rec(1, 'ready')), 'Lesson 1');
  assert.match(R.recordingTitle(rec(1, 'ready', { name: '  ' })), /^Recording of /);
  assert.equal(R.recordingTitle({ id: 1 }), 'Recording');
  assert.equal(R.downloadUrl('/m/1'), '/m/1?download=1');
  assert.equal(R.downloadUrl('/m/1?sig=a'), '/m/1?sig=a&download=1');
  assert.equal(R.downloadUrl(null), null);
  assert.equal(R.downloadName(rec(1, 'ready', { name: 'Maths: 2/3' })), 'Maths_ 2_3.webm');
  assert.equal(R.downloadName(rec(1, 'ready', { name: 'x.webm' })), 'x.webm');
});

test('status changes between two listings, and what is said about them', () => {
  I.setLanguage('en');
  const before = [rec(1, 'processing'), rec(2, 'processing'), rec(3, 'ready')];
  const after = [rec(4, 'recording'), rec(1, 'ready'), rec(2, 'failed'), rec(3, 'ready')];
  const changes = R.statusChanges(before, after);
  assert.deepEqual(changes.map((c) => [c.id, c.from, c.to]), [[1, 'processing', 'ready'], [2, 'processing', 'failed']]);
  assert.equal(R.changeMessage(changes[0]), '“Lesson 1” is ready to be played.');
  assert.equal(R.changeMessage(changes[1]), '“Lesson 2” could not be processed.');
  assert.equal(R.changeMessage({ to: 'processing', name: 'x' }), '');
  assert.deepEqual(R.statusChanges(null, after), []);
});

test('the entering notice says since when and who started', () => {
  I.setLanguage('en');
  const live = new R.LiveRecording();
  live.welcome({ id: 1, started_at: '2026-12-02T16:00:00Z', started_by: 'Teacher Name' }, T0 + 1000);
  assert.match(R.recordingSince(live.current), /^Recording since .+, started by Teacher Name\.$/);
  assert.match(R.recordingSince({ started_at: '2026-12-02T16:00:00Z', started_by: { id: 1, name: 'T' } }), /started by T\./);
  assert.equal(R.recordingSince({ started_by: 'T' }), 'Recording started by T.');
  assert.equal(R.recordingSince(null), '');
});

// --- protocol.js: welcome.recording and `recording` frames -----------------------------------

class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.last = this;
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.({}); }
  receive(frame) { this.onmessage?.({ data: JSON.stringify(frame) }); }
}

test('RoomSession keeps the running recording from the welcome and the frames, and emits recording events', async () => {
  const s = new P.RoomSession({
    roomId: 7,
    origin: 'http://node-a:5080',
    enter: async () => ({ server: { id: 1, name: 'a', url: 'http://node-a:5080' }, token: 't', ws_url: 'ws://node-a:5080/ws?token=t', room_url: 'http://node-a:5080/room/7', expires_in: 60 }),
    makeSocket: (u) => new FakeSocket(u),
    storage: null,
    probe: async () => true,
  });
  const events = [];
  s.addEventListener('recording', (e) => events.push(e.detail));
  s.start();
  try {
    const end = Date.now() + 2000;
    while (!FakeSocket.last && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    const sock = FakeSocket.last;
    sock.open();
    const you = { id: 5, user: { id: 1, login: 'teacher' }, moderator: true, can_record: true };
    sock.receive({ type: 'welcome', you, room: { id: 7, name: 'Maths' }, participants: [you], recording: { id: 12, started_at: '2026-12-02T16:00:00Z', started_by: 'Teacher Name' } });
    assert.equal(s.recording.id, 12);
    assert.equal(s.you.can_record, true);
    sock.receive({ type: 'recording', active: false, id: 11 });
    assert.equal(s.recording.id, 12, 'another recording’s stop');
    sock.receive({ type: 'recording', active: false, id: 12 });
    assert.equal(s.recording, null);
    sock.receive({ type: 'recording', active: true, id: 13, started_at: '2026-12-02T17:00:00Z', started_by: 'Teacher Name' });
    assert.deepEqual(s.recording, { id: 13, started_at: '2026-12-02T17:00:00Z', started_by: 'Teacher Name' });
    assert.deepEqual(events.map((e) => [e.active, e.id]), [[false, 11], [false, 12], [true, 13]]);
    sock.receive({ type: 'welcome', you, room: { id: 7, name: 'Maths' }, participants: [you], recording: null });
    assert.equal(s.recording, null, 'the welcome is the server’s state');
  } finally {
    s.stop();
  }
});
