// Tests of web/js/devices.js (remembered device choices, device lists, microphone level): `node --test …/tests/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './load.mjs';

const D = await load('../js/devices.js');

function withStorage(fn) {
  const store = new Map();
  globalThis.localStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)) };
  try {
    return fn(store);
  } finally {
    delete globalThis.localStorage;
  }
}

test('choices are remembered in this browser under the keys media.js reads', () => {
  withStorage((store) => {
    assert.equal(D.storedDevice('camera'), '');
    D.storeDevice('camera', 'cam-2');
    D.storeDevice('speaker', 'out-1');
    assert.equal(D.storedDevice('camera'), 'cam-2');
    assert.equal(store.get('convene.device.camera'), 'cam-2');
    assert.equal(store.get('convene.device.speaker'), 'out-1');
    assert.equal(D.storedJoin('microphone', true), true, 'default');
    D.storeJoin('microphone', false);
    assert.equal(D.storedJoin('microphone', true), false);
    D.storeJoin('camera', true);
    assert.equal(D.storedJoin('camera', false), true);
  });
  // No storage (private mode, denied): nothing breaks.
  assert.equal(D.storedDevice('camera'), '');
  D.storeDevice('camera', 'x');
});

test('listDevices: three kinds, names or numbered names, which kinds exist before permission', async () => {
  const md = (list) => ({ enumerateDevices: async () => list });
  const before = await D.listDevices(md([
    { kind: 'audioinput', deviceId: '', label: '' },
    { kind: 'videoinput', deviceId: '', label: '' },
  ]));
  assert.deepEqual(before.present, { microphone: true, camera: true, speaker: false });
  assert.deepEqual(before.microphone, [], 'no ids before permission');
  const after = await D.listDevices(md([
    { kind: 'audioinput', deviceId: 'default', label: 'Default' },
    { kind: 'audioinput', deviceId: 'm2', label: '' },
    { kind: 'videoinput', deviceId: 'c1', label: 'Front camera' },
    { kind: 'audiooutput', deviceId: 'o1', label: 'Headphones' },
    { kind: 'audiooutput', deviceId: 'o1', label: 'Headphones' },
  ]));
  assert.deepEqual(after.microphone.map((d) => [d.deviceId, d.label, d.unnamed]), [['default', 'Default', false], ['m2', 'Microphone 2', true]]);
  assert.deepEqual(after.camera.map((d) => d.label), ['Front camera']);
  assert.deepEqual(after.speaker.map((d) => d.deviceId), ['o1'], 'duplicates once');
  assert.deepEqual((await D.listDevices(null)).present, { microphone: false, camera: false, speaker: false });
  assert.deepEqual((await D.listDevices({ enumerateDevices: async () => { throw new Error('no'); } })).camera, []);
});

test('chooseDevice: the remembered device while it is there, else the first', () => {
  const list = [{ deviceId: 'a' }, { deviceId: 'b' }];
  assert.equal(D.chooseDevice(list, 'b'), 'b');
  assert.equal(D.chooseDevice(list, 'gone'), 'a');
  assert.equal(D.chooseDevice([], 'b'), '');
});

test('levelOf: silence is 0, a loud signal near 1, in between by decibels', () => {
  assert.equal(D.levelOf(new Float32Array(512)), 0);
  assert.equal(D.levelOf([]), 0);
  const sine = (amp) => Float32Array.from({ length: 1024 }, (_, i) => amp * Math.sin(i / 5));
  assert.ok(D.levelOf(sine(0.9)) > 0.9);
  const quiet = D.levelOf(sine(0.01));
  const mid = D.levelOf(sine(0.1));
  assert.ok(quiet > 0 && quiet < mid && mid < D.levelOf(sine(0.5)), `${quiet} < ${mid}`);
  assert.ok(D.levelOf(sine(0.0001)) === 0, 'below -60 dBFS');
});

test('LevelMeter reads the analyser and falls slowly; stop releases the graph', async () => {
  const made = [];
  let amp = 0.5;
  class FakeContext {
    constructor() { this.state = 'running'; this.closed = false; made.push(this); }
    createMediaStreamSource(stream) { this.stream = stream; return { connect: (n) => { this.connected = n; }, disconnect: () => { this.disconnected = true; } }; }
    createAnalyser() {
      return { fftSize: 0, getFloatTimeDomainData: (buf) => { for (let i = 0; i < buf.length; i++) buf[i] = amp * Math.sin(i / 3); } };
    }
    close() { this.closed = true; return Promise.resolve(); }
  }
  class FakeStream { constructor(tracks) { this.tracks = tracks; } }
  const levels = [];
  const meter = new D.LevelMeter({ kind: 'audio' }, (l) => levels.push(l), { AudioContext: FakeContext, MediaStream: FakeStream, intervalMs: 5 });
  const until = async (cond) => {
    const end = Date.now() + 3000;
    while (!cond()) {
      assert.ok(Date.now() < end, `timed out: ${levels.slice(-5)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    await until(() => levels.length >= 2);
    assert.ok(levels.at(-1) > 0.7, `loud: ${levels.at(-1)}`);
    amp = 0;
    const at = levels.length;
    await until(() => levels.length > at);
    const falling = levels[at];
    assert.ok(falling > 0.5 && falling < levels[at - 1], `falls gradually, not at once: ${levels[at - 1]} → ${falling}`);
    await until(() => levels.at(-1) === 0);
  } finally {
    meter.stop();
  }
  assert.equal(levels.at(-1), 0);
  assert.ok(made[0].closed && made[0].connected, 'the analyser was connected, the context closed');
  const n = levels.length;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(levels.length, n, 'no more readings after stop');
  // Without Web Audio (old browser): a meter that stays at zero.
  const none = new D.LevelMeter({}, () => {}, { AudioContext: null });
  none.stop();
});

test('speaker: setSinkId when the browser has it', async () => {
  assert.equal(D.speakerSupported({ setSinkId() {} }), true);
  assert.equal(D.speakerSupported({}), false);
  assert.equal(D.speakerSupported(undefined), false);
  const el = { sinkId: '', setSinkId(id) { this.sinkId = id; return Promise.resolve(); } };
  assert.equal(await D.applySpeaker(el, 'o2'), true);
  assert.equal(el.sinkId, 'o2');
  const bad = { sinkId: '', setSinkId: () => Promise.reject(new Error('NotFoundError')) };
  assert.equal(await D.applySpeaker(bad, 'gone'), false);
  assert.equal(await D.applySpeaker({}, 'o2'), false);
});

test('the test tone is a small WAV file', async () => {
  const blob = D.testToneWav({ seconds: 0.1, rate: 8000 });
  assert.equal(blob.type, 'audio/wav');
  const bytes = new Uint8Array(await blob.arrayBuffer());
  assert.equal(String.fromCharCode(...bytes.slice(0, 4)), 'RIFF');
  assert.equal(String.fromCharCode(...bytes.slice(8, 12)), 'WAVE');
  assert.equal(bytes.length, 44 + 800 * 2);
});
