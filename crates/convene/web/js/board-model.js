// The whiteboard as data (docs/protocol.md, "Whiteboard"): the boards of a room, operations applied exactly as the
// node applies them (crates/convene/src/boards/model.rs), the checks the node makes before storing one
// (boards/validate.rs: the UI never sends what would be refused), the local user's undo and redo, and the geometry
// the tools need (boxes, hit tests, move and resize). No DOM and no browser API: the Node tests load it as it is.

export const LIMITS = Object.freeze({
  MAX_BOARDS: 20,
  MAX_ELEMENTS: 10000,
  MAX_ROOM_WEIGHT: 8 << 20,
  MAX_PER_OP: 500,
  MAX_POINTS: 2000,
  MAX_TEXT_CHARS: 2000,
  MAX_NAME_CHARS: 100,
  MAX_ID_BYTES: 64,
  COORD_LIMIT: 100000,
  MIN_WIDTH: 1,
  MAX_WIDTH: 64,
  MIN_SIZE: 8,
  MAX_SIZE: 200,
  // max_ws_message_bytes (65536) minus a margin: a bigger frame closes the connection with 1009.
  FRAME_BYTES: 60000,
});

export const TOOLS = Object.freeze(['pen', 'highlighter', 'line', 'arrow', 'rect', 'ellipse', 'text']);
const TWO_POINTS = new Set(['line', 'arrow', 'rect', 'ellipse']);
const ELEMENT_FIELDS = new Set(['id', 'page', 'tool', 'color', 'width', 'points', 'text', 'size']);
/** Text lines are this many times their size apart (the renderer uses the same). */
export const LINE_HEIGHT = 1.25;
export const HIGHLIGHTER_ALPHA = 0.4;

// --- small helpers ----------------------------------------------------------------------------

