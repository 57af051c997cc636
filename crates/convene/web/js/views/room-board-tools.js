// The whiteboard's pointer tools (views/room-board.js owns the state and the canvas): drawing, shapes, eraser,
// select / move / resize, laser, and panning and zooming with the mouse wheel, a middle-button or space drag, or
// two fingers. Pointer Events only, so that mouse, pen and touch work alike.
import {
  cloneElement, roundCoord, simplify, hitTest, topHit, elementsInBox, translate, scale, resizeTransform, putOps, eraseOps,
} from '../board-model.js';
import { measureText, selectionBox, handlesOf } from './room-board-render.js';
import { pathIcon } from '../dom.js';

const ICONS = {
  pen: 'M4 20l4-1 11-11-3-3L5 16z M14 6l3 3',
  highlighter: 'M7 17l-2 4h6l1-2 M7 17l8-12 4 3-8 11z M13 21h7',
  line: 'M5 19L19 5',
  arrow: 'M5 19L19 5 M10 5h9v9',
  rect: 'M4 6h16v12H4z',
  ellipse: 'M12 5c4.4 0 8 3.1 8 7s-3.6 7-8 7-8-3.1-8-7 3.6-7 8-7z',
  text: 'M5 7V4h14v3 M12 4v16 M9 20h6',
  eraser: 'M14 4l6 6-9 9H7l-4-4z M9 8l7 7 M11 19h9',
  select: 'M5 3l13 7.5-5.5 1.5L10 18z M13 13l5 5',
  laser: 'M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6z M12 2v3 M12 19v3 M2 12h3 M19 12h3',
  undo: 'M9 14L4 9l5-5 M4 9h11a5 5 0 0 1 0 10h-3',
  redo: 'M15 14l5-5-5-5 M20 9H9a5 5 0 0 0 0 10h3',
  trash: 'M4 7h16 M9 7V4h6v3 M6 7l1 13h10l1-13 M10 11v6 M14 11v6',
  clear: 'M4 4h16v12H4z M9 8l6 6 M15 8l-6 6 M8 20h8',
  zoom_in: 'M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14z M20 20l-4-4 M8 11h6 M11 8v6',
  zoom_out: 'M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14z M20 20l-4-4 M8 11h6',
  fit: 'M4 9V4h5 M15 4h5v5 M20 15v5h-5 M9 20H4v-5',
  prev: 'M15 6l-6 6 6 6',
  next: 'M9 6l6 6-6 6',
  plus: 'M12 5v14 M5 12h14',
  edit: 'M4 20h4L19 9l-4-4L4 16z',
  close: 'M6 6l12 12 M18 6L6 18',
  follow: 'M2 12s4-7 10-7 10 7 10 7-4 7-10 7S2 12 2 12z M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6z',
  board: 'M3 4h18v12H3z M8 21l4-5 4 5 M7 8h6 M7 11h9',
  download: 'M12 4v11 M7 10l5 5 5-5 M5 20h14',
};

/** An inline SVG icon of the whiteboard (decorative: aria-hidden). */
export function boardIcon(name, cls = 'icon') {
  return pathIcon(ICONS[name] || '', cls);
}

export const DRAW_TOOLS = ['pen', 'highlighter', 'line', 'arrow', 'rect', 'ellipse', 'text', 'eraser', 'select', 'laser'];
export const COLORS = ['#1a1a1a', '#e53935', '#fb8c00', '#fdd835', '#43a047', '#1e88e5', '#8e24aa', '#ffffff'];
export const WIDTHS = [2, 4, 8, 16, 32];
export const TEXT_SIZES = [16, 24, 36, 48, 72];
export const DEFAULT_WIDTH = { pen: 4, highlighter: 16, line: 4, arrow: 4, rect: 4, ellipse: 4 };

const CHUNK = 400; // a stroke's points per element while drawing: parts go out as it grows, drafts stay small
const HANDLE_PX = 10;
const ERASER_PX = 8;
const HIT_PX = 6;

