// Tests of web/js/board-model.js (the whiteboard's state, checks, undo and redo, geometry):
// `node --test crates/convene/web/tests/`. The expectations follow crates/convene/src/boards/{model,validate}.rs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './load.mjs';

const B = await load('../js/board-model.js');
const F = await load('../js/views/room-files.js');
const { BoardState, History, LIMITS } = B;

const el = (id, extra = {}) => ({
  id, page: 0, tool: 'pen', color: '#1e88e5', width: 4, points: [[10, 10], [12, 14]], text: null, size: null, ...extra,
});
const text = (id, extra = {}) => el(id, { tool: 'text', width: 1, points: [[0, 0]], text: 'Hello', size: 20, ...extra });
const board = (id, extra = {}) => ({ id, name: `Board ${id}`, page: 0, pages: [], document: null, elements: [], ...extra });
const slides = (n) => Array.from({ length: n }, (_, i) => ({ number: i + 1, width: 1600, height: 900, url: `/p/${i + 1}` }));
const state = (boards = [board(1)], seq = 0) => new BoardState({ seq, boards });
const ids = (s, b = 1) => s.board(b).elements.map((e) => e.id);

// --- apply -------------------------------------------------------------------------------------

test('load: a boards frame, copied (the frame is not changed by later operations)', () => {
  const frame = { seq: 7, boards: [board(1, { elements: [el('a')] }), board(3)] };
  const s = new BoardState(frame);
  assert.equal(s.seq, 7);
  assert.deepEqual(s.boards.map((b) => b.id), [1, 3]);
  assert.equal(s.nextBoardId(), 4);
  s.apply(8, { kind: 'erase', board: 1, ids: ['a'] });
  assert.equal(frame.boards[0].elements.length, 1);
  assert.equal(s.board(1).elements.length, 0);
  assert.equal(s.board('3').id, 3, 'ids as strings too');
});

test('put adds, and replaces by id where the element was in the drawing order', () => {
  const s = state();
  s.apply(1, { kind: 'put', board: 1, elements: [el('a'), el('b'), el('c')] });
  const moved = el('a', { points: [[50, 50], [60, 60]] });
  s.apply(2, { kind: 'put', board: 1, elements: [moved, el('d')] });
  assert.deepEqual(ids(s), ['a', 'b', 'c', 'd']);
  assert.deepEqual(s.board(1).elements[0].points, [[50, 50], [60, 60]]);
  assert.equal(s.seq, 2);
  // A put within one operation with the same id twice: the last one wins, once.
  s.apply(3, { kind: 'put', board: 1, elements: [el('e'), el('e', { color: '#000000' })] });
  assert.deepEqual(ids(s), ['a', 'b', 'c', 'd', 'e']);
  assert.equal(s.element(1, 'e').color, '#000000');
});

test('erase, clear of one page, page, document', () => {
  const s = state([board(1, { pages: slides(3) })]);
  s.apply(1, { kind: 'put', board: 1, elements: [el('a'), el('b', { page: 1 }), el('c', { page: 1 }), el('d', { page: 2 })] });
  s.apply(2, { kind: 'erase', board: 1, ids: ['a', 'zz'] });
  assert.deepEqual(ids(s), ['b', 'c', 'd'], 'unknown ids are ignored');
  s.apply(3, { kind: 'clear', board: 1, page: 1 });
  assert.deepEqual(ids(s), ['d']);
  s.apply(4, { kind: 'page', board: 1, page: 2 });
  assert.equal(s.board(1).page, 2);
  s.apply(5, { kind: 'page', board: 1, page: 3 });
  assert.equal(s.board(1).page, 2, 'a page out of range changes nothing');
  s.apply(6, { kind: 'document', board: 1, file: 9, name: 'deck.pdf', pages: slides(5) });
  const b = s.board(1);
  assert.deepEqual(b.document, { file: 9, name: 'deck.pdf' });
  assert.equal(b.pages.length, 5);
  assert.equal(b.page, 0, 'a new document starts at its first page');
  assert.deepEqual(ids(s), ['d'], 'the elements stay');
});

