// The room's Files panel (#files-panel; docs/files.md): the room's files and folders with their thumbnails, upload
// by the button or by drag and drop (one queue entry and one request per file, at most two at once, with a progress
// bar from XMLHttpRequest's upload events, Cancel and Retry; js/upload-queue.js), folders, rename, move, delete,
// download, and the page viewer of a converted document (views/page-viewer.js). What the caller may do comes from
// the listing (may_upload, may_manage).
//
// Hooks: img[data-testid="file-thumb"] in a row's .files-thumb box; #files-queue ›
// li[data-testid="upload-entry"][data-state][data-name] (waiting, uploading, done, failed, cancelled) with
// [data-testid="upload-cancel"], [data-testid="upload-retry"], [data-testid="upload-dismiss"].
import { h, icon } from '../dom.js';
import { confirmDialog, formDialog, field } from '../ui.js';
import { t } from '../i18n.js';
import { sentence } from '../api.js';
import { UploadQueue } from '../upload-queue.js';
import { openPageViewer } from './page-viewer.js';

const REFRESH_MS = 30000;
const CONVERTING_REFRESH_MS = 2000;
const DONE_LINGER_MS = 5000; // finished uploads stay listed this long after the last one of a batch
const CONCURRENT_UPLOADS = 2;

/** 1536 → "1.5 KB". */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

// What the server converts into pages (docs/files.md, "Documents"): PDFs, office documents, images.
const PAGED_NAME = /\.(pdf|odt|ods|odp|docx|xlsx|pptx|doc|xls|ppt|png|jpe?g|gif|webp|bmp)$/i;
const PAGED_TYPE = /^(application\/pdf|image\/(png|jpeg|gif|webp|bmp))\b/i;

/**
 * Whether a ready file has pages to show on the whiteboard. The listing does not say (yet): a `pages` count is used
 * when there is one, else the file's type; the node refuses a file without pages with a message anyway.
 */
export function hasPages(f) {
  if (!f || f.status !== 'ready') return false;
  if (typeof f.pages === 'number') return f.pages > 0;
  if (Array.isArray(f.pages)) return f.pages.length > 0;
  return PAGED_NAME.test(f.name || '') || PAGED_TYPE.test(f.content_type || '');
}

/** An Error with the server's {"error": {"code", "message"}} of an XHR's answer, or a fallback. */
function xhrError(xhr) {
  let code = null;
  let message = null;
  try {
    const data = JSON.parse(xhr.responseText);
    code = data?.error?.code || null;
    message = data?.error?.message || null;
  } catch {
    // not JSON
  }
  if (xhr.status === 0) return Object.assign(new Error(t('files.network_error')), { code: 'network', status: 0 });
  return Object.assign(new Error(sentence(message) || t('api.failed', { status: xhr.status })), { code: code || `http_${xhr.status}`, status: xhr.status });
}

/**
 * Starts the upload of one file (multipart, field `file`, `folder` before it when not the top). Returns
 * {promise, abort}: the promise resolves with the file's JSON and rejects with an Error whose `code` is the
 * server's, 'network' or 'cancelled' (after abort()), and whose message is the server's.
 * onProgress(sent, total) follows the upload.
 */
export function startUpload(url, file, folder, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    if (folder != null) form.append('folder', String(folder));
    form.append('file', file, file.name);
    xhr.open('POST', url);
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded, ev.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          resolve(null);
        }
      } else {
        reject(xhrError(xhr));
      }
    });
    const network = () => reject(Object.assign(new Error(t('files.network_error')), { code: 'network', status: 0 }));
    xhr.addEventListener('error', network);
    xhr.addEventListener('timeout', network);
    xhr.addEventListener('abort', () => reject(Object.assign(new Error(t('files.cancelled')), { code: 'cancelled', status: 0 })));
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

