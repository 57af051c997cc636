// Tests of web/js/upload-queue.js (the Files panel's upload queue: states, at most two at once, cancel, retry, the
// limits checked before sending) with a fake `send`, and of the pure parts of the page viewer and the board's
// export links: `node --test crates/convene/web/tests/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './load.mjs';

const Q = await load('../js/upload-queue.js');
const V = await load('../js/views/page-viewer.js');
const T = await load('../js/views/room-board-toolbar.js');
const { UploadQueue, refusal, percent } = Q;

const file = (name, size = 100) => ({ name, size });
const tick = () => new Promise((r) => setTimeout(r, 0));

/** A queue whose uploads are settled by hand: calls[i].resolve(result) / .reject(error) / .progress(l, t). */
function harness(opts = {}) {
  const calls = [];
  const changes = [];
  const done = [];
  const q = new UploadQueue({
    concurrency: 2,
    ...opts,
    send: (entry, progress) => {
      let resolve;
      let reject;
      const promise = new Promise((res, rej) => {
        resolve = res;
        reject = rej;
      });
      const call = { entry, file: entry.file, progress, resolve, reject, aborted: false };
      call.abort = () => {
        call.aborted = true;
        reject(Object.assign(new Error('aborted'), { code: 'cancelled' }));
      };
      calls.push(call);
      return { promise, abort: () => call.abort() };
    },
    onChange: (e) => changes.push(`${e.name}:${e.removed ? 'removed' : e.state}`),
    onDone: (e, result) => done.push([e.name, result]),
  });
  const states = () => q.entries.map((e) => `${e.name}:${e.state}`);
  return { q, calls, changes, done, states };
}

test('each file is its own entry; at most two are sent at once, the others wait in order', async () => {
  const { q, calls, done, states } = harness();
  const added = q.add([file('a'), file('b'), file('c'), file('d')]);
  assert.equal(added.length, 4);
  assert.deepEqual(states(), ['a:uploading', 'b:uploading', 'c:waiting', 'd:waiting']);
  assert.deepEqual(calls.map((c) => c.entry.name), ['a', 'b']);
  assert.equal(q.running, 2);
  assert.ok(!q.idle);

  calls[1].resolve({ id: 2 });
  await tick();
  assert.deepEqual(states(), ['a:uploading', 'b:done', 'c:uploading', 'd:waiting']);
  assert.deepEqual(done, [['b', { id: 2 }]]);
  calls[0].resolve({ id: 1 });
  calls[2].resolve({ id: 3 });
  await tick();
  assert.deepEqual(states(), ['a:done', 'b:done', 'c:done', 'd:uploading']);
  calls[3].resolve({ id: 4 });
  await tick();
  assert.ok(q.idle);
  assert.equal(calls.length, 4, 'each file sent once');
  assert.equal(q.clearDone(), 4);
  assert.deepEqual(q.entries, []);
});

test('progress: whole percentages, 100 only when the server answered', async () => {
  const { q, calls } = harness();
  const [e] = q.add([file('a', 1000)]);
  calls[0].progress(250, 1000);
  assert.equal(e.percent, 25);
  assert.equal(e.loaded, 250);
  calls[0].progress(1000, 1000);
  assert.equal(e.percent, 99, 'all bytes sent, the answer not yet in');
  calls[0].resolve({});
  await tick();
  assert.equal(e.percent, 100);
  assert.equal(percent(5, 0), 0);
  assert.equal(percent(1, 3), 33);
});