test('add_board, rename_board, remove_board; the last board stays; ids are never reused', () => {
  const s = state();
  s.apply(1, { kind: 'add_board', name: 'Maths', board: 2 });
  s.apply(2, { kind: 'add_board', name: 'Again', board: 2 });
  assert.deepEqual(s.boards.map((b) => [b.id, b.name]), [[1, 'Board 1'], [2, 'Maths']], 'an existing id is not added twice');
  s.apply(3, { kind: 'rename_board', board: 2, name: 'Physics' });
  assert.equal(s.board(2).name, 'Physics');
  s.apply(4, { kind: 'remove_board', board: 2 });
  assert.equal(s.nextBoardId(), 3, 'a removed id is not given again');
  s.apply(5, { kind: 'remove_board', board: 1 });
  assert.deepEqual(s.boards.map((b) => b.id), [1], 'the last board cannot be removed');
  s.apply(6, { kind: 'add_board', name: 'No id' });
  assert.deepEqual(s.boards.map((b) => b.id), [1, 3]);
});

test('lenient: operations on a board or element that is gone change nothing', () => {
  const s = state([board(1, { elements: [el('a')] })]);
  const before = JSON.stringify(s.boards);
  for (const op of [
    { kind: 'put', board: 9, elements: [el('x')] },
    { kind: 'erase', board: 1, ids: ['zz'] },
    { kind: 'erase', board: 9, ids: ['a'] },
    { kind: 'clear', board: 9, page: 0 },
    { kind: 'clear', board: 1, page: 4 },
    { kind: 'page', board: 1, page: 4 },
    { kind: 'rename_board', board: 9, name: 'x' },
    { kind: 'remove_board', board: 9 },
    { kind: 'document', board: 9, file: 1, name: 'x', pages: [] },
    { kind: 'what', board: 1 },
  ]) s.apply(s.seq + 1, op);
  assert.equal(JSON.stringify(s.boards), before);
  assert.equal(s.seq, 10);
});

test('an operation already in the state (seq not past it) is skipped', () => {
  const s = state([board(1, { elements: [el('a')] })], 5);
  assert.equal(s.apply(5, { kind: 'clear', board: 1, page: 0 }), false);
  assert.deepEqual(ids(s), ['a']);
  assert.equal(s.apply(6, { kind: 'clear', board: 1, page: 0 }), true);
  assert.deepEqual(ids(s), []);
});

// --- validation --------------------------------------------------------------------------------

test('elementProblem: the shapes of the protocol pass; what the node refuses does not', () => {
  const P = (e, pages) => B.elementProblem(e, pages);
  assert.equal(P(el('a')), null);
  assert.equal(P(el('a', { points: [[0, 0]] })), null, 'a dot');
  assert.equal(P(el('a', { tool: 'highlighter' })), null);
  for (const tool of ['line', 'arrow', 'rect', 'ellipse']) assert.equal(P(el('a', { tool })), null, tool);
  assert.equal(P(text('t', { text: 'two\nlines' })), null);
  assert.equal(P({ id: 'a', tool: 'pen', color: '#000000', width: 2, points: [[0, 0]] }), null, 'page, text and size may be left out');

  assert.equal(P(el('a', { extra: 1 })), 'fields', 'the node refuses unknown fields');
  assert.equal(P(el('')), 'id');
  assert.equal(P(el('../a')), 'id');
  assert.equal(P(el('x'.repeat(65))), 'id');
  assert.equal(P(el('x'.repeat(64))), null);
  assert.equal(P(el('a', { page: 1 })), 'page');
  assert.equal(P(el('a', { page: 1 }), 2), null);
  assert.equal(P(el('a', { page: -1 }), 2), 'page');
  assert.equal(P(el('a', { tool: 'star' })), 'tool');
  assert.equal(P(el('a', { color: 'red' })), 'color');
  assert.equal(P(el('a', { color: '#12345' })), 'color');
  assert.equal(P(el('a', { color: '#ABCDEF' })), null);
  assert.equal(P(el('a', { width: 0 })), 'width');
  assert.equal(P(el('a', { width: 65 })), 'width');
  assert.equal(P(el('a', { width: Number.NaN })), 'width');
  assert.equal(P(el('a', { points: [] })), 'points');
  assert.equal(P(el('a', { points: Array(2001).fill([0, 0]) })), 'points');
  assert.equal(P(el('a', { points: Array(2000).fill([0, 0]) })), null);
  assert.equal(P(el('a', { tool: 'rect', points: [[0, 0], [1, 1], [2, 2]] })), 'points');
  assert.equal(P(el('a', { tool: 'line', points: [[0, 0]] })), 'points');
  assert.equal(P(text('t', { points: [[0, 0], [1, 1]] })), 'points');
  assert.equal(P(el('a', { points: [[1e9, 0]] })), 'coords');
  assert.equal(P(el('a', { points: [[100000, -100000]] })), null);
  assert.equal(P(el('a', { points: [[Number.POSITIVE_INFINITY, 0]] })), 'coords');
  assert.equal(P(el('a', { points: [[0, 0, 0]] })), 'coords');
  assert.equal(P(text('t', { text: '' })), 'text');
  assert.equal(P(text('t', { text: 'a\u0000b' })), 'text');
  assert.equal(P(text('t', { text: 'a\tb' })), 'text', 'a tab is a control character');
  assert.equal(P(text('t', { text: 'a\u0085b' })), 'text', 'C1 controls too');
  assert.equal(P(text('t', { text: 'é'.repeat(2000) })), null, 'characters, not bytes');
  assert.equal(P(text('t', { text: 'x'.repeat(2001) })), 'text');
  assert.equal(P(text('t', { size: 7 })), 'size');
  assert.equal(P(text('t', { size: 201 })), 'size');
  assert.equal(P(text('t', { size: null })), 'size');
  assert.equal(P(el('a', { text: 'x' })), 'fields', 'only a text has text');
  assert.equal(P(el('a', { size: 12 })), 'fields');
});