/** The thumbnail box of a file row: its thumbnail when it has one (the file icon until it loads, or if it fails). */
function thumbBox(f, cache) {
  const box = h('span', { class: 'files-thumb', 'aria-hidden': 'true' });
  const url = typeof f.thumbnail_url === 'string' && f.thumbnail_url ? f.thumbnail_url : null;
  let c = cache.get(f.id);
  if (c && c.url !== url) c = null;
  if (!c && url) {
    // Kept across re-renders of the list (every 2 s while something converts), so the image is not fetched again.
    const img = h('img', { src: url, alt: '', loading: 'lazy', decoding: 'async', width: 40, height: 40, class: 'files-thumb-img', dataset: { testid: 'file-thumb' } });
    c = { url, img, failed: false };
    img.addEventListener('error', () => {
      c.failed = true;
      img.replaceWith(icon('file', 'icon files-thumb-icon'));
    });
  }
  if (c) cache.set(f.id, c);
  else cache.delete(f.id);
  box.appendChild(c && !c.failed ? c.img : icon('file', 'icon files-thumb-icon'));
  return box;
}

/**
 * @param {object} o
 * @param {string|number} o.roomId
 * @param {() => object|null} o.user  the signed-in account
 * @param {(message: string, level?: string, opts?: object) => void} o.notice
 * @param {{canShow: () => boolean, show: (file: object) => void}} [o.board]  the whiteboard: those who can draw get
 *   "Show on whiteboard" on a converted document
 */