test('a failure keeps the server\'s reason; Retry sends the same File again from the start, at the end of the line', async () => {
  const { q, calls, states } = harness({ concurrency: 1 });
  const [a] = q.add([file('a'), file('b')]);
  calls[0].progress(50, 100);
  calls[0].reject(Object.assign(new Error('the file does not fit the quota'), { code: 'quota_exceeded', status: 413 }));
  await tick();
  assert.equal(a.state, 'failed');
  assert.deepEqual(a.error, { code: 'quota_exceeded', message: 'the file does not fit the quota', status: 413 });
  assert.deepEqual(states(), ['a:failed', 'b:uploading']);
  assert.ok(q.canRetry(a));
  assert.ok(!q.canCancel(a));

  assert.ok(q.retry(a.id));
  assert.deepEqual(states(), ['b:uploading', 'a:waiting'], 'behind those already in the line');
  assert.equal(a.error, null);
  assert.equal(a.percent, 0);
  assert.equal(a.loaded, 0);
  calls[1].resolve({});
  await tick();
  assert.equal(calls.length, 3);
  assert.equal(calls[2].file, calls[0].file, 'the very same File object');
  assert.equal(a.attempts, 2);
  calls[2].resolve({ id: 9 });
  await tick();
  assert.equal(a.state, 'done');
  assert.ok(!q.retry(a.id), 'nothing to retry once done');
});

test('a network failure is code "network"; an error without a code too', async () => {
  const { q, calls } = harness();
  const [a, b] = q.add([file('a'), file('b')]);
  calls[0].reject(Object.assign(new Error('Network error'), { code: 'network', status: 0 }));
  calls[1].reject(new Error(''));
  await tick();
  assert.equal(a.error.code, 'network');
  assert.equal(b.error.code, 'network');
  assert.ok(q.canRetry(a) && q.canRetry(b));
});

test('Cancel aborts an upload in flight (state at once), the next one starts, and a late answer is ignored', async () => {
  const { q, calls, states } = harness();
  const [a] = q.add([file('a'), file('b'), file('c')]);
  assert.ok(q.canCancel(a));
  assert.ok(q.cancel(a.id));
  assert.ok(calls[0].aborted, 'xhr.abort()');
  assert.equal(a.state, 'cancelled');
  assert.deepEqual(states(), ['a:cancelled', 'b:uploading', 'c:uploading']);
  calls[0].resolve({ late: true });
  await tick();
  assert.equal(a.state, 'cancelled');
  assert.ok(q.canRetry(a));
  assert.ok(!q.cancel(a.id), 'already cancelled');

  // Retried: a new attempt; progress of the old one no longer counts.
  q.retry(a.id);
  calls[1].resolve({});
  await tick();
  assert.equal(a.state, 'uploading');
  calls[0].progress(90, 100);
  assert.equal(a.percent, 0);
  calls[3].progress(10, 100);
  assert.equal(a.percent, 10);
});

test('Cancel on a waiting entry takes it out of the line: it is never sent', async () => {
  const { q, calls, states } = harness({ concurrency: 1 });
  const [, b] = q.add([file('a'), file('b')]);
  q.cancel(b.id);
  assert.deepEqual(states(), ['a:uploading', 'b:cancelled']);
  calls[0].resolve({});
  await tick();
  assert.equal(calls.length, 1);
  assert.ok(q.idle);
});

test('a file over max_file_bytes is refused before sending, and cannot be retried', () => {
  const { q, calls, changes } = harness();
  q.setLimits({ maxFileBytes: 1000 });
  const [big, ok] = q.add([file('big', 1001), file('ok', 1000)]);
  assert.equal(big.state, 'failed');
  assert.deepEqual(big.error, { code: 'too_large', message: '', status: 0, local: true });
  assert.equal(ok.state, 'uploading');
  assert.deepEqual(calls.map((c) => c.entry.name), ['ok']);
  assert.ok(!q.canRetry(big));
  assert.ok(!q.retry(big.id));
  assert.ok(changes.includes('big:failed'));
  assert.ok(q.remove(big.id));
  assert.ok(changes.includes('big:removed'));
});