test('opProblem: refusals as the node makes them', () => {
  const s = state([board(1, { pages: slides(2) }), board(2)]);
  const P = (op) => B.opProblem(s, op);
  assert.equal(P({ kind: 'put', board: 1, elements: [el('a')] }), null);
  assert.equal(P({ kind: 'put', board: 7, elements: [el('a')] }), 'no_board');
  assert.equal(P({ kind: 'put', board: '1', elements: [el('a')] }), 'no_board', 'a board id is a number');
  assert.equal(P({ kind: 'put', board: 1, elements: [] }), 'count');
  assert.equal(P({ kind: 'put', board: 1, elements: Array.from({ length: 501 }, (_, i) => el(`e${i}`, { points: [[0, 0]] })) }), 'count');
  assert.equal(P({ kind: 'put', board: 1, elements: [el('a', { color: 'blue' })] }), 'color');
  assert.equal(P({ kind: 'put', board: 1, elements: [el('a', { page: 1 })] }), null);
  assert.equal(P({ kind: 'put', board: 2, elements: [el('a', { page: 1 })] }), 'page');
  assert.equal(P({ kind: 'erase', board: 1, ids: [] }), 'count');
  assert.equal(P({ kind: 'erase', board: 1, ids: ['a/b'] }), 'id');
  assert.equal(P({ kind: 'erase', board: 1, ids: ['nothing-here'] }), null, 'unknown ids are fine');
  assert.equal(P({ kind: 'clear', board: 1, page: 2 }), 'page');
  assert.equal(P({ kind: 'clear', board: 1, page: 1 }), null);
  assert.equal(P({ kind: 'page', board: 2, page: 1 }), 'page');
  assert.equal(P({ kind: 'page', board: 1, page: 1.5 }), 'page');
  assert.equal(P({ kind: 'add_board', name: '  ' }), 'name');
  assert.equal(P({ kind: 'add_board', name: 'x'.repeat(101) }), 'name');
  assert.equal(P({ kind: 'add_board', name: ` ${'x'.repeat(100)} ` }), null, 'names are trimmed first');
  assert.equal(P({ kind: 'rename_board', board: 1, name: 'a\nb' }), 'name');
  assert.equal(P({ kind: 'remove_board', board: 2 }), null);
  assert.equal(B.opProblem(state(), { kind: 'remove_board', board: 1 }), 'last_board');
  assert.equal(P({ kind: 'document', board: 1, file: 4 }), null);
  assert.equal(P({ kind: 'document', board: 1, file: '4' }), 'file');
  assert.equal(P({ kind: 'scribble', board: 1 }), 'kind');
  assert.equal(B.validName('  Maths \u2003'), 'Maths');
  assert.equal(B.validName('a\u0007'), null);

  const many = new BoardState({ seq: 0, boards: Array.from({ length: 20 }, (_, i) => board(i + 1)) });
  assert.equal(B.opProblem(many, { kind: 'add_board', name: 'One more' }), 'boards');
});