/** UTF-8 length of a string (what the server's byte limits count). */
export function utf8Length(s) {
  let n = 0;
  for (const ch of String(s)) {
    const c = ch.codePointAt(0);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

const chars = (s) => [...String(s)].length; // Rust counts chars (code points), not UTF-16 units
const isControl = (c) => c <= 0x1f || (c >= 0x7f && c <= 0x9f); // Rust's char::is_control (Cc)
const hasControl = (s, allowNewline = false) => [...s].some((ch) => {
  const c = ch.codePointAt(0);
  return isControl(c) && !(allowNewline && c === 10);
});
const finite = (v) => typeof v === 'number' && Number.isFinite(v);
const inRange = (v) => finite(v) && Math.abs(v) <= LIMITS.COORD_LIMIT;
const clampCoord = (v) => Math.max(-LIMITS.COORD_LIMIT, Math.min(LIMITS.COORD_LIMIT, v));
/** Two decimals are plenty in board units and keep frames small. */
export const roundCoord = (v) => clampCoord(Math.round(v * 100) / 100);

export function cloneElement(e) {
  return {
    id: e.id,
    page: e.page ?? 0,
    tool: e.tool,
    color: e.color,
    width: e.width,
    points: (e.points || []).map((p) => [p[0], p[1]]),
    text: e.text ?? null,
    size: e.size ?? null,
  };
}

function normalizeBoard(b) {
  return {
    id: Number(b.id),
    name: String(b.name ?? ''),
    page: Number(b.page) || 0,
    pages: Array.isArray(b.pages) ? b.pages.map((p) => ({ ...p })) : [],
    document: b.document ? { ...b.document } : null,
    elements: Array.isArray(b.elements) ? b.elements.map(cloneElement) : [],
  };
}

/** A plain board has one page. */
export const pageCount = (board) => Math.max(1, board?.pages?.length || 0);

/** What an element weighs for the room's 8 MiB budget (Element::weight). */
export const elementWeight = (e) => 96 + utf8Length(e.id) + (e.points?.length || 0) * 24 + (e.text != null ? utf8Length(e.text) : 0);
export const boardWeight = (b) => b.elements.reduce((n, e) => n + elementWeight(e), 0) + 128 + b.pages.length * 64;

/**
 * Applies an operation to a list of elements in place (put, erase, clear); other kinds leave it alone. Shared by the
 * state and by the view's list with its own operations not yet acknowledged.
 */
export function applyToElements(elements, op) {
  switch (op.kind) {
    case 'put': {
      const at = new Map(elements.map((e, i) => [e.id, i]));
      for (const e of op.elements || []) {
        const i = at.get(e.id);
        if (i === undefined) {
          at.set(e.id, elements.length);
          elements.push(cloneElement(e));
        } else {
          elements[i] = cloneElement(e); // replaced where it was: its place in the drawing order stays
        }
      }
      return elements;
    }
    case 'erase': {
      const gone = new Set(op.ids || []);
      return spliceOut(elements, (e) => gone.has(e.id));
    }
    case 'clear':
      return spliceOut(elements, (e) => (e.page ?? 0) === op.page);
    default:
      return elements;
  }
}

function spliceOut(list, drop) {
  let w = 0;
  for (const e of list) if (!drop(e)) list[w++] = e;
  list.length = w;
  return list;
}

// --- the boards -----------------------------------------------------------------------------

/** All boards of a room and the seq of the last operation applied (Boards in model.rs). */
export class BoardState {
  constructor(frame = null) {
    this.seq = 0;
    this.boards = [];
    this.nextBoard = 2;
    this.loaded = false;
    if (frame) this.load(frame);
  }

  /** The state of a `boards` frame ({seq, boards}). */
  load(frame) {
    this.seq = Number(frame?.seq) || 0;
    this.boards = (frame?.boards || []).map(normalizeBoard);
    this.nextBoard = this.nextBoardId();
    this.loaded = true;
    return this;
  }

  board(id) {
    const n = Number(id);
    return this.boards.find((b) => b.id === n) ?? null;
  }

  element(boardId, id) {
    return this.board(boardId)?.elements.find((e) => e.id === id) ?? null;
  }

  nextBoardId() {
    const past = this.boards.reduce((m, b) => Math.max(m, b.id), 0) + 1;
    return Math.max(this.nextBoard, past);
  }

  weight() {
    return this.boards.reduce((n, b) => n + boardWeight(b), 0);
  }

  /**
   * Applies a stored operation as the node does: lenient, what refers to something gone is skipped. An operation
   * whose seq is not past the state's is already in it (a `boards` frame that came after it) and is skipped.
   * Returns whether it was applied.
   */
  apply(seq, op) {
    const s = Number(seq);
    if (this.loaded && Number.isFinite(s) && s <= this.seq) return false;
    if (Number.isFinite(s)) this.seq = Math.max(this.seq, s);
    if (!op || typeof op.kind !== 'string') return true;
    const b = op.kind === 'add_board' ? null : this.board(op.board);
    switch (op.kind) {
      case 'add_board': {
        const id = op.board != null ? Number(op.board) : this.nextBoardId();
        if (!this.board(id)) this.boards.push(normalizeBoard({ id, name: op.name }));
        this.nextBoard = Math.max(this.nextBoard, id + 1);
        break;
      }
      case 'rename_board':
        if (b) b.name = String(op.name ?? '');
        break;
      case 'remove_board':
        if (this.boards.length > 1) this.boards = this.boards.filter((x) => x.id !== Number(op.board));
        break;
      case 'put': case 'erase': case 'clear':
        if (b) applyToElements(b.elements, op);
        break;
      case 'page':
        if (b && Number.isInteger(op.page) && op.page >= 0 && op.page < pageCount(b)) b.page = op.page;
        break;
      case 'document':
        if (b) {
          b.document = { file: op.file, name: op.name ?? '' };
          b.pages = Array.isArray(op.pages) ? op.pages.map((p) => ({ ...p })) : [];
          b.page = 0;
        }
        break;
      default:
        break;
    }
    return true;
  }
}

// --- validation (what boards/validate.rs refuses) ---------------------------------------------

const WS_EDGES = /^\p{White_Space}+|\p{White_Space}+$/gu; // Rust's str::trim

/** A board name as the node keeps it (trimmed), or null when it would be refused. */
export function validName(name) {
  const n = String(name ?? '').replace(WS_EDGES, '');
  if (!n || chars(n) > LIMITS.MAX_NAME_CHARS || hasControl(n)) return null;
  return n;
}

export const validId = (id) => typeof id === 'string' && id.length >= 1 && id.length <= LIMITS.MAX_ID_BYTES && /^[A-Za-z0-9_-]+$/.test(id);
export const validColor = (c) => typeof c === 'string' && /^#[0-9a-fA-F]{6}$/.test(c);

/** Text as a text element may hold it: CR LF and CR become LF, tabs spaces, other control characters go. */
export function cleanText(text) {
  const s = String(text ?? '').replace(/\r\n?/g, '\n').replace(/\t/g, '    ');
  const kept = [...s].filter((ch) => {
    const c = ch.codePointAt(0);
    return c === 10 || !isControl(c);
  });
  return kept.slice(0, LIMITS.MAX_TEXT_CHARS).join('');
}

/**
 * Why the node would refuse this element on a board of `pages` pages, or null: 'fields', 'id', 'page', 'tool',
 * 'color', 'width', 'points', 'coords', 'text', 'size'.
 */
export function elementProblem(e, pages = 1) {
  if (!e || typeof e !== 'object') return 'fields';
  if (Object.keys(e).some((k) => !ELEMENT_FIELDS.has(k))) return 'fields';
  if (!validId(e.id)) return 'id';
  const page = e.page ?? 0;
  if (!Number.isInteger(page) || page < 0 || page >= pages) return 'page';
  if (!TOOLS.includes(e.tool)) return 'tool';
  if (!validColor(e.color)) return 'color';
  if (!finite(e.width) || e.width < LIMITS.MIN_WIDTH || e.width > LIMITS.MAX_WIDTH) return 'width';
  const pts = e.points;
  if (!Array.isArray(pts)) return 'points';
  const n = pts.length;
  const fits = e.tool === 'text' ? n === 1 : TWO_POINTS.has(e.tool) ? n === 2 : n >= 1 && n <= LIMITS.MAX_POINTS;
  if (!fits) return 'points';
  if (!pts.every((p) => Array.isArray(p) && p.length === 2 && inRange(p[0]) && inRange(p[1]))) return 'coords';
  if (e.tool === 'text') {
    const text = typeof e.text === 'string' ? e.text : '';
    const len = chars(text);
    if (len === 0 || len > LIMITS.MAX_TEXT_CHARS || hasControl(text, true)) return 'text';
    if (!finite(e.size) || e.size < LIMITS.MIN_SIZE || e.size > LIMITS.MAX_SIZE) return 'size';
  } else if (e.text != null || e.size != null) {
    return 'fields';
  }
  return null;
}

/** Bytes of the frame that carries `op`. */
export const frameBytes = (op) => utf8Length(JSON.stringify({ type: 'board', op }));

/**
 * Why the node would refuse `op` against `state`, or null. Reasons: those of elementProblem, and 'kind', 'no_board',
 * 'boards' (20 already), 'name', 'last_board', 'count' (1–500 per operation), 'elements' (10000 on a board),
 * 'full' (8 MiB in the room), 'page', 'file', 'too_large' (the frame would pass the server's message limit).
 */
const KINDS = new Set(['add_board', 'rename_board', 'remove_board', 'put', 'erase', 'clear', 'page', 'document']);

export function opProblem(state, op) {
  if (!op || !KINDS.has(op.kind)) return 'kind';
  const board = op.kind === 'add_board' ? null : state.board(op.board);
  if (op.kind !== 'add_board' && (!Number.isInteger(op.board) || !board)) return 'no_board';
  let why = null;
  switch (op.kind) {
    case 'add_board':
      if (state.boards.length >= LIMITS.MAX_BOARDS) why = 'boards';
      else if (!validName(op.name)) why = 'name';
      break;
    case 'rename_board':
      if (!validName(op.name)) why = 'name';
      break;
    case 'remove_board':
      if (state.boards.length <= 1) why = 'last_board';
      break;
    case 'put': {
      const els = op.elements;
      if (!Array.isArray(els) || els.length < 1 || els.length > LIMITS.MAX_PER_OP) return 'count';
      const pages = pageCount(board);
      const have = new Set(board.elements.map((e) => e.id));
      let added = 0;
      let weight = 0;
      for (const e of els) {
        const p = elementProblem(e, pages);
        if (p) return p;
        weight += elementWeight(e);
        if (!have.has(e.id)) added += 1;
      }
      if (board.elements.length + added > LIMITS.MAX_ELEMENTS) why = 'elements';
      else if (state.weight() + weight > LIMITS.MAX_ROOM_WEIGHT) why = 'full';
      break;
    }
    case 'erase':
      if (!Array.isArray(op.ids) || op.ids.length < 1 || op.ids.length > LIMITS.MAX_PER_OP) why = 'count';
      else if (!op.ids.every(validId)) why = 'id';
      break;
    case 'clear': case 'page':
      if (!Number.isInteger(op.page) || op.page < 0 || op.page >= pageCount(board)) why = 'page';
      break;
    case 'document':
      if (!Number.isInteger(op.file)) why = 'file';
      break;
    default:
      return 'kind';
  }
  if (!why && frameBytes(op) > LIMITS.FRAME_BYTES) why = 'too_large';
  return why;
}

/** `put` operations for any number of elements: at most 500 each, each frame under the message limit. */
export function putOps(board, elements) {
  const ops = [];
  let batch = [];
  let bytes = 0;
  const overhead = frameBytes({ kind: 'put', board, elements: [] });
  for (const e of elements) {
    const size = utf8Length(JSON.stringify(e)) + 1;
    if (batch.length && (batch.length >= LIMITS.MAX_PER_OP || overhead + bytes + size > LIMITS.FRAME_BYTES)) {
      ops.push({ kind: 'put', board, elements: batch });
      batch = [];
      bytes = 0;
    }
    batch.push(e);
    bytes += size;
  }
  if (batch.length) ops.push({ kind: 'put', board, elements: batch });
  return ops;
}

/** `erase` operations for any number of ids, 500 each. */
export function eraseOps(board, ids) {
  const ops = [];
  for (let i = 0; i < ids.length; i += LIMITS.MAX_PER_OP) ops.push({ kind: 'erase', board, ids: ids.slice(i, i + LIMITS.MAX_PER_OP) });
  return ops;
}

// --- element ids --------------------------------------------------------------------------------

/**
 * Ids for the local user's elements: `<participant id>-<counter in base 36>`, only A-Z a-z 0-9 _ -, at most 64
 * characters. next(taken) skips ids for which taken(id) is true.
 */
export function makeIdGenerator(participantId, start = 1) {
  const prefix = (String(participantId ?? '').replace(/[^A-Za-z0-9_-]/g, '') || 'u').slice(0, 40);
  let n = Math.max(1, Math.floor(start));
  return (taken = null) => {
    let id;
    do {
      id = `${prefix}-${(n++).toString(36)}`;
    } while (taken && taken(id));
    return id;
  };
}

// --- undo and redo --------------------------------------------------------------------------

/** The same operation as sent and as echoed (the node fills in ids and names, lower-cases colours). */
export function sameOp(a, b) {
  if (!a || !b || a.kind !== b.kind) return false;
  if (a.kind !== 'add_board' && Number(a.board) !== Number(b.board)) return false;
  const ids = (x) => (x.elements || []).map((e) => e.id).join('\n');
  switch (a.kind) {
    case 'put': return ids(a) === ids(b);
    case 'erase': return (a.ids || []).join('\n') === (b.ids || []).join('\n');
    case 'clear': case 'page': return a.page === b.page;
    case 'add_board': case 'rename_board': return validName(a.name) === validName(b.name);
    case 'document': return Number(a.file) === Number(b.file);
    default: return true;
  }
}

/**
 * What undoes `op` on `state` as it is before op is applied: per board, the ids it added (to erase), the previous
 * versions of the elements it replaced, and the elements it removed (to put back). Null for what is not undone
 * (boards, pages, documents).
 */
export function inverseOf(state, op) {
  const board = state.board(op?.board);
  if (!board || !['put', 'erase', 'clear'].includes(op.kind)) return null;
  const inv = { board: board.id, added: [], previous: [], restore: [] };
  const byId = new Map(board.elements.map((e) => [e.id, e]));
  if (op.kind === 'put') {
    for (const e of op.elements || []) {
      const old = byId.get(e.id);
      if (old) inv.previous.push(cloneElement(old));
      else inv.added.push(e.id);
    }
  } else if (op.kind === 'erase') {
    for (const id of op.ids || []) if (byId.has(id)) inv.restore.push(cloneElement(byId.get(id)));
  } else {
    for (const e of board.elements) if ((e.page ?? 0) === op.page) inv.restore.push(cloneElement(e));
  }
  return inv;
}

function mergeInverse(into, inv) {
  const known = new Set([...into.added, ...into.previous.map((e) => e.id), ...into.restore.map((e) => e.id)]);
  for (const id of inv.added) if (!known.has(id)) into.added.push(id);
  for (const e of inv.previous) if (!known.has(e.id)) into.previous.push(e);
  for (const e of inv.restore) if (!known.has(e.id)) into.restore.push(e);
}

/** Inverses of the same board merged, the first one seen of each element kept. */
export function combineInverses(inverses) {
  const out = [];
  for (const inv of inverses) {
    const same = out.find((x) => x.board === inv.board);
    if (same) mergeInverse(same, inv);
    else out.push({ board: inv.board, added: [...inv.added], previous: [...inv.previous], restore: [...inv.restore] });
  }
  return out;
}

/**
 * The operations that undo an inverse against the state as it is now: erase what was added, put back previous
 * versions of elements that still exist (one erased by someone else meanwhile stays erased) and what was removed
 * (on a page the board still has).
 */
export function inverseOps(state, inverses) {
  const ops = [];
  for (const inv of inverses) {
    const board = state.board(inv.board);
    if (!board) continue;
    const present = new Set(board.elements.map((e) => e.id));
    const pages = pageCount(board);
    const erase = inv.added.filter((id) => present.has(id));
    const put = [...inv.previous.filter((e) => present.has(e.id)), ...inv.restore].filter((e) => (e.page ?? 0) < pages);
    if (erase.length) ops.push(...eraseOps(board.id, erase));
    if (put.length) ops.push(...putOps(board.id, put));
  }
  return ops;
}

/**
 * The local user's operations: those sent and not yet acknowledged (shown as pending, dropped when refused) and the
 * undo and redo stacks of acknowledged ones. Each action is an entry of one or more operations; after its
 * operations the view sends a `ping` whose nonce is the entry's fence: the server handles a connection's frames in
 * order, so an `error` that comes before that pong is a refusal of the first entry not yet past its fence; one that
 * comes after is the database's (unavailable), for the oldest entry still waiting for its echo.
 */
export class History {
  constructor({ limit = 200 } = {}) {
    this.limit = limit;
    this.undoStack = [];
    this.redoStack = [];
    this.pending = [];
    this.nextId = 1;
  }

  /**
   * Records operations just sent as one action. kind: 'do' (a new change: clears redo), 'undo', 'redo' or 'plain'
   * (not undoable: boards, pages, documents). group: entries of one gesture (a long stroke sent in parts) undo
   * together. Returns the entry.
   */
  sent(ops, kind = 'do', { fence = null, group = null, source = null } = {}) {
    const entry = {
      id: this.nextId++, kind, ops: [...ops], acked: ops.map(() => false), open: ops.length,
      inverse: [], fence, group, source, synced: fence == null, refused: false,
    };
    if (kind === 'do') this.redoStack = [];
    this.pending.push(entry);
    return entry;
  }

  /** The pong of a fence: that entry and all before it passed the node's checks. */
  fenced(nonce) {
    const i = this.pending.findIndex((e) => e.fence === nonce);
    if (i < 0) return;
    for (let k = 0; k <= i; k += 1) this.pending[k].synced = true;
    this.#sweep();
  }

  /**
   * An echo of one of our operations, before it is applied to `state`. Returns the entry when it is complete (all
   * its operations acknowledged), else null.
   */
  acknowledge(state, op) {
    for (const entry of this.pending) {
      const i = entry.ops.findIndex((o, k) => !entry.acked[k] && sameOp(o, op));
      if (i < 0) continue;
      entry.acked[i] = true;
      entry.open -= 1;
      const inv = entry.refused ? null : inverseOf(state, op);
      if (inv) {
        const same = entry.inverse.find((x) => x.board === inv.board);
        if (same) mergeInverse(same, inv);
        else entry.inverse.push(inv);
      }
      if (entry.open > 0) return null;
      this.pending.splice(this.pending.indexOf(entry), 1);
      if (!entry.refused) this.#file(entry);
      return entry;
    }
    return null;
  }

  #file(entry) {
    const item = { inverse: entry.inverse, group: entry.group };
    if (!entry.inverse.length || entry.kind === 'plain') return;
    if (entry.kind === 'undo') this.redoStack.push(item);
    else this.undoStack.push(item);
    while (this.undoStack.length > this.limit) this.undoStack.shift();
  }

  /**
   * An `error` frame with this code. Returns the entry it refuses the first time it refuses it (the view drops what
   * it showed of it), or null when the error is not about our operations.
   */
  refused(code) {
    let entry = this.pending.find((e) => !e.synced && e.open > 0);
    if (!entry) {
      // Past every fence: only the database (unavailable) or a document's lookup can still refuse.
      if (code !== 'unavailable' && code !== 'bad_request') return null;
      entry = this.pending.find((e) => e.open > 0);
      if (!entry) return null;
    }
    entry.open -= 1;
    const first = !entry.refused;
    entry.refused = true;
    if (first && entry.source) (entry.kind === 'undo' ? this.undoStack : this.redoStack).push(entry.source);
    this.#sweep();
    return first ? entry : null;
  }

  /** Entries that can no longer change: refused and nothing of them in flight. */
  #sweep() {
    this.pending = this.pending.filter((e) => !(e.refused && (e.open <= 0 || e.synced)));
  }

  /** A new `boards` frame (a new connection): what was in flight is in it or lost. */
  reset() {
    this.pending = [];
  }

  get canUndo() { return this.undoStack.length > 0; }
  get canRedo() { return this.redoStack.length > 0; }

  /**
   * The operations that undo the last action (all entries of its group), against `state`; takes them off the
   * stack. Returns {ops, source} (source goes back on the stack if the undo is refused: pass it to sent()), or null.
   */
  undo(state) {
    return this.#pop(state, this.undoStack);
  }

  redo(state) {
    return this.#pop(state, this.redoStack);
  }

  #pop(state, stack) {
    while (stack.length) {
      const top = stack.pop();
      const items = [top];
      while (top.group != null && stack.length && stack[stack.length - 1].group === top.group) items.push(stack.pop());
      // One gesture, one set of operations: the oldest version of an element is the one to go back to.
      const inverse = combineInverses(items.reverse().flatMap((x) => x.inverse));
      const ops = inverseOps(state, inverse);
      if (ops.length) return { ops, source: items.length === 1 ? top : { inverse, group: top.group } };
      // Nothing left to undo there (the board went, or others erased it all): the next one.
    }
    return null;
  }

  /** The element lists of a board with our operations in flight applied (what the view draws). */
  pendingOps(boardId) {
    const out = [];
    for (const e of this.pending) {
      if (e.refused) continue;
      e.ops.forEach((op, k) => {
        if (!e.acked[k] && Number(op.board) === Number(boardId)) out.push(op);
      });
    }
    return out;
  }
}

