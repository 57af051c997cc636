// Links in chat messages: http and https URLs become <a href rel="noopener noreferrer" target="_blank">, made
// with DOM calls (the text is never parsed as HTML). No imports: tests load this module on its own.

// A URL starts with the scheme http or https (any case) and runs to the next space, angle bracket or quote.
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
// Punctuation that usually ends the sentence around a URL, not the URL.
const TRAILING = /[.,;:!?…”’»›]+$/;
const CLOSERS = { ')': '(', ']': '[', '}': '{' };
const MAX_URL_LENGTH = 2048;

/** Drops trailing punctuation and closing brackets that have no opening partner inside the URL. */
function trimUrl(raw) {
  let url = raw;
  for (;;) {
    const before = url;
    url = url.replace(TRAILING, '');
    const last = url.slice(-1);
    const open = CLOSERS[last];
    if (open && count(url, open) < count(url, last)) url = url.slice(0, -1);
    if (url === before) return url;
  }
}

function count(s, ch) {
  let n = 0;
  for (const c of s) if (c === ch) n += 1;
  return n;
}

/** The URL as a safe link target (http or https, a host, no control characters), or null. */
export function safeHref(text) {
  if (typeof text !== 'string' || text.length > MAX_URL_LENGTH) return null;
  if (/[\u0000-\u001f\u007f\s]/.test(text)) return null;
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (!url.hostname) return null;
  return url.href;
}

/**
 * Splits text into pieces: {text} for plain text and {text, href} for a link (text: what was written; href:
 * the normalised URL). Concatenating every piece's text gives the input back.
 */
export function linkSegments(text) {
  const s = String(text ?? '');
  const out = [];
  let last = 0;
  const push = (piece) => {
    const prev = out[out.length - 1];
    if (!piece.href && prev && !prev.href) prev.text += piece.text;
    else if (piece.text) out.push(piece);
  };
  for (const m of s.matchAll(URL_RE)) {
    const start = m.index;
    const raw = trimUrl(m[0]);
    const href = safeHref(raw);
    if (!href || raw.length <= raw.indexOf('//') + 2) continue;
    if (start > last) push({ text: s.slice(last, start) });
    push({ text: raw, href });
    last = start + raw.length;
  }
  if (last < s.length) push({ text: s.slice(last) });
  return out;
}

/**
 * The text as DOM nodes: text nodes, and for each URL an <a href target="_blank" rel="noopener noreferrer">
 * whose text is the URL as written. doc: the document to create them in.
 */
export function linkify(text, doc = globalThis.document) {
  return linkSegments(text).map((piece) => {
    if (!piece.href) return doc.createTextNode(piece.text);
    const a = doc.createElement('a');
    a.setAttribute('href', piece.href);
    a.setAttribute('target', '_blank');
    a.setAttribute('rel', 'noopener noreferrer');
    a.setAttribute('class', 'chat-link');
    a.textContent = piece.text;
    return a;
  });
}