test('opProblem: a board of 10000 elements, a room of 8 MiB, a frame over the message limit', () => {
  const dot = (i) => ({ id: `e${i}`, page: 0, tool: 'pen', color: '#000000', width: 1, points: [[0, 0]], text: null, size: null });
  const full = state([board(1, { elements: Array.from({ length: 10000 }, (_, i) => dot(i)) })]);
  assert.equal(B.opProblem(full, { kind: 'put', board: 1, elements: [dot('new')] }), 'elements');
  assert.equal(B.opProblem(full, { kind: 'put', board: 1, elements: [dot(5)] }), null, 'a replacement adds nothing');

  const big = (i) => ({ ...dot(i), points: Array(2000).fill([0, 0]) });
  const heavy = state([board(1, { elements: Array.from({ length: 174 }, (_, i) => big(i)) })]);
  assert.ok(heavy.weight() + B.elementWeight(big('x')) > LIMITS.MAX_ROOM_WEIGHT);
  assert.equal(B.opProblem(heavy, { kind: 'put', board: 1, elements: [big('x')] }), 'full');

  const wide = Array(2000).fill([-99999.99, -99999.99]);
  assert.equal(B.opProblem(state(), { kind: 'put', board: 1, elements: [{ ...dot(1), points: wide }, { ...dot(2), points: wide }] }), 'too_large');
});

test('putOps and eraseOps split what one frame cannot carry', () => {
  const wide = (i) => el(`e${i}`, { points: Array(2000).fill([-99999.99, -99999.99]) });
  const ops = B.putOps(1, [wide(1), wide(2), wide(3)]);
  assert.equal(ops.length, 3);
  for (const op of ops) assert.ok(B.frameBytes(op) <= LIMITS.FRAME_BYTES);
  const dots = Array.from({ length: 1200 }, (_, i) => el(`d${i}`, { points: [[0, 0]] }));
  const split = B.putOps(1, dots);
  assert.equal(split.length, 3);
  assert.deepEqual(split.map((o) => o.elements.length), [500, 500, 200]);
  assert.deepEqual(split.flatMap((o) => o.elements.map((e) => e.id)), dots.map((e) => e.id));
  assert.deepEqual(B.eraseOps(2, Array.from({ length: 501 }, (_, i) => `x${i}`)).map((o) => [o.board, o.ids.length]), [[2, 500], [2, 1]]);
});

test('cleanText keeps line breaks and drops what a text may not hold', () => {
  assert.equal(B.cleanText('a\r\nb\rc\td\u0000e\u009f'), 'a\nb\nc    de');
  assert.equal([...B.cleanText('é'.repeat(3000))].length, 2000);
  assert.equal(B.elementProblem(text('t', { text: B.cleanText('x\ty\r\nz') })), null);
});

test('element ids: participant id and a counter, only A-Z a-z 0-9 _ -, at most 64 characters, unique', () => {
  const next = B.makeIdGenerator('c5f1a0b2c3d4e5f6a7b8c9d0');
  assert.equal(next(), 'c5f1a0b2c3d4e5f6a7b8c9d0-1');
  assert.equal(next(), 'c5f1a0b2c3d4e5f6a7b8c9d0-2');
  const taken = new Set(['c5f1a0b2c3d4e5f6a7b8c9d0-3']);
  assert.equal(next((id) => taken.has(id)), 'c5f1a0b2c3d4e5f6a7b8c9d0-4');
  const odd = B.makeIdGenerator(`weird/id:${'z'.repeat(80)}`, Number.MAX_SAFE_INTEGER - 1);
  const id = odd();
  assert.match(id, /^[A-Za-z0-9_-]{1,64}$/);
  assert.ok(B.validId(id));
  assert.ok(B.validId(B.makeIdGenerator(null)()));
  const many = new Set();
  const gen = B.makeIdGenerator('p');
  for (let i = 0; i < 5000; i += 1) many.add(gen());
  assert.equal(many.size, 5000);
});

// --- undo and redo -----------------------------------------------------------------------------

/** The server's side of the exchange: stores an operation (applies it after the history saw it). */
function echo(s, h, op) {
  h.acknowledge(s, op);
  s.apply(s.seq + 1, op);
}
/** Sends an action, acknowledges it at once (no fence). */
function act(s, h, ops, kind = 'do', opts = {}) {
  h.sent(ops, kind, opts);
  for (const op of ops) echo(s, h, op);
}
function undo(s, h) {
  const u = h.undo(s);
  if (u) act(s, h, u.ops, 'undo', { source: u.source });
  return u;
}
function redo(s, h) {
  const r = h.redo(s);
  if (r) act(s, h, r.ops, 'redo', { source: r.source });
  return r;
}