// --- geometry -----------------------------------------------------------------------------------

/** Rough text width when no measuring function is given (the canvas measures exactly). */
export const estimateTextWidth = (text, size) => chars(text) * size * 0.6;

export function textLines(text) {
  return String(text ?? '').split('\n');
}

/** An arrow's head length for a line width. */
export const arrowHead = (width) => Math.max(10, width * 3);

/** The bounding box {x0, y0, x1, y1} of an element, stroke width included. measure(text, size) → width. */
export function bbox(e, measure = estimateTextWidth) {
  const pts = e.points || [];
  if (e.tool === 'text') {
    const [x, y] = pts[0] || [0, 0];
    const size = e.size || 16;
    const lines = textLines(e.text);
    const w = Math.max(...lines.map((l) => measure(l, size)), size * 0.3);
    return { x0: x, y0: y, x1: x + w, y1: y + lines.length * size * LINE_HEIGHT };
  }
  let x0 = Infinity; let y0 = Infinity; let x1 = -Infinity; let y1 = -Infinity;
  for (const [x, y] of pts) {
    if (x < x0) x0 = x;
    if (y < y0) y0 = y;
    if (x > x1) x1 = x;
    if (y > y1) y1 = y;
  }
  if (!pts.length) return { x0: 0, y0: 0, x1: 0, y1: 0 };
  const pad = e.width / 2 + (e.tool === 'arrow' ? arrowHead(e.width) / 2 : 0);
  return { x0: x0 - pad, y0: y0 - pad, x1: x1 + pad, y1: y1 + pad };
}

