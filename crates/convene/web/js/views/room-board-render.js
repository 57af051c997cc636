// Drawing the whiteboard on a canvas 2D context, in board units (the caller sets the transform): elements, a
// slide's page image, others' lasers, the selection. Texts are drawn with fillText, never as markup.
import { LINE_HEIGHT, HIGHLIGHTER_ALPHA, textLines, arrowHeadLines, bbox } from '../board-model.js';

export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", Arial, sans-serif';
/** A plain board's frame: what "fit" shows when there is no slide. */
export const PLAIN_FRAME = Object.freeze({ width: 1600, height: 900 });
const SURFACE = '#ffffff';
const AROUND = '#d9dee8'; // around a slide, so that its edges show
const SELECTION = '#2457c5';

let measureCtx = null;
/** The width of one line of text at a size, as the canvas draws it (an estimate where there is no canvas). */
export function measureText(line, size) {
  if (!measureCtx && typeof OffscreenCanvas !== 'undefined') measureCtx = new OffscreenCanvas(1, 1).getContext('2d');
  if (!measureCtx && typeof document !== 'undefined') measureCtx = document.createElement('canvas').getContext('2d');
  if (!measureCtx) return String(line).length * size * 0.6;
  measureCtx.font = `${size}px ${FONT}`;
  return measureCtx.measureText(String(line)).width;
}

/** A smooth line through the points: quadratic curves between the midpoints. */
function strokePath(ctx, pts) {
  ctx.beginPath();
  ctx.moveTo(pts[0][0], pts[0][1]);
  if (pts.length === 2) {
    ctx.lineTo(pts[1][0], pts[1][1]);
    return;
  }
  for (let i = 1; i < pts.length - 1; i += 1) {
    const mx = (pts[i][0] + pts[i + 1][0]) / 2;
    const my = (pts[i][1] + pts[i + 1][1]) / 2;
    ctx.quadraticCurveTo(pts[i][0], pts[i][1], mx, my);
  }
  const last = pts[pts.length - 1];
  ctx.lineTo(last[0], last[1]);
}

/** Draws one element. alpha: extra transparency (our own operations the node has not confirmed yet). */
export function drawElement(ctx, e, alpha = 1) {
  const pts = e.points || [];
  if (!pts.length) return;
  ctx.save();
  ctx.globalAlpha = alpha * (e.tool === 'highlighter' ? HIGHLIGHTER_ALPHA : 1);
  ctx.strokeStyle = e.color;
  ctx.fillStyle = e.color;
  ctx.lineWidth = e.width;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  switch (e.tool) {
    case 'pen': case 'highlighter':
      if (pts.length === 1) {
        ctx.beginPath();
        ctx.arc(pts[0][0], pts[0][1], e.width / 2, 0, Math.PI * 2);
        ctx.fill();
      } else {
        strokePath(ctx, pts);
        ctx.stroke();
      }
      break;
    case 'line': case 'arrow':
      ctx.beginPath();
      ctx.moveTo(pts[0][0], pts[0][1]);
      ctx.lineTo(pts[1][0], pts[1][1]);
      if (e.tool === 'arrow') {
        for (const [[ax, ay], [bx, by]] of arrowHeadLines(e)) {
          ctx.moveTo(ax, ay);
          ctx.lineTo(bx, by);
        }
      }
      ctx.stroke();
      break;
    case 'rect': {
      const [[x0, y0], [x1, y1]] = pts;
      ctx.strokeRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
      break;
    }
    case 'ellipse': {
      const [[x0, y0], [x1, y1]] = pts;
      ctx.beginPath();
      ctx.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.abs(x1 - x0) / 2, Math.abs(y1 - y0) / 2, 0, 0, Math.PI * 2);
      ctx.stroke();
      break;
    }
    case 'text': {
      const size = e.size || 16;
      ctx.font = `${size}px ${FONT}`;
      ctx.textBaseline = 'top';
      textLines(e.text).forEach((line, i) => ctx.fillText(line, pts[0][0], pts[0][1] + i * size * LINE_HEIGHT));
      break;
    }
    default:
      break;
  }
  ctx.restore();
}

/**
 * The surface under the elements: white for a plain board; for a slide, the page image on white with a grey
 * surround. Fills the whole canvas (width × height CSS pixels at dpr), then sets the board transform of view
 * ({zoom, x, y}: CSS pixels per unit and the origin's place), which it leaves set. image: an <img> or null.
 */