test('undo of a put of new elements erases them; redo puts them back as they were', () => {
  const s = state();
  const h = new History();
  act(s, h, [{ kind: 'put', board: 1, elements: [el('a'), el('b')] }]);
  assert.ok(h.canUndo && !h.canRedo);
  const u = h.undo(s);
  assert.deepEqual(u.ops, [{ kind: 'erase', board: 1, ids: ['a', 'b'] }]);
  act(s, h, u.ops, 'undo', { source: u.source });
  assert.deepEqual(ids(s), []);
  assert.ok(!h.canUndo && h.canRedo);
  const r = h.redo(s);
  assert.equal(r.ops.length, 1);
  assert.equal(r.ops[0].kind, 'put');
  assert.deepEqual(r.ops[0].elements, [el('a'), el('b')], 'redo sends the same elements again');
  act(s, h, r.ops, 'redo', { source: r.source });
  assert.deepEqual(ids(s), ['a', 'b']);
  assert.ok(h.canUndo && !h.canRedo);
});

test('undo of a move puts the previous version back; redo moves it again', () => {
  const s = state([board(1, { elements: [el('a'), el('b')] })]);
  const h = new History();
  const moved = B.translate(el('a'), 100, 0);
  act(s, h, [{ kind: 'put', board: 1, elements: [moved] }]);
  assert.deepEqual(s.element(1, 'a').points, [[110, 10], [112, 14]]);
  undo(s, h);
  assert.deepEqual(s.element(1, 'a'), el('a'));
  assert.deepEqual(ids(s), ['a', 'b'], 'the drawing order stays');
  redo(s, h);
  assert.deepEqual(s.element(1, 'a').points, [[110, 10], [112, 14]]);
});

test('undo of an erase and of a clear puts the removed elements back; redo removes them again', () => {
  const s = state([board(1, { pages: slides(2), elements: [el('a'), el('b'), el('c', { page: 1 })] })]);
  const h = new History();
  act(s, h, [{ kind: 'erase', board: 1, ids: ['a', 'missing'] }]);
  act(s, h, [{ kind: 'clear', board: 1, page: 0 }]);
  assert.deepEqual(ids(s), ['c']);
  const u = h.undo(s);
  assert.deepEqual(u.ops, [{ kind: 'put', board: 1, elements: [el('b')] }], 'the clear took b only (a was gone)');
  act(s, h, u.ops, 'undo', { source: u.source });
  undo(s, h);
  assert.deepEqual(ids(s).sort(), ['a', 'b', 'c']);
  redo(s, h);
  assert.deepEqual(ids(s).sort(), ['b', 'c'], 'redo of the erase');
  const r = h.redo(s);
  assert.deepEqual(r.ops, [{ kind: 'erase', board: 1, ids: ['b'] }], 'redo of a clear removes what it removed, not what others drew since');
});

test('undo works with what others did meanwhile', () => {
  const s = state();
  const h = new History();
  act(s, h, [{ kind: 'put', board: 1, elements: [el('a'), el('b')] }]);
  s.apply(s.seq + 1, { kind: 'erase', board: 1, ids: ['a'] }); // someone else
  s.apply(s.seq + 1, { kind: 'put', board: 1, elements: [el('x')] });
  assert.deepEqual(h.undo(s).ops, [{ kind: 'erase', board: 1, ids: ['b'] }]);

  const s2 = state([board(1, { elements: [el('a')] })]);
  const h2 = new History();
  act(s2, h2, [{ kind: 'put', board: 1, elements: [B.translate(el('a'), 5, 5)] }]);
  s2.apply(s2.seq + 1, { kind: 'erase', board: 1, ids: ['a'] });
  assert.equal(h2.undo(s2), null, 'an element erased by someone else is not brought back by undoing a move');

  const s3 = state([board(1), board(2)]);
  const h3 = new History();
  act(s3, h3, [{ kind: 'put', board: 1, elements: [el('a')] }]);
  act(s3, h3, [{ kind: 'put', board: 2, elements: [el('b')] }]);
  s3.apply(s3.seq + 1, { kind: 'remove_board', board: 2 });
  assert.deepEqual(h3.undo(s3).ops, [{ kind: 'erase', board: 1, ids: ['a'] }], 'a removed board is skipped');
});