/**
 * The gestures on the canvas. api (from the view): canvas, canDraw(), tool(), style() → {color, width, size},
 * board(), page(), elements() (the board's elements as drawn, ours in flight included), toBoard(clientX, clientY),
 * zoom(), panBy(dx, dy), zoomAt(factor, x, y) (CSS pixels of the canvas), newId(), commit(ops, {group}) → bool,
 * live(pointer, draft), cancelLive(), render(base), editText({x, y} | {element}), changed() (selection or undo
 * state to show).
 */
export function createBoardTools(api) {
  const { canvas } = api;
  const selection = new Set();
  const touches = new Map(); // pointerId → [clientX, clientY], for two-finger pan and zoom
  let gesture = null;
  let pinch = null;
  let spaceDown = false;
  let laser = null; // our own laser, drawn locally too
  let gestureCount = 0;

  const rectOf = () => canvas.getBoundingClientRect();
  const local = (ev) => {
    const r = rectOf();
    return [ev.clientX - r.left, ev.clientY - r.top];
  };
  const at = (ev) => api.toBoard(ev.clientX, ev.clientY);
  const tol = (px) => px / api.zoom();
  const onPage = () => api.elements().filter((e) => (e.page ?? 0) === api.page());
  const selected = () => api.elements().filter((e) => selection.has(e.id));

  function draftOf(g) {
    const s = g.style;
    const points = g.type === 'stroke' ? g.points : [g.p0, g.p1];
    return { id: g.id, page: g.page, tool: g.tool, color: s.color, width: s.width, points: points.map((p) => [p[0], p[1]]), text: null, size: null };
  }

  function begin(ev) {
    const tool = api.tool();
    const [x, y] = at(ev);
    const page = api.page();
    const base = { pointerId: ev.pointerId, page, start: [x, y] };
    if (ev.button === 1 || spaceDown || !api.canDraw() || !api.board()) {
      return { ...base, type: 'pan', last: [ev.clientX, ev.clientY] };
    }
    if (ev.button !== 0) return null;
    const style = api.style();
    switch (tool) {
      case 'pen': case 'highlighter':
        gestureCount += 1;
        return { ...base, type: 'stroke', tool, style, id: api.newId(), group: `g${gestureCount}`, points: [[roundCoord(x), roundCoord(y)]] };
      case 'line': case 'arrow': case 'rect': case 'ellipse':
        return { ...base, type: 'shape', tool, style, id: api.newId(), p0: [roundCoord(x), roundCoord(y)], p1: [roundCoord(x), roundCoord(y)] };
      case 'eraser': {
        const g = { ...base, type: 'erase', ids: new Set(), last: [x, y] };
        eraseAlong(g, x, y);
        return g;
      }
      case 'text':
        return { ...base, type: 'text' };
      case 'laser':
        return { ...base, type: 'laser' };
      case 'select':
        return beginSelect(base, x, y, ev.shiftKey);
      default:
        return null;
    }
  }

  function beginSelect(base, x, y, shift) {
    const box = selection.size ? selectionBox(selected()) : null;
    if (box) {
      const handle = handlesOf(box).find((hd) => Math.abs(hd.x - x) <= tol(HANDLE_PX) && Math.abs(hd.y - y) <= tol(HANDLE_PX));
      if (handle) return { ...base, type: 'resize', handle: handle.name, box, originals: selected(), now: null };
    }
    const hit = topHit(api.elements(), api.page(), x, y, tol(HIT_PX), measureText);
    if (hit) {
      if (shift) {
        if (selection.has(hit.id)) selection.delete(hit.id);
        else selection.add(hit.id);
      } else if (!selection.has(hit.id)) {
        selection.clear();
        selection.add(hit.id);
      }
      api.changed();
      return { ...base, type: 'move', originals: selected(), dx: 0, dy: 0 };
    }
    if (!shift) selection.clear();
    api.changed();
    return { ...base, type: 'marquee', box: { x0: x, y0: y, x1: x, y1: y } };
  }

  /** Every element of the page the eraser passes over between its last place and (x, y). */
  function eraseAlong(g, x, y) {
    const r = tol(ERASER_PX);
    const [lx, ly] = g.last;
    const steps = Math.max(1, Math.ceil(Math.hypot(x - lx, y - ly) / r));
    const els = onPage();
    let more = false;
    for (let i = 1; i <= steps; i += 1) {
      const px = lx + ((x - lx) * i) / steps;
      const py = ly + ((y - ly) * i) / steps;
      for (const e of els) {
        if (!g.ids.has(e.id) && hitTest(e, px, py, r, measureText)) {
          g.ids.add(e.id);
          more = true;
        }
      }
    }
    g.last = [x, y];
    if (more) api.render(true);
  }

  function constrain(g, x, y, shift) {
    if (!shift) return [x, y];
    const [x0, y0] = g.p0;
    const dx = x - x0;
    const dy = y - y0;
    if (g.tool === 'rect' || g.tool === 'ellipse') {
      const d = Math.max(Math.abs(dx), Math.abs(dy));
      return [x0 + Math.sign(dx || 1) * d, y0 + Math.sign(dy || 1) * d];
    }
    // Lines and arrows: in steps of 45°.
    const a = Math.round(Math.atan2(dy, dx) / (Math.PI / 4)) * (Math.PI / 4);
    const len = Math.hypot(dx, dy);
    return [x0 + Math.cos(a) * len, y0 + Math.sin(a) * len];
  }

  function update(g, ev) {
    const [x, y] = at(ev);
    switch (g.type) {
      case 'pan': {
        api.panBy(ev.clientX - g.last[0], ev.clientY - g.last[1]);
        g.last = [ev.clientX, ev.clientY];
        break;
      }
      case 'stroke': {
        const events = ev.getCoalescedEvents?.() || [];
        for (const e of events.length ? events : [ev]) {
          const [px, py] = at(e);
          const last = g.points[g.points.length - 1];
          if (Math.hypot(px - last[0], py - last[1]) < tol(0.75)) continue;
          g.points.push([roundCoord(px), roundCoord(py)]);
          if (g.points.length >= CHUNK) sendChunk(g);
        }
        api.live(null, draftOf(g));
        api.render(false);
        break;
      }
      case 'shape': {
        const [cx, cy] = constrain(g, x, y, ev.shiftKey);
        g.p1 = [roundCoord(cx), roundCoord(cy)];
        api.live(null, draftOf(g));
        api.render(false);
        break;
      }
      case 'erase':
        eraseAlong(g, x, y);
        break;
      case 'laser':
        setLaser(x, y);
        break;
      case 'move':
        g.dx = x - g.start[0];
        g.dy = y - g.start[1];
        if (!g.shown) {
          g.shown = true;
          api.render(true); // the moved elements leave the cached layer
        }
        api.render(false);
        break;
      case 'resize':
        g.now = resizeTransform(g.box, g.handle, x, y);
        if (!g.shown) {
          g.shown = true;
          api.render(true);
        }
        api.render(false);
        break;
      case 'marquee':
        g.box.x1 = x;
        g.box.y1 = y;
        api.render(false);
        break;
      default:
        break;
    }
  }

  /** A long stroke: what is drawn so far goes out as one element, the stroke goes on as a new one. */
  function sendChunk(g) {
    const el = { ...draftOf(g), points: simplify(g.points, tol(0.3)) };
    api.cancelLive();
    api.commit(putOps(api.board().id, [el]), { group: g.group });
    const last = g.points[g.points.length - 1];
    g.id = api.newId();
    g.points = [last];
  }

  function finish(g, ev) {
    switch (g.type) {
      case 'stroke': {
        const el = { ...draftOf(g), points: simplify(g.points, tol(0.3)) };
        api.cancelLive();
        api.commit(putOps(api.board().id, [el]), { group: g.group });
        break;
      }
      case 'shape':
        api.cancelLive();
        if (g.p0[0] !== g.p1[0] || g.p0[1] !== g.p1[1]) api.commit(putOps(api.board().id, [draftOf(g)]));
        else api.live(null, null);
        break;
      case 'erase':
        if (g.ids.size) api.commit(eraseOps(api.board().id, [...g.ids]));
        break;
      case 'text': {
        const [x, y] = at(ev);
        api.editText({ x: roundCoord(x), y: roundCoord(y) });
        break;
      }
      case 'laser':
        if (ev.pointerType === 'touch') clearLaser();
        break;
      case 'move':
        if (Math.abs(g.dx) + Math.abs(g.dy) > 0) {
          api.commit(putOps(api.board().id, g.originals.map((e) => translate(e, g.dx, g.dy))));
        }
        break;
      case 'resize':
        if (g.now) {
          const { ox, oy, sx, sy } = g.now;
          api.commit(putOps(api.board().id, g.originals.map((e) => scale(e, ox, oy, sx, sy))));
        }
        break;
      case 'marquee':
        for (const e of elementsInBox(api.elements(), api.page(), g.box, measureText)) selection.add(e.id);
        api.changed();
        break;
      default:
        break;
    }
  }

  function setLaser(x, y) {
    laser = { x, y };
    api.live({ x: roundCoord(x), y: roundCoord(y) }, null);
    api.render(false);
  }

  function clearLaser() {
    if (!laser) return;
    laser = null;
    api.live(null, null);
    api.render(false);
  }

  /** Drops the gesture under way without sending it (a second finger, a lost right, Escape). */
  function cancel() {
    const g = gesture;
    gesture = null;
    if (!g) return;
    if (g.type === 'stroke' || g.type === 'shape') {
      api.cancelLive();
      api.live(null, null);
    }
    api.render(true);
  }

  // --- two fingers -----------------------------------------------------------------------------
  function pinchState() {
    const [a, b] = [...touches.values()];
    const r = rectOf();
    return { dist: Math.hypot(a[0] - b[0], a[1] - b[1]) || 1, mid: [(a[0] + b[0]) / 2 - r.left, (a[1] + b[1]) / 2 - r.top] };
  }

  function onDown(ev) {
    if (ev.pointerType === 'touch') {
      touches.set(ev.pointerId, [ev.clientX, ev.clientY]);
      if (touches.size === 2) {
        cancel(); // the first finger's stroke was the start of a pinch
        pinch = pinchState();
        ev.preventDefault();
        return;
      }
      if (touches.size > 2 || pinch) return;
    }
    if (gesture) return;
    const g = begin(ev);
    if (!g) return;
    ev.preventDefault();
    canvas.focus?.({ preventScroll: true });
    try {
      canvas.setPointerCapture(ev.pointerId);
    } catch {
      // a synthetic or already released pointer
    }
    gesture = g;
    canvas.dataset.gesture = g.type;
    if (g.type === 'stroke' || g.type === 'shape') {
      api.live(null, draftOf(g));
      api.render(false);
    } else if (g.type === 'laser') {
      setLaser(g.start[0], g.start[1]);
    }
  }

  function onMove(ev) {
    if (ev.pointerType === 'touch' && touches.has(ev.pointerId)) {
      touches.set(ev.pointerId, [ev.clientX, ev.clientY]);
      if (pinch && touches.size >= 2) {
        const now = pinchState();
        api.zoomAt(now.dist / pinch.dist, now.mid[0], now.mid[1]);
        api.panBy(now.mid[0] - pinch.mid[0], now.mid[1] - pinch.mid[1]);
        pinch = now;
        return;
      }
    }
    if (gesture && ev.pointerId === gesture.pointerId) {
      update(gesture, ev);
    } else if (!gesture && api.tool() === 'laser' && api.canDraw() && ev.pointerType !== 'touch') {
      const [x, y] = at(ev);
      setLaser(x, y); // a mouse or pen laser follows the pointer without a click
    }
  }

  function onUp(ev) {
    if (ev.pointerType === 'touch') {
      touches.delete(ev.pointerId);
      if (pinch) {
        // After a pinch the last finger does nothing until it is lifted too.
        if (!touches.size) pinch = null;
        return;
      }
    }
    const g = gesture;
    if (!g || ev.pointerId !== g.pointerId) return;
    gesture = null;
    delete canvas.dataset.gesture;
    if (ev.type === 'pointercancel') {
      gesture = g;
      cancel();
      return;
    }
    update(g, ev);
    finish(g, ev);
    api.render(true);
  }

  function onWheel(ev) {
    ev.preventDefault();
    const [x, y] = local(ev);
    const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? 400 : 1;
    // A trackpad pinch comes as a wheel with ctrlKey and small deltas.
    const k = ev.ctrlKey ? 0.01 : 0.0015;
    api.zoomAt(Math.exp(-ev.deltaY * unit * k), x, y);
  }

  function onDoubleClick(ev) {
    if (!api.canDraw() || !['select', 'text'].includes(api.tool())) return;
    const [x, y] = at(ev);
    const hit = topHit(api.elements(), api.page(), x, y, tol(HIT_PX), measureText);
    if (hit && hit.tool === 'text') {
      cancel();
      api.editText({ element: cloneElement(hit) });
    }
  }

  function onLeave(ev) {
    if (!gesture && api.tool() === 'laser' && ev.pointerType !== 'touch') clearLaser();
  }

  /** Keys while the board is shown (the view skips those typed into fields). True when used. */
  function onKey(ev) {
    if (ev.type === 'keyup') {
      if (ev.code === 'Space') spaceDown = false;
      return false;
    }
    if (ev.code === 'Space') {
      spaceDown = true;
      return true;
    }
    if (ev.key === 'Escape') {
      if (gesture) cancel();
      else if (selection.size) {
        selection.clear();
        api.changed();
        api.render(false);
      } else return false;
      return true;
    }
    if ((ev.key === 'Delete' || ev.key === 'Backspace') && selection.size && api.canDraw()) {
      deleteSelection();
      return true;
    }
    return false;
  }

  function deleteSelection() {
    const ids = selected().map((e) => e.id);
    selection.clear();
    api.changed();
    if (ids.length) api.commit(eraseOps(api.board().id, ids));
  }

  /** Gives the selected elements another colour (the colour picker while something is selected). */
  function restyle(color) {
    const els = selected();
    if (!els.length) return false;
    api.commit(putOps(api.board().id, els.map((e) => ({ ...cloneElement(e), color }))));
    return true;
  }

  /** Forgets selected ids that are no longer drawn. */
  function prune() {
    const present = new Set(onPage().map((e) => e.id));
    let changed = false;
    for (const id of [...selection]) {
      if (!present.has(id)) {
        selection.delete(id);
        changed = true;
      }
    }
    if (changed) api.changed();
  }

  const listeners = [
    ['pointerdown', onDown], ['pointermove', onMove], ['pointerup', onUp], ['pointercancel', onUp],
    ['lostpointercapture', (ev) => { if (gesture && ev.pointerId === gesture.pointerId && ev.buttons) cancel(); }],
    ['wheel', onWheel, { passive: false }], ['dblclick', onDoubleClick], ['pointerleave', onLeave],
    ['contextmenu', (ev) => ev.preventDefault()],
    ['blur', () => { spaceDown = false; }], // a space released elsewhere must not leave us panning
  ];
  for (const [type, fn, opts] of listeners) canvas.addEventListener(type, fn, opts);

  return {
    selection,
    onKey,
    cancel,
    prune,
    restyle,
    deleteSelection,
    clearSelection() {
      selection.clear();
      api.changed();
    },
    get busy() { return !!gesture; },
    /** Ids the cached layer leaves out: being erased, moved or resized (the overlay draws them). */
    hidden() {
      const g = gesture;
      if (!g) return null;
      if (g.type === 'erase') return g.ids;
      if ((g.type === 'move' || g.type === 'resize') && g.shown) return new Set(g.originals.map((e) => e.id));
      return null;
    },
    /** What the overlay draws: our unfinished element, moved elements, the rubber band, the selection, our laser. */
    overlay() {
      const g = gesture;
      const out = { draft: null, moved: [], marquee: null, selectionBox: null, handles: true, laser };
      if (g && (g.type === 'stroke' || g.type === 'shape')) out.draft = draftOf(g);
      if (g && g.type === 'move' && g.shown) out.moved = g.originals.map((e) => translate(e, g.dx, g.dy));
      if (g && g.type === 'resize' && g.shown && g.now) {
        const { ox, oy, sx, sy } = g.now;
        out.moved = g.originals.map((e) => scale(e, ox, oy, sx, sy));
      }
      if (g && g.type === 'marquee') out.marquee = g.box;
      if (selection.size && api.canDraw()) {
        out.selectionBox = selectionBox(out.moved.length ? out.moved : selected());
        out.handles = !g;
      }
      return out;
    },
    destroy() {
      for (const [type, fn, opts] of listeners) canvas.removeEventListener(type, fn, opts);
    },
  };
}
