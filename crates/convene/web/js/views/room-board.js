// The whiteboard of the room page (docs/protocol.md, "Whiteboard"): tabs, a toolbar, and a canvas that draws the
// boards of js/board-model.js. Every change is an operation sent to the room's node; its echo (`board`) is what
// makes it part of the board. Until then our own changes are drawn as pending (lighter), and an `error` drops
// them. Unfinished strokes and the laser go out as `board_live`, at most ~30 a second.
//
// Hooks for browser tests: canvas[data-testid="board-canvas"] (data-seq: the last seq drawn, data-board, data-page,
// data-pending: our operations in flight, data-zoom), buttons [data-tool], [data-action], tabs [data-board-id],
// [data-testid="board-page"], and window.conveneBoard (toCanvas / toBoard between board units and CSS pixels).
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { confirmDialog, formDialog, field } from '../ui.js';
import { displayName } from '../protocol.js';
import {
  BoardState, History, LIMITS, LINE_HEIGHT, applyToElements, cleanText, elementProblem, eraseOps, makeIdGenerator,
  opProblem, pageCount, putOps, validName,
} from '../board-model.js';
import {
  FONT, PLAIN_FRAME, createImageCache, drawElement, drawLaser, drawMarquee, drawSelection, drawSurface,
} from './room-board-render.js';
import { COLORS, DEFAULT_WIDTH, TEXT_SIZES, createBoardTools } from './room-board-tools.js';
import { createToolbar, problemText, renderTabs as buildTabs } from './room-board-toolbar.js';

const LIVE_MS = 34; // board_live at most ~30 a second (they count in the frame rate limit)
const LASER_MS = 2200; // others' lasers fade out this long after they last moved
const DRAFT_MS = 10000; // an unfinished stroke nobody updates is dropped after this long
const PENDING_ALPHA = 0.55;
const MIN_ZOOM = 0.05;
const MAX_ZOOM = 20;
const FIT_MARGIN = 16;

/**
 * @param {object} o
 * @param {import('../protocol.js').RoomSession} o.session
 * @param {(message: string, level?: string, opts?: object) => void} o.notice
 * @param {() => void} [o.onWanted]  someone showed a document while we follow the presenter: the page may open the board
 */