test('a new change clears redo; boards and pages are not undone', () => {
  const s = state();
  const h = new History();
  act(s, h, [{ kind: 'put', board: 1, elements: [el('a')] }]);
  undo(s, h);
  assert.ok(h.canRedo);
  act(s, h, [{ kind: 'put', board: 1, elements: [el('b')] }]);
  assert.ok(!h.canRedo);
  act(s, h, [{ kind: 'add_board', name: 'Two' }], 'plain');
  act(s, h, [{ kind: 'page', board: 1, page: 0 }], 'plain');
  assert.equal(h.undoStack.length, 1);
  assert.equal(h.pending.length, 0);
});

test('a gesture sent in parts is undone at once', () => {
  const s = state();
  const h = new History();
  act(s, h, [{ kind: 'put', board: 1, elements: [el('p1')] }], 'do', { group: 7 });
  act(s, h, [{ kind: 'put', board: 1, elements: [el('p2')] }], 'do', { group: 7 });
  act(s, h, [{ kind: 'put', board: 1, elements: [el('q')] }], 'do', { group: 8 });
  undo(s, h);
  assert.deepEqual(ids(s), ['p1', 'p2']);
  const u = h.undo(s);
  assert.deepEqual(u.ops, [{ kind: 'erase', board: 1, ids: ['p1', 'p2'] }]);
});

test('an action of several operations is one undo step, acknowledged once all are echoed', () => {
  const s = state();
  const h = new History();
  const dots = Array.from({ length: 700 }, (_, i) => el(`d${i}`, { points: [[i, 0]] }));
  const ops = B.putOps(1, dots);
  assert.equal(ops.length, 2);
  h.sent(ops, 'do', { fence: 'wb1' });
  echo(s, h, ops[0]);
  assert.ok(!h.canUndo, 'half of it is not a step yet');
  assert.equal(h.pendingOps(1).length, 1);
  echo(s, h, ops[1]);
  assert.ok(h.canUndo);
  const u = h.undo(s);
  assert.deepEqual(u.ops.map((o) => [o.kind, o.ids.length]), [['erase', 500], ['erase', 200]]);
});

test('pending: what is in flight is listed until echoed; echoes are matched by content, in any order', () => {
  const s = state();
  const h = new History();
  const a = { kind: 'put', board: 1, elements: [el('a')] };
  const b = { kind: 'erase', board: 1, ids: ['zz'] };
  h.sent([a], 'do', { fence: 'f1' });
  h.sent([b], 'do', { fence: 'f2' });
  assert.deepEqual(h.pendingOps(1), [a, b]);
  assert.deepEqual(h.pendingOps(2), []);
  // The node normalises a colour; the echo still matches.
  echo(s, h, { kind: 'erase', board: 1, ids: ['zz'] });
  assert.deepEqual(h.pendingOps(1), [a]);
  echo(s, h, { ...a, elements: [{ ...el('a'), color: '#1E88E5'.toLowerCase() }] });
  assert.deepEqual(h.pendingOps(1), []);
  assert.equal(h.acknowledge(s, a), null, 'an echo that matches nothing is no one’s');
});

test('refusals: an error before the fence refuses the first entry not past it; after, the oldest waiting', () => {
  const s = state();
  const h = new History();
  const a = { kind: 'put', board: 1, elements: [el('a')] };
  const b = { kind: 'put', board: 1, elements: [el('b')] };
  const ea = h.sent([a], 'do', { fence: 'f1' });
  const eb = h.sent([b], 'do', { fence: 'f2' });
  // a passed the checks (its pong came), b did not: the error is b's.
  h.fenced('f1');
  assert.equal(h.refused('bad_request'), eb);
  assert.deepEqual(h.pendingOps(1), [a]);
  // The database did not take a: unavailable after its fence.
  assert.equal(h.refused('unavailable'), ea);
  assert.deepEqual(h.pendingOps(1), []);
  assert.equal(h.pending.length, 0);
  assert.equal(h.refused('forbidden'), null, 'nothing in flight: not about the board');
  assert.ok(!h.canUndo);

  // A chat refusal (rate_limited, forbidden) after every fence is not ours.
  h.sent([a], 'do', { fence: 'f3' });
  h.fenced('f3');
  assert.equal(h.refused('rate_limited'), null);
  assert.equal(h.pending.length, 1);
});

