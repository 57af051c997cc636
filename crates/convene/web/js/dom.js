// Small DOM helpers. User data always goes through textContent, never innerHTML.
import { t, language } from './i18n.js';

/**
 * Creates an element. attrs: plain attributes, plus
 *   class, dataset {k: v}, on {event: fn}, text, hidden/disabled/checked/... booleans, and properties (value).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'indeterminate') el[k] = !!v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces all children of el. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const ICONS = {
  hand: 'M8 11V5.5a1.5 1.5 0 0 1 3 0V10m0-5.5V3.5a1.5 1.5 0 0 1 3 0V10m0-5a1.5 1.5 0 0 1 3 0v5m0-3a1.5 1.5 0 0 1 3 0v7a7 7 0 0 1-7 7h-1a7 7 0 0 1-5.6-2.8L3.6 14.6a1.5 1.5 0 0 1 2.3-1.9L8 15',
  shield: 'M12 3l7 3v5c0 4.5-3 8.3-7 10-4-1.7-7-5.5-7-10V6z M9 12l2 2 4-4',
  mic_off: 'M3 3l18 18 M9 9v3a3 3 0 0 0 5.1 2.1 M15 10V6a3 3 0 0 0-5.7-1.3 M19 11a7 7 0 0 1-1.2 3.9 M5 11a7 7 0 0 0 11.3 5.5 M12 18v3',
  users: 'M16 20v-1.5a3.5 3.5 0 0 0-3.5-3.5h-5A3.5 3.5 0 0 0 4 18.5V20 M10 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z M20 20v-1.5a3.5 3.5 0 0 0-2.5-3.4 M15.5 4.1a3.5 3.5 0 0 1 0 6.8',
  chat: 'M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.9A8 8 0 1 1 21 12z',
  file: 'M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z M14 3v5h5',
  leave: 'M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3 M10 17l-5-5 5-5 M5 12h11',
  enter: 'M9 4H6a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h3 M14 7l5 5-5 5 M19 12H8',
  send: 'M4 12l16-8-6 16-2.5-6.5z M11.5 13.5L20 4',
  video: 'M3 7a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z M16 10l5-3v10l-5-3',
  kick: 'M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3 M4 12h11 M8 8l-4 4 4 4',
  plus: 'M12 5v14 M5 12h14',
  refresh: 'M20 12a8 8 0 1 1-2.3-5.6 M20 4v4h-4',
  close: 'M6 6l12 12 M18 6L6 18',
  mic: 'M12 3a3 3 0 0 0-3 3v5a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z M19 11a7 7 0 0 1-14 0 M12 18v3 M9 21h6',
  video_off: 'M3 3l18 18 M16 16.5V17a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2h1.5 M10.5 5H14a2 2 0 0 1 2 2v3.5l5-3.5v10l-1.5-1',
  screen: 'M3 6a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z M8 21h8 M12 17v4 M12 13.5V8 M9.5 10.5L12 8l2.5 2.5',
  screen_off: 'M3 6a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z M8 21h8 M12 17v4 M9.5 8l5 5 M14.5 8l-5 5',
  sliders: 'M4 7h8 M16 7h4 M14 5v4 M4 17h4 M12 17h8 M10 15v4 M4 12h12 M20 12h0 M18 10v4',
  volume: 'M4 9.5v5h3.5L12 18V6L7.5 9.5z M15.5 9a4 4 0 0 1 0 6 M18.5 6.5a7.5 7.5 0 0 1 0 11',
  presenter: 'M3 4h18 M5 4v9a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V4 M12 14v3 M8.5 20.5L12 17l3.5 3.5',
};

/** An inline SVG icon (decorative: aria-hidden). */
export function icon(name, cls = 'icon') {
  return pathIcon(ICONS[name] || '', cls);
}

/** An inline 24×24 SVG icon of one path `d` (decorative: aria-hidden). */
export function pathIcon(d, cls = 'icon') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', cls);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', d);
  svg.appendChild(path);
  return svg;
}

// Formatters in the UI's language (made again when it changes).
const FORMATS = {
  time: { hour: '2-digit', minute: '2-digit' },
  dateTime: { dateStyle: 'medium', timeStyle: 'medium' },
  shortDateTime: { dateStyle: 'short', timeStyle: 'short' },
  tenths: { minimumFractionDigits: 1, maximumFractionDigits: 1 },
};
const formatters = new Map();
function fmt(name) {
  const key = `${language()}:${name}`;
  let f = formatters.get(key);
  if (!f) {
    f = name === 'tenths' ? new Intl.NumberFormat(language(), FORMATS[name]) : new Intl.DateTimeFormat(language(), FORMATS[name]);
    formatters.set(key, f);
  }
  return f;
}

function toDate(v) {
  if (v === null || v === undefined || v === '') return null;
  const d = typeof v === 'number' ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** 14:05 */
export function formatTime(v) {
  const d = toDate(v);
  return d ? fmt('time').format(d) : '';
}

/** 29 Nov 2025, 14:05:33 */
export function formatDateTime(v) {
  const d = toDate(v);
  return d ? fmt('dateTime').format(d) : '—';
}

export function formatShortDateTime(v) {
  const d = toDate(v);
  return d ? fmt('shortDateTime').format(d) : '—';
}

/** "3 min ago" style age of a timestamp, for tables. */
export function formatSince(v, now = Date.now()) {
  const d = toDate(v);
  if (!d) return '—';
  return t('time.ago', { duration: formatDuration(now - d.getTime()) });
}

/** 850 ms → "0.9 s"; 125000 → "2 min 5 s"; 2 h 3 min. */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return '—';
  const n = Math.max(0, Number(ms));
  if (n < 10000) return t('duration.s', { s: fmt('tenths').format(n / 1000) });
  const s = Math.round(n / 1000);
  if (s < 60) return t('duration.s', { s });
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? t('duration.min_s', { min: m, s: s % 60 }) : t('duration.min', { min: m });
  const hr = Math.floor(m / 60);
  if (hr < 48) return m % 60 ? t('duration.h_min', { h: hr, min: m % 60 }) : t('duration.h', { h: hr });
  return t('duration.d', { d: Math.floor(hr / 24) });
}

/** An object whose values are looked up when read (in the language of that moment). */
function labels(entries) {
  const o = {};
  for (const [k, fn] of Object.entries(entries)) Object.defineProperty(o, k, { get: fn, enumerable: true });
  return Object.freeze(o);
}

export const KIND_LABELS = labels({
  conference: () => t('kind.conference'),
  presentation: () => t('kind.presentation'),
  interview: () => t('kind.interview'),
});

export const ROLE_LABELS = labels({
  admin: () => t('role.admin'),
  organiser: () => t('role.organiser'),
  user: () => t('role.user'),
  webservice: () => t('role.webservice'),
});

/** Runs fn now and every ms milliseconds, skipping while the tab is hidden. Returns a stop function. */
export function every(ms, fn) {
  let timer = null;
  let stopped = false;
  let running = false;
  const tick = async () => {
    if (stopped || running) return;
    if (document.visibilityState === 'hidden') return;
    running = true;
    try {
      await fn();
    } finally {
      running = false;
    }
  };
  const onVisible = () => {
    if (document.visibilityState === 'visible') tick();
  };
  tick();
  timer = setInterval(tick, ms);
  document.addEventListener('visibilitychange', onVisible);
  return () => {
    stopped = true;
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