export function createBoardView({ session, notice, onWanted = () => {} }) {
  const model = new BoardState();
  const history = new History();
  let newId = makeIdGenerator('u');
  let boardId = null;
  let follow = true;
  let shown = false;
  let tool = 'pen';
  let color = COLORS[5];
  const widths = { ...DEFAULT_WIDTH };
  let textSize = TEXT_SIZES[1];
  const browsePages = new Map(); // board id → the page we look at when not following
  const views = new Map(); // board id → {zoom, x, y, fitted}
  const others = new Map(); // participant id → {board, pointer, draft, pointerAt, draftAt}
  let fences = 0;
  let editing = null; // the text being typed: {element, input}

  // --- skeleton -----------------------------------------------------------------------------
  const canvas = h('canvas', {
    class: 'board-canvas', tabindex: '0', role: 'img', 'aria-label': t('board.canvas'),
    dataset: { testid: 'board-canvas', seq: '0', tool },
  });
  const cache = document.createElement('canvas'); // the board without what moves: redrawn only when it changes
  const status = h('p', { class: 'board-status', role: 'status' }, t('board.loading'));
  const wrap = h('div', { class: 'board-canvas-wrap' }, canvas, status);
  const tabs = h('div', { class: 'board-tabs', role: 'tablist', 'aria-label': t('board.tabs') });
  const tabActions = h('div', { class: 'board-tab-actions' });

  const toolbar = createToolbar({
    tool: (name) => setTool(name),
    color: (c) => setColor(c),
    width: (n) => { widths[tool] = n; },
    size: (n) => {
      textSize = n;
      if (editing) {
        editing.element.size = n;
        moveEditor();
      }
    },
  });
  // A click on a colour or a button while typing a text must not take the focus (and so end the text) first.
  toolbar.element.addEventListener('mousedown', (ev) => {
    if (editing && ev.target.closest('button')) ev.preventDefault();
  });
  const section = h('section', { id: 'board', class: 'board-stage', 'aria-label': t('board.title'), hidden: true },
    h('div', { class: 'board-top' }, tabs, tabActions, toolbar.view), toolbar.element, wrap);

  // --- state helpers --------------------------------------------------------------------------
  const canDraw = () => session.canDraw && session.state === 'open' && model.loaded;
  const current = () => model.board(boardId);
  const pageOf = (b) => {
    if (!b) return 0;
    const p = follow ? b.page : (browsePages.get(b.id) ?? b.page);
    return Math.max(0, Math.min(pageCount(b) - 1, p));
  };
  const slideOf = (b) => (b && b.pages.length ? b.pages[pageOf(b)] || null : null);

  let display = null; // {board, elements, pending}: the current board with our operations in flight applied
  function elements() {
    const b = current();
    if (!b) return [];
    if (display && display.board === b) return display.elements;
    const ops = history.pendingOps(b.id);
    const pending = new Set();
    let els = b.elements;
    if (ops.length) {
      els = b.elements.slice();
      for (const op of ops) {
        applyToElements(els, op);
        if (op.kind === 'put') for (const e of op.elements) pending.add(e.id);
      }
    }
    display = { board: b, elements: els, pending };
    return els;
  }
  const invalidate = () => { display = null; };

  // --- view (zoom and pan) ---------------------------------------------------------------------
  let cssW = 0;
  let cssH = 0;
  let dpr = 1;

  function viewOf(b) {
    const key = b ? b.id : 0;
    let v = views.get(key);
    if (!v) {
      v = { zoom: 1, x: 0, y: 0, fitted: true };
      views.set(key, v);
      fitView(b, v);
    }
    return v;
  }

  function fitView(b, v = viewOf(b)) {
    const slide = slideOf(b);
    const w = slide ? slide.width : PLAIN_FRAME.width;
    const hgt = slide ? slide.height : PLAIN_FRAME.height;
    if (!cssW || !cssH || !w || !hgt) return;
    v.zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, Math.min((cssW - 2 * FIT_MARGIN) / w, (cssH - 2 * FIT_MARGIN) / hgt)));
    v.x = (cssW - w * v.zoom) / 2;
    v.y = (cssH - hgt * v.zoom) / 2;
    v.fitted = true;
  }

  function zoomAt(factor, px, py) {
    const v = viewOf(current());
    const z = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, v.zoom * factor));
    v.x = px - ((px - v.x) * z) / v.zoom;
    v.y = py - ((py - v.y) * z) / v.zoom;
    v.zoom = z;
    v.fitted = false;
    moveEditor();
    render(true);
  }

  function panBy(dx, dy) {
    const v = viewOf(current());
    v.x += dx;
    v.y += dy;
    v.fitted = false;
    moveEditor();
    render(true);
  }

  function toBoard(clientX, clientY) {
    const r = canvas.getBoundingClientRect();
    const v = viewOf(current());
    return [(clientX - r.left - v.x) / v.zoom, (clientY - r.top - v.y) / v.zoom];
  }

  function resize() {
    const w = wrap.clientWidth;
    const hgt = wrap.clientHeight;
    const ratio = globalThis.devicePixelRatio || 1;
    if (!w || !hgt || (w === cssW && hgt === cssH && ratio === dpr)) return;
    cssW = w;
    cssH = hgt;
    dpr = ratio;
    for (const c of [canvas, cache]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(hgt * dpr);
    }
    canvas.style.width = `${w}px`;
    canvas.style.height = `${hgt}px`;
    for (const [id, v] of views) if (v.fitted) fitView(model.board(id), v);
    render(true);
  }
  const observer = typeof ResizeObserver === 'function' ? new ResizeObserver(resize) : null;
  observer?.observe(wrap);
  // Moved to a screen of another density without changing size: no resize, but the pixels must follow.
  let dprQuery = null;
  const onDpr = () => {
    resize();
    watchDpr();
  };
  function watchDpr() {
    dprQuery?.removeEventListener?.('change', onDpr);
    dprQuery = globalThis.matchMedia?.(`(resolution: ${globalThis.devicePixelRatio || 1}dppx)`) ?? null;
    dprQuery?.addEventListener?.('change', onDpr);
  }
  watchDpr();

  // --- drawing ----------------------------------------------------------------------------------
  const image = createImageCache(() => render(true));
  let frame = null;
  let cacheDirty = true;

  function render(all = false) {
    if (all) {
      cacheDirty = true;
      invalidate();
    }
    if (!frame && shown) frame = requestAnimationFrame(draw);
  }

  function drawCache(b, page, v) {
    const ctx = cache.getContext('2d');
    const slide = slideOf(b);
    drawSurface(ctx, { slide, image: slide ? image(slide.url) : null, view: v, width: cssW, height: cssH, dpr });
    if (!b) return;
    const els = elements();
    const hidden = tools.hidden();
    const skip = editing?.element.id;
    for (const e of els) {
      if ((e.page ?? 0) !== page || e.id === skip || hidden?.has(e.id)) continue;
      drawElement(ctx, e, display.pending.has(e.id) ? PENDING_ALPHA : 1);
    }
  }

  function draw() {
    frame = null;
    if (!shown || !cssW) return;
    const b = current();
    const page = pageOf(b);
    const v = viewOf(b);
    if (cacheDirty) {
      drawCache(b, page, v);
      cacheDirty = false;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalAlpha = 1;
    ctx.drawImage(cache, 0, 0);
    ctx.setTransform(dpr * v.zoom, 0, 0, dpr * v.zoom, dpr * v.x, dpr * v.y);
    const now = performance.now();
    let again = false;
    if (b) {
      const o = tools.overlay();
      for (const e of o.moved) drawElement(ctx, e);
      for (const [pid, x] of others) {
        if (x.board !== b.id) continue;
        if (x.draft && (x.draft.page ?? 0) === page && now - x.draftAt < DRAFT_MS && !model.element(b.id, x.draft.id)) drawElement(ctx, x.draft);
        if (x.pointer) {
          const age = now - x.pointerAt;
          if (age < LASER_MS) {
            drawLaser(ctx, { x: x.pointer.x, y: x.pointer.y, name: nameOf(pid), alpha: age < 1000 ? 1 : 1 - (age - 1000) / (LASER_MS - 1000), zoom: v.zoom });
            again = true;
          }
        }
      }
      if (o.draft) drawElement(ctx, o.draft);
      if (o.selectionBox) drawSelection(ctx, o.selectionBox, v.zoom, o.handles);
      if (o.marquee) drawMarquee(ctx, o.marquee, v.zoom);
      if (o.laser) drawLaser(ctx, { ...o.laser, name: '', alpha: 1, zoom: v.zoom });
    }
    Object.assign(canvas.dataset, {
      seq: String(model.seq), board: b ? String(b.id) : '', page: String(page),
      pending: String(history.pending.filter((e) => !e.refused).length), zoom: String(Math.round(v.zoom * 1000) / 1000),
    });
    if (again) render(false); // a laser is fading
  }

  const nameOf = (pid) => {
    const p = session.participants.get(pid);
    return p ? displayName(p) : '';
  };

  // --- sending -----------------------------------------------------------------------------------
  /**
   * Sends one action's operations, then a ping whose pong says they passed the node's checks (History.refused).
   * kind: 'do', 'undo', 'redo' or 'plain'. False when refused here (with a notice) or not connected.
   */
  function commit(ops, { kind = 'do', group = null, source = null, quiet = false } = {}) {
    if (!ops.length) return false;
    for (const op of ops) {
      const why = opProblem(model, op);
      if (why) {
        if (!quiet) notice(problemText(why), 'warn', { key: 'board-problem' });
        return false;
      }
    }
    if (!session.connected) {
      notice(t('board.not_sent'), 'warn', { key: 'board-problem' });
      return false;
    }
    for (const op of ops) session.sendBoard(op);
    fences += 1;
    const fence = `wb${fences}`;
    session.send('ping', { nonce: fence });
    history.sent(ops, kind, { fence, group, source });
    render(true);
    updateButtons();
    return true;
  }

  let liveTimer = null;
  let liveAt = 0;
  let liveNext = null;
  let liveEmpty = true; // the last board_live said "nothing"
  function live(pointer, draft) {
    const b = current();
    if (!b || !canDraw()) return;
    liveNext = { board: b.id, pointer, draft: draft && !elementProblem(draft, pageCount(b)) ? draft : null };
    const wait = LIVE_MS - (performance.now() - liveAt);
    if (wait <= 0) flushLive();
    else if (!liveTimer) liveTimer = setTimeout(flushLive, wait);
  }
  function flushLive() {
    clearTimeout(liveTimer);
    liveTimer = null;
    const f = liveNext;
    liveNext = null;
    if (!f) return;
    const empty = !f.pointer && !f.draft;
    if (empty && liveEmpty) return;
    liveEmpty = empty;
    liveAt = performance.now();
    session.sendBoardLive(f.board, f.pointer, f.draft);
  }
  // A finished stroke replaces the draft at the others when its echo comes: no late draft after it.
  function cancelLive() {
    clearTimeout(liveTimer);
    liveTimer = null;
    liveNext = null;
  }

  function undo() {
    const u = history.undo(model);
    if (u && !commit(u.ops, { kind: 'undo', source: u.source, group: u.source.group })) history.undoStack.push(u.source);
    updateButtons();
  }

  function redo() {
    const r = history.redo(model);
    if (r && !commit(r.ops, { kind: 'redo', source: r.source, group: r.source.group })) history.redoStack.push(r.source);
    updateButtons();
  }

  // --- the tools -------------------------------------------------------------------------------
  const tools = createBoardTools({
    canvas,
    canDraw: () => canDraw() && tool !== null,
    tool: () => tool,
    style: () => ({ color, width: widths[tool] || 4, size: textSize }),
    board: current,
    page: () => pageOf(current()),
    elements,
    toBoard,
    zoom: () => viewOf(current()).zoom,
    panBy,
    zoomAt,
    newId: () => newId((id) => !!model.element(boardId, id)),
    commit: (ops, opts = {}) => commit(ops, opts),
    live,
    cancelLive,
    render,
    editText: openEditor,
    changed: updateButtons,
  });

  // --- text --------------------------------------------------------------------------------------
  function openEditor({ x, y, element = null }) {
    closeEditor(true);
    const b = current();
    if (!b || !canDraw()) return;
    const el = element || {
      id: newId((id) => !!model.element(b.id, id)), page: pageOf(b), tool: 'text', color, width: 1, points: [[x, y]], text: '', size: textSize,
    };
    const input = h('textarea', {
      class: 'board-text-editor', rows: 1, maxlength: LIMITS.MAX_TEXT_CHARS, 'aria-label': t('board.tool.text'),
      placeholder: t('board.text_placeholder'), dataset: { testid: 'board-text' },
    });
    input.value = el.text || '';
    editing = { element: el, input, original: element ? element.text : null };
    wrap.appendChild(input);
    moveEditor();
    input.addEventListener('keydown', (ev) => {
      ev.stopPropagation();
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        closeEditor(true, true);
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        closeEditor(false, true);
      }
    });
    input.addEventListener('input', moveEditor);
    input.addEventListener('blur', () => closeEditor(true));
    render(true);
    requestAnimationFrame(() => input.focus());
  }

  function moveEditor() {
    if (!editing) return;
    const v = viewOf(current());
    const { element: el, input } = editing;
    const size = el.size * v.zoom;
    Object.assign(input.style, {
      left: `${el.points[0][0] * v.zoom + v.x}px`, top: `${el.points[0][1] * v.zoom + v.y}px`,
      font: `${size}px/${LINE_HEIGHT} ${FONT}`, color: el.color,
      minWidth: `${Math.max(80, size * 4)}px`,
    });
    input.rows = Math.max(1, input.value.split('\n').length);
  }

  /** Ends typing: keep sends the text (an emptied text is erased). refocus: back to the canvas (Enter, Escape). */
  function closeEditor(keep, refocus = false) {
    const e = editing;
    if (!e) return;
    editing = null;
    e.input.remove();
    const text = cleanText(e.input.value).replace(/\s+$/, '');
    const b = current();
    if (keep && b && canDraw() && text !== (e.original ?? '')) {
      if (text) commit(putOps(b.id, [{ ...e.element, text }]));
      else if (e.original != null) commit(eraseOps(b.id, [e.element.id]));
    }
    render(true);
    if (refocus) canvas.focus({ preventScroll: true });
  }

  // --- toolbar -------------------------------------------------------------------------------
  function setTool(name) {
    closeEditor(true);
    if (tool === 'laser' && name !== 'laser') live(null, null);
    tool = name;
    canvas.dataset.tool = name;
    if (name !== 'select') tools.clearSelection();
    updateButtons();
    render(false);
  }

  function setColor(c) {
    color = c.toLowerCase();
    if (tool === 'select') tools.restyle(color);
    if (editing) {
      editing.element.color = color;
      moveEditor();
    }
    updateButtons();
  }

  function updateButtons() {
    const draw = canDraw();
    const b = current();
    toolbar.update({
      draw, loaded: model.loaded && !!b, tool, color, width: widths[tool] || 4, textSize,
      canUndo: history.canUndo, canRedo: history.canRedo, selected: tools.selection.size > 0,
      page: pageOf(b), pages: pageCount(b), follow, document: b?.document?.name ?? null, zoom: viewOf(b).zoom,
      room: session.roomId ?? null, board: b?.id ?? null, slides: b?.pages?.length ?? 0,
    });
    status.hidden = model.loaded;
    canvas.classList.toggle('is-readonly', !draw);
  }

  function renderTabs() {
    buildTabs(tabs, tabActions, { boards: model.boards, current: current()?.id ?? null, draw: canDraw(), onSelect: selectBoard });
  }

  function selectBoard(id) {
    if (id === boardId || !model.board(id)) return;
    closeEditor(true);
    tools.cancel();
    tools.clearSelection();
    if (tool === 'laser') live(null, null);
    boardId = id;
    refresh();
  }

  function turnPage(delta) {
    const b = current();
    if (!b) return;
    const target = Math.max(0, Math.min(pageCount(b) - 1, pageOf(b) + delta));
    if (target === pageOf(b)) return;
    if (follow && canDraw()) {
      // Presenting: everyone who follows turns with us when the echo comes.
      commit([{ kind: 'page', board: b.id, page: target }], { kind: 'plain' });
      return;
    }
    follow = false;
    browsePages.set(b.id, target);
    pageChanged(b);
  }

  function pageChanged(b) {
    tools.cancel();
    tools.clearSelection();
    closeEditor(true);
    const v = viewOf(b);
    if (v.fitted) fitView(b, v);
    refresh();
  }

  async function addBoard() {
    commit([{ kind: 'add_board', name: t('board.default_name', { n: model.nextBoardId() }) }], { kind: 'plain' });
  }

  async function renameBoard() {
    const b = current();
    if (!b) return;
    let input = null;
    const name = await formDialog({
      id: 'board-rename-dialog',
      title: t('board.rename_title'),
      build: (body) => {
        input = h('input', { type: 'text', name: 'name', required: true, maxlength: LIMITS.MAX_NAME_CHARS, value: b.name, autocomplete: 'off' });
        body.appendChild(field(t('board.name'), input));
      },
      onSubmit: async () => {
        const n = validName(input.value);
        if (!n) throw new Error(problemText('name'));
        return n;
      },
    });
    if (name && name !== b.name) commit([{ kind: 'rename_board', board: b.id, name }], { kind: 'plain' });
  }

  async function removeBoard() {
    const b = current();
    if (!b) return;
    const ok = await confirmDialog({ title: t('board.remove_title'), message: t('board.remove_text', { name: b.name }), confirmLabel: t('board.remove_confirm') });
    if (ok) commit([{ kind: 'remove_board', board: b.id }], { kind: 'plain' });
  }

  async function clearPage() {
    const b = current();
    if (!b) return;
    const page = pageOf(b);
    if (!b.elements.some((e) => (e.page ?? 0) === page)) return;
    const ok = await confirmDialog({ title: t('board.clear_title'), message: t('board.clear_text'), confirmLabel: t('board.clear_confirm') });
    if (ok) commit([{ kind: 'clear', board: b.id, page }]);
  }

  const ACTIONS = {
    undo, redo,
    delete: () => tools.deleteSelection(),
    clear: clearPage,
    'zoom-in': () => zoomAt(1.25, cssW / 2, cssH / 2),
    'zoom-out': () => zoomAt(0.8, cssW / 2, cssH / 2),
    fit: () => {
      fitView(current());
      moveEditor();
      refresh();
    },
    'prev-page': () => turnPage(-1),
    'next-page': () => turnPage(1),
    follow: () => {
      follow = !follow;
      const b = current();
      if (b) {
        if (!follow) browsePages.set(b.id, b.page);
        pageChanged(b);
      }
    },
    'add-board': addBoard,
    'rename-board': renameBoard,
    'remove-board': removeBoard,
  };
  section.addEventListener('click', (ev) => {
    const btn = ev.target.closest('button[data-action]');
    if (btn && section.contains(btn) && !btn.disabled) ACTIONS[btn.dataset.action]?.();
  });
  /** Redraws everything that depends on the boards. */
  function refresh() {
    if (!current() && model.boards.length) boardId = model.boards[0].id;
    tools.prune();
    renderTabs();
    updateButtons();
    render(true);
  }

  // --- frames -------------------------------------------------------------------------------
  const offs = [];
  const on = (target, type, fn) => {
    const wrapped = (ev) => fn(ev.detail || {});
    target.addEventListener(type, wrapped);
    offs.push(() => target.removeEventListener(type, wrapped));
  };

  on(session, 'welcome', ({ you }) => {
    newId = makeIdGenerator(you?.id || 'u');
    others.clear();
    liveEmpty = true;
    refresh();
  });
  on(session, 'boards', ({ seq, boards }) => {
    model.load({ seq, boards });
    history.reset(); // in flight on a connection that is gone: stored (and in these boards) or lost
    tools.cancel();
    refresh();
  });
  on(session, 'board', ({ seq, op, mine, by }) => {
    if (!model.loaded) return;
    if (mine) history.acknowledge(model, op);
    if (!model.apply(seq, op)) return;
    const b = model.board(op.board);
    switch (op.kind) {
      case 'add_board':
        if (mine) boardId = Number(op.board);
        break;
      case 'remove_board':
        views.delete(Number(op.board));
        break;
      case 'page':
        if (follow && b) {
          if (!mine && b.id !== boardId) boardId = b.id; // following: the presenter's board too
          if (b.id === boardId) pageChanged(b);
        }
        break;
      case 'document':
        if (b) {
          browsePages.delete(b.id);
          const v = views.get(b.id);
          if (v) fitView(b, v);
          if (follow && !mine) {
            boardId = b.id;
            onWanted();
          }
        }
        break;
      case 'put': {
        const drafted = others.get(by);
        if (drafted?.draft && op.elements.some((e) => e.id === drafted.draft.id)) drafted.draft = null;
        break;
      }
      default:
        break;
    }
    refresh();
  });
  on(session, 'board_live', ({ participant_id: pid, board, pointer, draft }) => {
    if (session.you && pid === session.you.id) return;
    const now = performance.now();
    let x = others.get(pid);
    if (!x || x.board !== Number(board)) {
      x = { board: Number(board), pointer: null, pointerAt: 0, draft: null, draftAt: 0 };
      others.set(pid, x);
    }
    // A pointer that stops (null) is not taken away: the dot fades from where it last was.
    if (pointer && Number.isFinite(pointer.x) && Number.isFinite(pointer.y)) {
      x.pointer = { x: pointer.x, y: pointer.y };
      x.pointerAt = now;
    }
    x.draft = draft && Array.isArray(draft.points) && draft.points.length ? draft : null;
    x.draftAt = now;
    render(false);
  });
  on(session, 'whiteboard', ({ you, can_draw: can }) => {
    if (!you) return;
    notice(can ? t('board.can_draw_now') : t('board.cannot_draw'), can ? 'success' : 'info', { key: 'board-right', ms: 6000 });
    if (!can) {
      tools.cancel();
      tools.clearSelection();
      closeEditor(false);
    }
    refresh();
  });
  on(session, 'pong', ({ nonce }) => {
    if (typeof nonce === 'string' && nonce.startsWith('wb')) {
      history.fenced(nonce);
      render(true);
    }
  });
  on(session, 'server_error', ({ code, handled }) => {
    // The room shows the server's words; here what was shown as pending goes.
    if (!handled && history.refused(code)) {
      render(true);
      updateButtons();
    }
  });
  on(session, 'left', ({ id }) => {
    if (others.delete(id)) render(false);
  });
  on(session, 'participants', () => {
    renderTabs();
    updateButtons();
  });
  on(session, 'state', ({ state }) => {
    if (state !== 'open') {
      tools.cancel();
      closeEditor(false);
      others.clear();
    }
    refresh();
  });

  // Keys on the page while the board is shown, except those typed into fields (the chat).
  function onKey(ev) {
    if (!shown) return;
    const target = ev.target;
    if (target?.closest?.('input, textarea, select, [contenteditable=""], [contenteditable="true"], dialog')) return;
    if (ev.type === 'keydown' && (ev.ctrlKey || ev.metaKey) && !ev.altKey) {
      const k = ev.key.toLowerCase();
      if (k === 'z' || k === 'y') {
        if (!canDraw()) return;
        ev.preventDefault();
        if (k === 'y' || ev.shiftKey) redo();
        else undo();
      }
      return;
    }
    // Space pans only over the board, so that it still presses buttons.
    if (ev.code === 'Space' && target !== canvas && target !== document.body) return;
    if (tools.onKey(ev)) ev.preventDefault();
  }
  document.addEventListener('keydown', onKey);
  document.addEventListener('keyup', onKey);
  offs.push(() => {
    document.removeEventListener('keydown', onKey);
    document.removeEventListener('keyup', onKey);
  });

  // The test hook: the state, and conversions between board units and CSS pixels of the canvas.
  const hook = {
    model,
    history,
    get board() { return boardId; },
    get page() { return pageOf(current()); },
    get follow() { return follow; },
    view: () => ({ ...viewOf(current()) }),
    toCanvas: (x, y) => {
      const v = viewOf(current());
      return [x * v.zoom + v.x, y * v.zoom + v.y];
    },
    toBoard: (x, y) => {
      const v = viewOf(current());
      return [(x - v.x) / v.zoom, (y - v.y) / v.zoom];
    },
  };
  window.conveneBoard = hook;
  refresh();

  return {
    section,
    get shown() { return shown; },
    setShown(value) {
      shown = !!value;
      section.hidden = !shown;
      if (!shown) {
        tools.cancel();
        closeEditor(true);
        if (tool === 'laser') live(null, null);
        return;
      }
      resize();
      refresh();
    },
    /** Whether we may change the boards (and show documents on them). */
    canDraw,
    /** The board shown (or the first one). */
    currentBoard: () => current()?.id ?? model.boards[0]?.id ?? null,
    /** Shows a converted file of the room's file area on the current board. */
    showDocument(fileId) {
      const b = current();
      if (!b) return false;
      follow = true; // the one who shows a document presents it
      return commit([{ kind: 'document', board: b.id, file: Number(fileId) }], { kind: 'plain' });
    },
    destroy() {
      for (const off of offs) off();
      observer?.disconnect();
      dprQuery?.removeEventListener?.('change', onDpr);
      tools.destroy();
      cancelLive();
      if (frame) cancelAnimationFrame(frame);
      if (window.conveneBoard === hook) delete window.conveneBoard;
    },
  };
}
