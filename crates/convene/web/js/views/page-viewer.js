// The page viewer of the Files panel (views/room-files.js): a converted document's pages (docs/files.md,
// "Documents"), one at a time, fitted to a modal <dialog>. Previous / next buttons, the arrow keys (also Page Up /
// Page Down, Home / End), Escape or the close button to leave; the focus goes back to what opened it. Those who may
// draw also get "Show on whiteboard".
//
// Hooks: dialog[data-testid="page-viewer"] (data-page: the page shown, 1-based; data-pages; data-state: loading,
// ready, empty, failed) › [data-testid="page-viewer-prev"], [data-testid="page-viewer-next"],
// [data-testid="page-viewer-counter"], [data-testid="page-viewer-close"], img[data-testid="page-viewer-image"],
// [data-testid="page-viewer-show"].
import { h, icon, pathIcon } from '../dom.js';
import { t } from '../i18n.js';

const PREV = 'M15 6l-6 6 6 6';
const NEXT = 'M9 6l6 6-6 6';
const BOARD = 'M3 4h18v12H3z M8 21l4-5 4 5 M7 8h6 M7 11h9';

/** The page index after a key or button: delta -1 / +1, or 'first' / 'last'; clamped to 0 … count - 1. */
export function turn(index, count, delta) {
  if (count <= 0) return 0;
  if (delta === 'first') return 0;
  if (delta === 'last') return count - 1;
  return Math.max(0, Math.min(count - 1, index + delta));
}

/** What a key does in the viewer: -1, 1, 'first', 'last', or null. */
export function keyAction(key) {
  switch (key) {
    case 'ArrowLeft': case 'ArrowUp': case 'PageUp': return -1;
    case 'ArrowRight': case 'ArrowDown': case 'PageDown': return 1;
    case 'Home': return 'first';
    case 'End': return 'last';
    default: return null;
  }
}

/**
 * The pages of a file: [{number, width, height, url}] sorted by number. Rejects with an Error whose message says
 * why (a 409 while converting carries `pages_done` / `pages_total`).
 */