export function drawSurface(ctx, { slide, image, view, width, height, dpr }) {
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.globalAlpha = 1;
  ctx.fillStyle = slide ? AROUND : SURFACE;
  ctx.fillRect(0, 0, width, height);
  ctx.setTransform(dpr * view.zoom, 0, 0, dpr * view.zoom, dpr * view.x, dpr * view.y);
  if (!slide) return;
  ctx.fillStyle = SURFACE;
  ctx.fillRect(0, 0, slide.width, slide.height);
  if (image && image.complete && image.naturalWidth) ctx.drawImage(image, 0, 0, slide.width, slide.height);
}

/** Another participant's laser: a red dot with a glow and their name, fading out. zoom: to keep its screen size. */
export function drawLaser(ctx, { x, y, name, alpha, zoom }) {
  const r = 6 / zoom;
  ctx.save();
  ctx.globalAlpha = Math.max(0, Math.min(1, alpha));
  ctx.fillStyle = 'rgba(239, 68, 68, 0.28)';
  ctx.beginPath();
  ctx.arc(x, y, r * 2.6, 0, Math.PI * 2);
  ctx.fill();
  ctx.fillStyle = '#ef4444';
  ctx.beginPath();
  ctx.arc(x, y, r, 0, Math.PI * 2);
  ctx.fill();
  if (name) {
    const size = 12 / zoom;
    ctx.font = `600 ${size}px ${FONT}`;
    ctx.textBaseline = 'middle';
    const w = ctx.measureText(name).width;
    const lx = x + r * 2.4;
    ctx.fillStyle = 'rgba(17, 24, 39, 0.78)';
    ctx.fillRect(lx - 4 / zoom, y - size * 0.8, w + 8 / zoom, size * 1.6);
    ctx.fillStyle = '#ffffff';
    ctx.fillText(name, lx, y);
  }
  ctx.restore();
}

/** Handles of a selection box, in board units: [{name, x, y}]. */
export function handlesOf(box) {
  return [
    { name: 'nw', x: box.x0, y: box.y0 }, { name: 'ne', x: box.x1, y: box.y0 },
    { name: 'sw', x: box.x0, y: box.y1 }, { name: 'se', x: box.x1, y: box.y1 },
  ];
}

/** The selection: a dashed box around the selected elements with four handles. */
export function drawSelection(ctx, box, zoom, withHandles = true) {
  if (!box) return;
  ctx.save();
  ctx.strokeStyle = SELECTION;
  ctx.lineWidth = 1.5 / zoom;
  ctx.setLineDash([6 / zoom, 4 / zoom]);
  ctx.strokeRect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
  ctx.setLineDash([]);
  if (withHandles) {
    const s = 9 / zoom;
    ctx.fillStyle = '#ffffff';
    for (const hd of handlesOf(box)) {
      ctx.fillRect(hd.x - s / 2, hd.y - s / 2, s, s);
      ctx.strokeRect(hd.x - s / 2, hd.y - s / 2, s, s);
    }
  }
  ctx.restore();
}

/** A rubber band while selecting by dragging. */
export function drawMarquee(ctx, box, zoom) {
  ctx.save();
  ctx.fillStyle = 'rgba(36, 87, 197, 0.08)';
  ctx.strokeStyle = SELECTION;
  ctx.lineWidth = 1 / zoom;
  const x = Math.min(box.x0, box.x1);
  const y = Math.min(box.y0, box.y1);
  ctx.fillRect(x, y, Math.abs(box.x1 - box.x0), Math.abs(box.y1 - box.y0));
  ctx.strokeRect(x, y, Math.abs(box.x1 - box.x0), Math.abs(box.y1 - box.y0));
  ctx.restore();
}

/** The box of several elements as the canvas measures their texts. */
export function selectionBox(elements) {
  let box = null;
  for (const e of elements) {
    const b = bbox(e, measureText);
    box = box ? { x0: Math.min(box.x0, b.x0), y0: Math.min(box.y0, b.y0), x1: Math.max(box.x1, b.x1), y1: Math.max(box.y1, b.y1) } : b;
  }
  return box;
}

/** Page images, loaded once per URL; onload: something to redraw. */
export function createImageCache(onload) {
  const images = new Map();
  return (url) => {
    if (!url) return null;
    let img = images.get(url);
    if (!img) {
      img = new Image();
      img.decoding = 'async';
      img.addEventListener('load', onload);
      img.addEventListener('error', onload);
      img.src = url;
      images.set(url, img);
      while (images.size > 64) images.delete(images.keys().next().value);
    }
    return img;
  };
}