/** The box around several elements, or null. */
export function unionBox(elements, measure) {
  let box = null;
  for (const e of elements) {
    const b = bbox(e, measure);
    box = box ? { x0: Math.min(box.x0, b.x0), y0: Math.min(box.y0, b.y0), x1: Math.max(box.x1, b.x1), y1: Math.max(box.y1, b.y1) } : b;
  }
  return box;
}

export const boxesIntersect = (a, b) => a.x0 <= b.x1 && b.x0 <= a.x1 && a.y0 <= b.y1 && b.y0 <= a.y1;

/** Distance from (px, py) to the segment a–b. */
export function segmentDistance(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  let t = len2 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

function polylineDistance(px, py, pts) {
  if (pts.length === 1) return Math.hypot(px - pts[0][0], py - pts[0][1]);
  let d = Infinity;
  for (let i = 1; i < pts.length; i += 1) d = Math.min(d, segmentDistance(px, py, pts[i - 1][0], pts[i - 1][1], pts[i][0], pts[i][1]));
  return d;
}

/** The outline of an ellipse in its box, as a closed polyline. */
export function ellipsePoints(p0, p1, n = 72) {
  const cx = (p0[0] + p1[0]) / 2;
  const cy = (p0[1] + p1[1]) / 2;
  const rx = Math.abs(p1[0] - p0[0]) / 2;
  const ry = Math.abs(p1[1] - p0[1]) / 2;
  const out = [];
  for (let i = 0; i <= n; i += 1) {
    const a = (i / n) * Math.PI * 2;
    out.push([cx + rx * Math.cos(a), cy + ry * Math.sin(a)]);
  }
  return out;
}

/** The two short lines of an arrow's head at its second point. */
export function arrowHeadLines(e) {
  const [[x0, y0], [x1, y1]] = e.points;
  const a = Math.atan2(y1 - y0, x1 - x0);
  const len = arrowHead(e.width);
  const wing = (s) => [x1 - len * Math.cos(a + s * Math.PI / 7), y1 - len * Math.sin(a + s * Math.PI / 7)];
  return [[[x1, y1], wing(1)], [[x1, y1], wing(-1)]];
}

/**
 * Whether the point (x, y) touches the element within tol board units: strokes and lines by their distance to the
 * line, rectangles and ellipses by their outline, texts anywhere in their box.
 */
export function hitTest(e, x, y, tol = 4, measure = estimateTextWidth) {
  const reach = e.width / 2 + tol;
  const pts = e.points || [];
  switch (e.tool) {
    case 'pen': case 'highlighter': case 'line':
      return polylineDistance(x, y, pts) <= reach;
    case 'arrow':
      return polylineDistance(x, y, pts) <= reach || arrowHeadLines(e).some((l) => polylineDistance(x, y, l) <= reach);
    case 'rect': {
      const [[ax, ay], [bx, by]] = pts;
      return polylineDistance(x, y, [[ax, ay], [bx, ay], [bx, by], [ax, by], [ax, ay]]) <= reach;
    }
    case 'ellipse':
      return polylineDistance(x, y, ellipsePoints(pts[0], pts[1])) <= reach;
    case 'text': {
      const b = bbox(e, measure);
      return x >= b.x0 - tol && x <= b.x1 + tol && y >= b.y0 - tol && y <= b.y1 + tol;
    }
    default:
      return false;
  }
}

/** The topmost element of a page under (x, y), or null. */
export function topHit(elements, page, x, y, tol, measure) {
  for (let i = elements.length - 1; i >= 0; i -= 1) {
    const e = elements[i];
    if ((e.page ?? 0) === page && hitTest(e, x, y, tol, measure)) return e;
  }
  return null;
}

/** Every element of a page whose box lies within the rectangle (a selection by dragging). */
export function elementsInBox(elements, page, box, measure) {
  const r = normalizeBox(box);
  return elements.filter((e) => {
    if ((e.page ?? 0) !== page) return false;
    const b = bbox(e, measure);
    return b.x0 >= r.x0 && b.y0 >= r.y0 && b.x1 <= r.x1 && b.y1 <= r.y1;
  });
}

export const normalizeBox = (b) => ({ x0: Math.min(b.x0, b.x1), y0: Math.min(b.y0, b.y1), x1: Math.max(b.x0, b.x1), y1: Math.max(b.y0, b.y1) });

/** The element moved by (dx, dy), coordinates kept in range. Same id: a `put` of it replaces it. */
export function translate(e, dx, dy) {
  const out = cloneElement(e);
  out.points = out.points.map(([x, y]) => [roundCoord(x + dx), roundCoord(y + dy)]);
  return out;
}

/** The element scaled by (sx, sy) about (ox, oy); a text's size follows the vertical scale (8–200). */
export function scale(e, ox, oy, sx, sy) {
  const out = cloneElement(e);
  out.points = out.points.map(([x, y]) => [roundCoord(ox + (x - ox) * sx), roundCoord(oy + (y - oy) * sy)]);
  if (e.tool === 'text') {
    const s = (e.size || 16) * Math.abs(sy);
    out.size = Math.round(Math.max(LIMITS.MIN_SIZE, Math.min(LIMITS.MAX_SIZE, s)) * 10) / 10;
  }
  return out;
}

/**
 * Dragging a corner handle ('nw', 'ne', 'sw', 'se') of a box to (x, y): the origin (the opposite corner) and the
 * scale factors, never flipped nor flattened to nothing.
 */
export function resizeTransform(box, handle, x, y, min = 0.02) {
  const ox = handle.includes('w') ? box.x1 : box.x0;
  const oy = handle.includes('n') ? box.y1 : box.y0;
  const w = box.x1 - box.x0 || 1;
  const h = box.y1 - box.y0 || 1;
  const sx = Math.max(min, (handle.includes('w') ? ox - x : x - ox) / w);
  const sy = Math.max(min, (handle.includes('n') ? oy - y : y - oy) / h);
  return { ox, oy, sx, sy };
}

/** Ramer–Douglas–Peucker: the points of a stroke without those closer than tol to the line through their neighbours. */
export function simplify(points, tol = 0.5) {
  if (points.length <= 2) return points.map((p) => [p[0], p[1]]);
  const keep = new Uint8Array(points.length);
  keep[0] = 1;
  keep[points.length - 1] = 1;
  const stack = [[0, points.length - 1]];
  while (stack.length) {
    const [a, b] = stack.pop();
    let far = -1;
    let dist = tol;
    for (let i = a + 1; i < b; i += 1) {
      const d = segmentDistance(points[i][0], points[i][1], points[a][0], points[a][1], points[b][0], points[b][1]);
      if (d > dist) {
        dist = d;
        far = i;
      }
    }
    if (far >= 0) {
      keep[far] = 1;
      stack.push([a, far], [far, b]);
    }
  }
  return points.filter((_, i) => keep[i]).map((p) => [p[0], p[1]]);
}

/** A long stroke in parts of at most max points, each starting where the last one ended (no gap). */
export function splitPoints(points, max = LIMITS.MAX_POINTS) {
  if (points.length <= max) return [points];
  const parts = [];
  let i = 0;
  while (i < points.length - 1) {
    parts.push(points.slice(i, i + max));
    i += max - 1;
  }
  return parts;
}