export async function fetchPages(url, fetcher = globalThis.fetch) {
  let res;
  try {
    res = await fetcher(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  } catch {
    throw new Error(t('api.network'));
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    if (data?.status === 'converting' || data?.error?.code === 'converting') {
      const done = Number(data.pages_done);
      const total = Number(data.pages_total);
      throw new Error(total > 0 ? t('viewer.converting', { done, total }) : t('viewer.converting_plain'));
    }
    throw new Error(data?.error?.message || t('api.failed', { status: res.status }));
  }
  const pages = Array.isArray(data) ? data.filter((p) => p && typeof p.url === 'string') : [];
  return pages.sort((a, b) => (a.number ?? 0) - (b.number ?? 0));
}

/**
 * Opens the viewer.
 * @param {object} o
 * @param {{id, name, url}} o.file
 * @param {string} o.pagesUrl  GET …/files/{file}/pages
 * @param {(() => boolean)|null} [o.canShow]  whether "Show on whiteboard" is offered (asked when the viewer opens)
 * @param {(file: object) => void} [o.show]
 * @param {() => Element|null} [o.returnFocus]  where the focus goes back when what opened the viewer is gone
 * @returns {{dialog: HTMLDialogElement, close: () => void, ready: Promise<void>}}
 */
export function openPageViewer({ file, pagesUrl, canShow = null, show = null, returnFocus = null }) {
  const opener = document.activeElement;
  let pages = [];
  let index = 0;
  let closed = false;

  const titleId = `page-viewer-title-${file.id}`;
  const counter = h('span', { class: 'page-viewer-counter small', 'aria-live': 'polite', dataset: { testid: 'page-viewer-counter' } });
  const closeBtn = h('button', {
    type: 'button', class: 'icon-btn', 'aria-label': t('common.close'), title: t('common.close'), dataset: { testid: 'page-viewer-close' },
  }, icon('close'));
  const img = h('img', { class: 'page-viewer-img', alt: '', hidden: true, decoding: 'async', dataset: { testid: 'page-viewer-image' } });
  const status = h('p', { class: 'page-viewer-status', role: 'status' }, t('viewer.loading'));
  const stage = h('div', { class: 'page-viewer-stage' }, img, status);
  const prev = h('button', {
    type: 'button', class: 'btn btn-secondary', disabled: true, 'aria-label': t('viewer.prev'), title: t('viewer.prev'),
    dataset: { testid: 'page-viewer-prev' },
  }, pathIcon(PREV), h('span', { class: 'label' }, t('viewer.prev_short')));
  const next = h('button', {
    type: 'button', class: 'btn btn-secondary', disabled: true, 'aria-label': t('viewer.next'), title: t('viewer.next'),
    dataset: { testid: 'page-viewer-next' },
  }, h('span', { class: 'label' }, t('viewer.next_short')), pathIcon(NEXT));
  const showBtn = show && canShow && canShow() ? h('button', {
    type: 'button', class: 'btn btn-primary page-viewer-show', hidden: true, dataset: { testid: 'page-viewer-show' },
    'aria-label': t('board.show_document_of', { name: file.name }),
  }, pathIcon(BOARD), ` ${t('board.show_document')}`) : null;
  const dialog = h('dialog', {
    class: 'dialog page-viewer', 'aria-labelledby': titleId, dataset: { testid: 'page-viewer', state: 'loading', page: '0', pages: '0' },
  },
  h('header', { class: 'page-viewer-header' },
    h('h2', { id: titleId, class: 'page-viewer-title' }, file.name), counter, closeBtn),
  stage,
  h('footer', { class: 'page-viewer-footer' }, prev, next, showBtn));

  function setState(state, message = '') {
    dialog.dataset.state = state;
    status.hidden = !message;
    status.replaceChildren(message);
    if (state === 'empty' && file.url) {
      status.append(' ', h('a', { href: file.url, target: '_blank', rel: 'noopener' }, t('viewer.open_file')));
    }
  }

  function update() {
    const n = pages.length;
    const page = pages[index];
    dialog.dataset.page = String(n ? index + 1 : 0);
    dialog.dataset.pages = String(n);
    counter.textContent = n ? t('viewer.page_of', { page: index + 1, pages: n }) : '';
    prev.disabled = index <= 0;
    next.disabled = index >= n - 1;
    // A button that just became disabled would drop the focus out of the dialog.
    if (document.activeElement === next && next.disabled) (prev.disabled ? closeBtn : prev).focus();
    if (document.activeElement === prev && prev.disabled) (next.disabled ? closeBtn : next).focus();
    if (!page) return;
    img.hidden = false;
    img.alt = t('viewer.page_alt', { page: index + 1, name: file.name });
    // The page's size: the box keeps its aspect ratio before the image is in.
    if (page.width > 0 && page.height > 0) {
      img.width = page.width;
      img.height = page.height;
    }
    if (img.getAttribute('src') !== page.url) {
      setState('loading', '');
      img.src = page.url;
    }
    // The neighbours, so that turning is quick.
    for (const p of [pages[index + 1], pages[index - 1]]) {
      if (p) new Image().src = p.url;
    }
  }

  function go(delta) {
    const target = turn(index, pages.length, delta);
    if (target === index) return;
    index = target;
    update();
  }

  img.addEventListener('load', () => {
    if (!closed) setState('ready');
  });
  img.addEventListener('error', () => {
    if (closed) return;
    img.hidden = true;
    setState('failed', t('viewer.page_failed'));
  });
  prev.addEventListener('click', () => go(-1));
  next.addEventListener('click', () => go(1));
  closeBtn.addEventListener('click', () => close());
  showBtn?.addEventListener('click', () => {
    show(file);
    close();
  });
  dialog.addEventListener('keydown', (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const a = keyAction(ev.key);
    if (a === null || !pages.length) return;
    ev.preventDefault();
    ev.stopPropagation();
    go(a);
  });
  // Escape: the dialog's own cancel; the clean-up is in 'close' either way.
  dialog.addEventListener('close', () => finish());
  // A click on the backdrop (outside the dialog's box) closes too.
  dialog.addEventListener('click', (ev) => {
    if (ev.target !== dialog) return;
    const r = dialog.getBoundingClientRect();
    if (ev.clientX < r.left || ev.clientX > r.right || ev.clientY < r.top || ev.clientY > r.bottom) close();
  });

  function finish() {
    if (closed) return;
    closed = true;
    dialog.remove();
    const target = opener?.isConnected && opener !== document.body ? opener : returnFocus?.();
    if (target && typeof target.focus === 'function') target.focus({ preventScroll: true });
  }

  function close() {
    if (closed) return;
    if (dialog.open) dialog.close();
    finish();
  }

  document.body.appendChild(dialog);
  dialog.showModal();
  closeBtn.focus();

  const ready = fetchPages(pagesUrl).then((list) => {
    if (closed) return;
    pages = list;
    index = 0;
    if (!pages.length) {
      setState('empty', t('viewer.no_pages'));
      update();
      return;
    }
    if (showBtn) showBtn.hidden = false;
    update();
    (next.disabled ? closeBtn : next).focus();
  }, (err) => {
    if (closed) return;
    setState('failed', err.message);
    update();
  });

  return { dialog, close, ready };
}