export function createFilesView({ roomId, user, notice, board = null }) {
  const base = `/api/v1/rooms/${encodeURIComponent(roomId)}`;
  let listing = null;
  let folder = null; // the folder shown, null: the top
  let timer = null;
  let soon = null;
  let destroyed = false;
  const thumbs = new Map(); // file id → {url, img, failed}: thumbnails kept across renders

  const count = h('span', { id: 'files-total', class: 'count-pill' }, '0');
  const crumbs = h('nav', { id: 'files-path', class: 'files-path small', 'aria-label': t('files.path') });
  const list = h('ul', { id: 'files-list', class: 'files-list', 'aria-labelledby': 'files-title' });
  const empty = h('p', { id: 'files-empty', class: 'muted small', hidden: true }, t('files.empty'));
  const usage = h('p', { id: 'files-usage', class: 'muted small' });
  const picker = h('input', { type: 'file', id: 'files-input', multiple: true, hidden: true });
  const uploadBtn = h('button', { type: 'button', id: 'files-upload', class: 'btn btn-small btn-primary', hidden: true },
    icon('plus'), ` ${t('files.upload')}`);
  const folderBtn = h('button', { type: 'button', id: 'files-new-folder', class: 'btn btn-small btn-secondary', hidden: true },
    t('files.new_folder'));
  const refreshBtn = h('button', { type: 'button', id: 'files-refresh', class: 'icon-btn', 'aria-label': t('files.refresh') }, icon('refresh'));
  const allowBox = h('input', { type: 'checkbox', id: 'files-allow-upload' });
  const allow = h('label', { class: 'files-allow small', hidden: true }, allowBox, ` ${t('files.allow_upload')}`);
  const queue = h('ul', { id: 'files-queue', class: 'files-queue', 'aria-live': 'polite', 'aria-label': t('files.uploads') });
  const dropHint = h('p', { class: 'files-drop-hint muted small', hidden: true }, t('files.drop_hint'));

  // Folded by default, so that the participants and the chat keep their room; files dragged over it unfold it.
  const toggle = h('button', { type: 'button', id: 'files-toggle', class: 'link-btn files-toggle', 'aria-expanded': 'false', 'aria-controls': 'files-body' },
    icon('file'), ` ${t('files.title')} `, count);
  const body = h('div', { id: 'files-body', class: 'files-body', hidden: true },
    h('div', { class: 'files-actions' }, uploadBtn, folderBtn, picker),
    allow,
    dropHint,
    crumbs,
    list,
    empty,
    usage);
  const panel = h('section', { class: 'panel side-panel files-panel', id: 'files-panel' },
    h('h2', { id: 'files-title' }, toggle, refreshBtn),
    body,
    queue);
  const unfold = (open) => {
    body.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
  };
  toggle.addEventListener('click', () => unfold(body.hidden));

  const me = () => user()?.id ?? null;
  const mayChange = (file) => listing && (listing.may_manage || (file.created_by != null && file.created_by === me()));

  async function json(method, path, body) {
    const res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) throw new Error(data?.error?.message || t('api.failed', { status: res.status }));
    return data;
  }

  async function load() {
    const mark = uploads.mark();
    try {
      listing = await json('GET', `${base}/files`);
    } catch (err) {
      if (!destroyed) usage.textContent = err.message;
      return;
    }
    if (destroyed) return;
    uploads.setLimits({ maxFileBytes: listing.max_file_bytes || 0, quota: listing.quota || 0, used: listing.used || 0 });
    uploads.counted(mark);
    if (folder != null && !listing.folders.some((f) => f.id === folder)) folder = null;
    render();
    // A document being converted: look again soon, until it is ready or failed.
    clearTimeout(soon);
    if (listing.files.some((f) => f.status === 'converting')) soon = setTimeout(load, CONVERTING_REFRESH_MS);
  }

  function folderName(id) {
    return listing?.folders.find((f) => f.id === id)?.name ?? '';
  }

  function renderCrumbs() {
    const path = [];
    let at = folder;
    for (let i = 0; at != null && i < 20; i += 1) {
      const f = listing.folders.find((x) => x.id === at);
      if (!f) break;
      path.unshift(f);
      at = f.parent;
    }
    const go = (id) => () => {
      folder = id;
      render();
    };
    const parts = [h('button', { type: 'button', class: 'link-btn', on: { click: go(null) } }, t('files.top'))];
    for (const f of path) parts.push(' / ', h('button', { type: 'button', class: 'link-btn', on: { click: go(f.id) } }, f.name));
    crumbs.replaceChildren(...parts);
  }

  function render() {
    const manage = !!listing.may_manage;
    uploadBtn.hidden = !listing.may_upload;
    dropHint.hidden = !listing.may_upload;
    folderBtn.hidden = !manage;
    allow.hidden = !manage || listing.files_upload === undefined;
    allowBox.checked = !!listing.files_upload;
    count.textContent = String(listing.files.length);
    renderCrumbs();
    const folders = listing.folders.filter((f) => (f.parent ?? null) === folder);
    const files = listing.files.filter((f) => (f.folder ?? null) === folder);
    const listed = new Set(listing.files.map((f) => f.id));
    for (const id of thumbs.keys()) if (!listed.has(id)) thumbs.delete(id);
    list.replaceChildren(...folders.map(folderRow), ...files.map(fileRow));
    empty.hidden = folders.length + files.length > 0;
    usage.textContent = listing.quota
      ? t('files.usage_quota', { used: formatBytes(listing.used), quota: formatBytes(listing.quota) })
      : t('files.usage', { used: formatBytes(listing.used) });
  }

  function folderRow(f) {
    const open = h('button', { type: 'button', class: 'link-btn files-name', on: { click: () => { folder = f.id; render(); } } },
      `📁 ${f.name}`);
    const actions = listing.may_manage ? [
      h('button', { type: 'button', class: 'btn btn-small btn-secondary', on: { click: () => renameFolder(f) } }, t('files.rename')),
      h('button', { type: 'button', class: 'btn btn-small btn-danger', on: { click: () => deleteFolder(f) } }, t('files.delete')),
    ] : [];
    return h('li', { class: 'files-row files-folder', dataset: { folderId: String(f.id) } },
      open, h('span', { class: 'files-row-actions' }, actions));
  }

  function fileRow(f) {
    const link = h('a', { href: f.url, class: 'files-name', target: '_blank', rel: 'noopener', title: f.content_type },
      thumbBox(f, thumbs), h('span', { class: 'files-label' }, f.name));
    // A converted document or image opens in the page viewer (a modified click still opens the file itself).
    if (hasPages(f)) {
      link.classList.add('files-paged');
      link.addEventListener('click', (ev) => {
        if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
        ev.preventDefault();
        openViewer(f);
      });
    }
    const download = h('a', { href: `${f.url}?download=1`, class: 'btn btn-small btn-secondary', download: f.name }, t('files.download'));
    const actions = [download];
    if (board && board.canShow() && hasPages(f)) {
      actions.unshift(h('button', {
        type: 'button', class: 'btn btn-small btn-primary files-show', dataset: { action: 'show-on-board' },
        'aria-label': t('board.show_document_of', { name: f.name }), on: { click: () => board.show(f) },
      }, t('board.show_document')));
    }
    if (mayChange(f)) {
      actions.push(
        h('button', { type: 'button', class: 'btn btn-small btn-secondary', on: { click: () => renameFile(f) } }, t('files.rename')),
        h('button', { type: 'button', class: 'btn btn-small btn-secondary', on: { click: () => moveFile(f) } }, t('files.move')),
        h('button', { type: 'button', class: 'btn btn-small btn-danger', on: { click: () => deleteFile(f) } }, t('files.delete')));
    }
    // A document is converted into pages after its upload (docs/files.md, "Documents").
    let state = null;
    if (f.status === 'converting') {
      state = h('span', { class: 'files-status muted small', dataset: { status: 'converting' } }, t('files.converting'));
    } else if (f.status === 'failed') {
      state = h('span', { class: 'files-status small', dataset: { status: 'failed' }, title: f.error || '' },
        t('files.conversion_failed'));
    }
    return h('li', { class: 'files-row', dataset: { fileId: String(f.id), status: f.status || 'ready' } },
      link, h('span', { class: 'files-size muted small' }, formatBytes(f.size)), state,
      h('span', { class: 'files-row-actions' }, actions));
  }

  async function askName(title, value) {
    let input = null;
    return formDialog({
      id: 'files-name-dialog',
      title,
      build: (body) => {
        input = h('input', { type: 'text', name: 'name', required: true, maxlength: 255, value, autocomplete: 'off' });
        body.appendChild(field(t('files.name'), input));
      },
      onSubmit: async () => input.value.trim(),
    });
  }

  async function act(fn) {
    try {
      await fn();
    } catch (err) {
      notice(err.message, 'error');
    }
    await load();
  }

  async function renameFile(f) {
    const name = await askName(t('files.rename_title'), f.name);
    if (name && name !== f.name) await act(() => json('PUT', `/api/v1/files/${f.id}`, { name }));
  }

  async function moveFile(f) {
    let select = null;
    const target = await formDialog({
      id: 'files-move-dialog',
      title: t('files.move_title', { name: f.name }),
      build: (body) => {
        select = h('select', { name: 'folder' },
          h('option', { value: '' }, t('files.top')),
          listing.folders.map((d) => h('option', { value: String(d.id), selected: d.id === f.folder }, d.name)));
        body.appendChild(field(t('files.folder'), select));
      },
      onSubmit: async () => ({ folder: select.value === '' ? null : Number(select.value) }),
    });
    if (target) await act(() => json('PUT', `/api/v1/files/${f.id}`, target));
  }

  async function deleteFile(f) {
    if (await confirmDialog({ title: t('files.delete_title'), message: t('files.delete_text', { name: f.name }), confirmLabel: t('files.delete') })) {
      await act(() => json('DELETE', `/api/v1/files/${f.id}`));
    }
  }

  async function renameFolder(f) {
    const name = await askName(t('files.rename_title'), f.name);
    if (name && name !== f.name) await act(() => json('PUT', `/api/v1/folders/${f.id}`, { name }));
  }

  async function deleteFolder(f) {
    if (await confirmDialog({ title: t('files.delete_title'), message: t('files.delete_folder_text', { name: f.name }), confirmLabel: t('files.delete') })) {
      await act(() => json('DELETE', `/api/v1/folders/${f.id}`));
    }
  }

  async function newFolder() {
    const name = await askName(t('files.new_folder'), '');
    if (name) await act(() => json('POST', `${base}/folders`, { name, parent: folder }));
  }

  function openViewer(f) {
    openPageViewer({
      file: f,
      pagesUrl: `${base}/files/${encodeURIComponent(f.id)}/pages`,
      canShow: board ? () => board.canShow() : null,
      show: board ? (file) => board.show(file) : null,
      // The list may have been drawn again meanwhile: the same file's row.
      returnFocus: () => list.querySelector(`li[data-file-id="${CSS.escape(String(f.id))}"] a.files-name`),
    });
  }

  // --- uploads: one queue entry and one request per file, at most two at once (js/upload-queue.js) ---
  const rows = new Map(); // entry id → {item, bar, state, buttons, drawn}
  let linger = null;
  const uploads = new UploadQueue({
    concurrency: CONCURRENT_UPLOADS,
    send: (entry, progress) => startUpload(`${base}/files`, entry.file, entry.folder, progress),
    onChange: drawEntry,
    onDone: () => {
      load();
    },
  });

  function enqueue(fileList) {
    const files = Array.from(fileList || []);
    if (!files.length || !listing?.may_upload || destroyed) return;
    uploads.add(files, folder);
  }

  /** The words of an entry's state. */
  function entryText(e) {
    switch (e.state) {
      case 'waiting': return t('files.waiting');
      case 'uploading': return t('files.upload_progress', { percent: e.percent, size: formatBytes(e.size) });
      case 'done': return t('files.done');
      case 'cancelled': return t('files.upload_cancelled');
      default: break;
    }
    const err = e.error || {};
    if (err.code === 'too_large') return t('files.too_large', { name: e.name, max: formatBytes(uploads.limits.maxFileBytes) });
    if (err.code === 'quota') {
      const free = Math.max(0, (uploads.limits.quota || 0) - (uploads.limits.used || 0) - uploads.reserved(e));
      return t('files.over_quota', { name: e.name, free: formatBytes(free) });
    }
    if (err.code === 'network') return t('files.network_error');
    return err.message || t('api.failed', { status: err.status || 0 });
  }

  function entryButtons(e) {
    const out = [];
    if (uploads.canCancel(e)) {
      out.push(h('button', {
        type: 'button', class: 'btn btn-small btn-secondary', dataset: { testid: 'upload-cancel' },
        'aria-label': t('files.cancel_of', { name: e.name }), on: { click: () => uploads.cancel(e.id) },
      }, t('files.cancel_upload')));
    }
    if (uploads.canRetry(e)) {
      out.push(h('button', {
        type: 'button', class: 'btn btn-small btn-primary', dataset: { testid: 'upload-retry' },
        'aria-label': t('files.retry_of', { name: e.name }), on: { click: () => uploads.retry(e.id) },
      }, t('files.retry')));
    }
    if (e.state === 'failed' || e.state === 'cancelled') {
      out.push(h('button', {
        type: 'button', class: 'icon-btn', dataset: { testid: 'upload-dismiss' }, 'aria-label': t('common.dismiss'),
        on: { click: () => uploads.remove(e.id) },
      }, icon('close')));
    }
    return out;
  }

  /** Draws one entry of the queue, in place (progress events come many times a second). */
  function drawEntry(e) {
    let r = rows.get(e.id);
    if (e.removed) {
      if (r?.item.contains(document.activeElement)) (uploadBtn.hidden ? toggle : uploadBtn).focus();
      r?.item.remove();
      rows.delete(e.id);
      return;
    }
    if (!r) {
      const bar = h('progress', { max: 100, value: 0, class: 'files-progress', 'aria-label': t('files.uploading', { name: e.name }) });
      const state = h('span', { class: 'files-state small' });
      const buttons = h('span', { class: 'files-row-actions' });
      const item = h('li', { class: 'files-upload', dataset: { testid: 'upload-entry', name: e.name, uploadId: String(e.id) } },
        h('span', { class: 'files-name' }, e.name), bar, state, buttons);
      r = { item, bar, state, buttons, drawn: null };
      rows.set(e.id, r);
    }
    // Retried entries go to the end of the line: keep the list in the queue's order.
    const at = uploads.entries.indexOf(e);
    const after = at > 0 ? rows.get(uploads.entries[at - 1].id)?.item : null;
    if (after ? after.nextSibling !== r.item : queue.firstChild !== r.item) {
      if (after) after.after(r.item);
      else queue.prepend(r.item);
    }
    r.item.dataset.state = e.state;
    r.item.classList.toggle('files-upload-done', e.state === 'done');
    r.item.classList.toggle('files-upload-failed', e.state === 'failed' || e.state === 'cancelled');
    r.bar.value = e.state === 'done' ? 100 : e.percent;
    r.bar.hidden = e.state === 'failed' || e.state === 'cancelled';
    r.state.textContent = entryText(e);
    r.state.classList.toggle('muted', e.state !== 'failed');
    if (e.state === 'failed') r.state.setAttribute('role', 'alert');
    else r.state.removeAttribute('role');
    if (r.drawn !== e.state) {
      // Buttons only when the state changes: a click in progress is not lost to a progress event.
      r.drawn = e.state;
      const hadFocus = r.buttons.contains(document.activeElement);
      r.buttons.replaceChildren(...entryButtons(e));
      if (hadFocus) (r.buttons.querySelector('button') || uploadBtn).focus();
    }
    // Finished uploads go a while after the last of the batch; failed ones stay until dismissed or retried.
    clearTimeout(linger);
    linger = uploads.idle && uploads.entries.some((x) => x.state === 'done') ? setTimeout(() => uploads.clearDone(), DONE_LINGER_MS) : null;
  }

  uploadBtn.addEventListener('click', () => picker.click());
  picker.addEventListener('change', () => {
    enqueue(picker.files);
    picker.value = '';
  });
  folderBtn.addEventListener('click', newFolder);
  refreshBtn.addEventListener('click', load);
  allowBox.addEventListener('change', () => act(() => json('PUT', `${base}/files/settings`, { files_upload: allowBox.checked })));
  const dragging = (ev) => {
    if (!listing?.may_upload || !ev.dataTransfer || !Array.from(ev.dataTransfer.types || []).includes('Files')) return;
    ev.preventDefault();
    unfold(true);
    panel.classList.add('files-dragover');
  };
  panel.addEventListener('dragenter', dragging);
  panel.addEventListener('dragover', dragging);
  panel.addEventListener('dragleave', (ev) => {
    if (!panel.contains(ev.relatedTarget)) panel.classList.remove('files-dragover');
  });
  panel.addEventListener('drop', (ev) => {
    panel.classList.remove('files-dragover');
    if (!listing?.may_upload || !ev.dataTransfer?.files?.length) return;
    ev.preventDefault();
    enqueue(ev.dataTransfer.files);
  });

  load();
  timer = setInterval(() => {
    if (!document.hidden) load();
  }, REFRESH_MS);

  return {
    panel,
    refresh: load,
    /** Draws the listing again (what the caller may do changed, e.g. the right to draw). */
    rerender: () => {
      if (listing && !destroyed) render();
    },
    folderName,
    destroy() {
      destroyed = true;
      clearInterval(timer);
      clearTimeout(soon);
      uploads.close();
      clearTimeout(linger);
    },
  };
}