test('refusals: an entry of several operations is refused once, its other errors are its own', () => {
  const h = new History();
  const ops = [{ kind: 'erase', board: 1, ids: ['a'] }, { kind: 'erase', board: 1, ids: ['b'] }];
  const e1 = h.sent(ops, 'do', { fence: 'f1' });
  const e2 = h.sent([{ kind: 'clear', board: 1, page: 0 }], 'do', { fence: 'f2' });
  assert.equal(h.refused('forbidden'), e1);
  assert.equal(h.refused('forbidden'), null, 'the second operation of the same entry');
  assert.equal(h.refused('forbidden'), e2);
  h.fenced('f2');
  assert.equal(h.pending.length, 0);
});

test('a refused undo goes back on the stack; reset forgets what was in flight', () => {
  const s = state();
  const h = new History();
  act(s, h, [{ kind: 'put', board: 1, elements: [el('a')] }]);
  const u = h.undo(s);
  assert.ok(!h.canUndo);
  h.sent(u.ops, 'undo', { fence: 'f9', source: u.source });
  h.refused('unavailable');
  assert.ok(h.canUndo, 'the step can be undone again');
  assert.deepEqual(h.undo(s).ops, u.ops);
  h.sent([{ kind: 'put', board: 1, elements: [el('b')] }]);
  h.reset();
  assert.equal(h.pending.length, 0);
});

// --- geometry ----------------------------------------------------------------------------------

test('bbox: strokes with their width, shapes, texts', () => {
  assert.deepEqual(B.bbox(el('a', { points: [[10, 20], [30, 5]], width: 4 })), { x0: 8, y0: 3, x1: 32, y1: 22 });
  assert.deepEqual(B.bbox(el('r', { tool: 'rect', points: [[50, 50], [0, 0]], width: 2 })), { x0: -1, y0: -1, x1: 51, y1: 51 });
  const t = text('t', { points: [[100, 100]], text: 'ab\nabcd', size: 10 });
  assert.deepEqual(B.bbox(t, (line, size) => line.length * size), { x0: 100, y0: 100, x1: 140, y1: 125 });
  assert.deepEqual(B.unionBox([el('a', { points: [[0, 0]], width: 2 }), el('b', { points: [[10, 10]], width: 2 })]), { x0: -1, y0: -1, x1: 11, y1: 11 });
  assert.equal(B.unionBox([]), null);
});

test('hitTest: distance to a stroke, to a shape outline, inside a text box', () => {
  const stroke = el('s', { points: [[0, 0], [100, 0], [100, 100]], width: 4 });
  assert.ok(B.hitTest(stroke, 50, 3, 2), 'near the first segment');
  assert.ok(B.hitTest(stroke, 103, 50, 2), 'near the second');
  assert.ok(!B.hitTest(stroke, 50, 50, 2), 'the inside of the bend is empty');
  assert.ok(B.hitTest(el('d', { points: [[5, 5]], width: 10 }), 9, 5, 0), 'a dot has its width');

  const rect = el('r', { tool: 'rect', points: [[0, 0], [100, 50]], width: 2 });
  assert.ok(B.hitTest(rect, 100, 25, 2), 'on the right edge');
  assert.ok(!B.hitTest(rect, 50, 25, 2), 'not in the middle of the rectangle');

  const ellipse = el('e', { tool: 'ellipse', points: [[0, 0], [200, 100]], width: 2 });
  assert.ok(B.hitTest(ellipse, 200, 50, 2), 'the right end');
  assert.ok(B.hitTest(ellipse, 100, 0, 2), 'the top');
  assert.ok(!B.hitTest(ellipse, 100, 50, 2), 'not the centre');
  assert.ok(!B.hitTest(ellipse, 5, 5, 2), 'not the corner of its box');

  const arrow = el('a', { tool: 'arrow', points: [[0, 0], [100, 0]], width: 2 });
  assert.ok(B.hitTest(arrow, 50, 1, 1));
  assert.ok(B.hitTest(arrow, 92, 4, 1), 'on the head');

  const t = text('t', { points: [[10, 10]], text: 'hello', size: 20 });
  const measure = (line, size) => line.length * size * 0.5;
  assert.ok(B.hitTest(t, 30, 20, 0, measure));
  assert.ok(!B.hitTest(t, 80, 20, 0, measure));
  assert.ok(B.hitTest(t, 62, 20, 2, measure), 'within the tolerance');
});