test('the quota: used plus the uploads in flight and those finished since the listing', async () => {
  const { q, calls, states } = harness();
  q.setLimits({ quota: 1000, used: 400 });
  const [a, b, c] = q.add([file('a', 300), file('b', 200), file('c', 200)]);
  // a and b go (400 + 300 + 200 = 900); c waits, and when its turn comes only 100 are free while a is in flight.
  assert.deepEqual(states(), ['a:uploading', 'b:uploading', 'c:waiting']);
  assert.equal(q.reserved(), 500);
  const mark = q.mark();
  calls[1].resolve({});
  await tick();
  assert.equal(c.state, 'failed');
  assert.equal(c.error.code, 'quota');
  assert.equal(q.reserved(), 500, 'b is done but not yet in the listing');
  // A listing asked for before b finished does not count it yet.
  q.counted(mark);
  assert.equal(q.reserved(), 500);
  // a fails on the server; the listing asked for after b says 600 used.
  calls[0].reject(Object.assign(new Error('boom'), { code: 'internal', status: 500 }));
  await tick();
  const mark2 = q.mark();
  q.setLimits({ used: 600 });
  q.counted(mark2);
  assert.equal(q.reserved(), 0);
  assert.ok(q.canRetry(c), 'past the quota is worth a retry once space is free');
  q.retry(c.id);
  assert.equal(c.state, 'uploading');
  assert.equal(a.state, 'failed');
});

test('refusal(): no limits, size limit, quota with reserved bytes', () => {
  assert.equal(refusal(10), null);
  assert.equal(refusal(10, { maxFileBytes: 0, quota: null }), null);
  assert.equal(refusal(11, { maxFileBytes: 10 }), 'too_large');
  assert.equal(refusal(10, { maxFileBytes: 10 }), null);
  assert.equal(refusal(60, { quota: 100, used: 50 }), 'quota');
  assert.equal(refusal(50, { quota: 100, used: 50 }), null);
  assert.equal(refusal(30, { quota: 100, used: 50 }, 30), 'quota');
});

test('remove() only finished entries; close() aborts all; a send that throws fails its entry', async () => {
  const { q, calls } = harness();
  const [a, b, c] = q.add([file('a'), file('b'), file('c')]);
  assert.ok(!q.remove(a.id), 'still uploading');
  q.close();
  assert.ok(calls[0].aborted && calls[1].aborted);
  assert.deepEqual([a.state, b.state, c.state], ['cancelled', 'cancelled', 'cancelled']);
  assert.ok(!q.retry(a.id), 'closed');
  assert.equal(calls.length, 2);

  const broken = new UploadQueue({ send: () => { throw new Error('no XMLHttpRequest'); } });
  const [x] = broken.add([file('x')]);
  assert.equal(x.state, 'failed');
  assert.equal(x.error.message, 'no XMLHttpRequest');
});

test('page viewer: turning pages and keys', () => {
  assert.equal(V.turn(0, 5, -1), 0);
  assert.equal(V.turn(0, 5, 1), 1);
  assert.equal(V.turn(4, 5, 1), 4);
  assert.equal(V.turn(2, 5, 'first'), 0);
  assert.equal(V.turn(2, 5, 'last'), 4);
  assert.equal(V.turn(0, 0, 1), 0);
  assert.equal(V.keyAction('ArrowRight'), 1);
  assert.equal(V.keyAction('PageUp'), -1);
  assert.equal(V.keyAction('End'), 'last');
  assert.equal(V.keyAction('a'), null);
});

test('page viewer: fetchPages sorts the pages and words a conversion in progress', async () => {
  const answer = (status, body) => async () => ({ ok: status < 300, status, json: async () => body });
  const pages = await V.fetchPages('/p', answer(200, [{ number: 2, url: '/2' }, { number: 1, url: '/1' }, { number: 3 }]));
  assert.deepEqual(pages.map((p) => p.number), [1, 2]);
  await assert.rejects(V.fetchPages('/p', answer(409, { error: { code: 'converting', message: 'converting' }, status: 'converting', pages_done: 3, pages_total: 12 })), /3 of 12/);
  await assert.rejects(V.fetchPages('/p', answer(409, { error: { code: 'conversion_failed', message: 'LibreOffice could not convert this document' } })), /LibreOffice/);
  await assert.rejects(V.fetchPages('/p', async () => { throw new TypeError('offline'); }), /Cannot reach the server/);
});

test('board export addresses', () => {
  assert.equal(T.exportUrl(7, 2, 'png', 3), '/api/v1/rooms/7/boards/2/export?format=png&page=3');
  assert.equal(T.exportUrl('a b', 1, 'pdf', 'all'), '/api/v1/rooms/a%20b/boards/1/export?format=pdf&page=all');
});