test('topHit and elementsInBox pick by page and drawing order', () => {
  const els = [el('low', { points: [[0, 0], [100, 0]] }), el('high', { points: [[0, 0], [100, 0]] }), el('other', { page: 1, points: [[0, 0], [100, 0]] })];
  assert.equal(B.topHit(els, 0, 50, 0, 2).id, 'high');
  assert.equal(B.topHit(els, 1, 50, 0, 2).id, 'other');
  assert.equal(B.topHit(els, 0, 50, 40, 2), null);
  const box = B.elementsInBox([el('in', { points: [[10, 10], [20, 20]] }), el('out', { points: [[10, 10], [500, 20]] })], 0, { x0: 100, y0: 100, x1: 0, y1: 0 });
  assert.deepEqual(box.map((e) => e.id), ['in']);
});

test('translate and scale keep the id and the coordinates in range', () => {
  const a = el('a', { points: [[0, 0], [10, 20]] });
  const moved = B.translate(a, 5.004, -3);
  assert.equal(moved.id, 'a');
  assert.deepEqual(moved.points, [[5, -3], [15, 17]]);
  assert.deepEqual(a.points, [[0, 0], [10, 20]], 'the original is untouched');
  assert.deepEqual(B.translate(a, 99999.5, 0).points[1], [100000, 20]);
  assert.equal(B.elementProblem(B.translate(a, 1e6, 1e6)), null);

  assert.deepEqual(B.scale(a, 0, 0, 2, 3).points, [[0, 0], [20, 60]]);
  const t = text('t', { points: [[10, 10]], size: 20 });
  const big = B.scale(t, 0, 0, 2, 2);
  assert.deepEqual(big.points, [[20, 20]]);
  assert.equal(big.size, 40);
  assert.equal(B.scale(t, 0, 0, 50, 50).size, 200, 'a text size stays within 8–200');
  assert.equal(B.scale(t, 0, 0, 0.01, 0.01).size, 8);
  assert.equal(B.scale(a, 0, 0, 2, 2).width, a.width, 'the line width stays');

  const box = { x0: 0, y0: 0, x1: 100, y1: 50 };
  assert.deepEqual(B.resizeTransform(box, 'se', 200, 100), { ox: 0, oy: 0, sx: 2, sy: 2 });
  assert.deepEqual(B.resizeTransform(box, 'nw', 50, 25), { ox: 100, oy: 50, sx: 0.5, sy: 0.5 });
  const flat = B.resizeTransform(box, 'se', -50, -50);
  assert.ok(flat.sx > 0 && flat.sy > 0, 'never flipped');
});

test('simplify and splitPoints: fewer points, long strokes in parts without gaps', () => {
  const line = Array.from({ length: 101 }, (_, i) => [i, 0]);
  assert.deepEqual(B.simplify(line, 0.5), [[0, 0], [100, 0]]);
  const corner = [...Array.from({ length: 11 }, (_, i) => [i * 10, 0]), ...Array.from({ length: 10 }, (_, i) => [100, (i + 1) * 10])];
  assert.deepEqual(B.simplify(corner, 0.5), [[0, 0], [100, 0], [100, 100]]);
  const long = Array.from({ length: 4500 }, (_, i) => [i, i]);
  const parts = B.splitPoints(long, 2000);
  assert.ok(parts.every((p) => p.length <= 2000));
  for (let i = 1; i < parts.length; i += 1) assert.deepEqual(parts[i][0], parts[i - 1][parts[i - 1].length - 1]);
  assert.deepEqual(parts[parts.length - 1].at(-1), [4499, 4499]);
  assert.equal(B.splitPoints(line, 2000).length, 1);
});

test('files: "Show on whiteboard" is offered for ready documents and images only', () => {
  const f = (name, extra = {}) => ({ name, status: 'ready', content_type: 'application/octet-stream', ...extra });
  assert.ok(F.hasPages(f('deck.pdf')));
  assert.ok(F.hasPages(f('Slides.PPTX')));
  assert.ok(F.hasPages(f('photo', { content_type: 'image/jpeg' })));
  assert.ok(!F.hasPages(f('notes.txt')));
  assert.ok(!F.hasPages(f('deck.pdf', { status: 'converting' })));
  assert.ok(!F.hasPages(f('deck.pdf', { status: 'failed' })));
  assert.ok(!F.hasPages(f('deck.pdf', { pages: 0 })), 'a page count, when the listing has one, decides');
  assert.ok(F.hasPages(f('data.bin', { pages: 3 })));
});
