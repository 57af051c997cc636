// The room's Files panel (#files-panel; docs/files.md): the room's files and folders, upload by the button or by
// drag and drop (several at once, one request each, with a progress bar from XMLHttpRequest's upload events),
// folders, rename, move, delete, download. What the caller may do comes from the listing (may_upload, may_manage).
import { h, icon } from '../dom.js';
import { confirmDialog, formDialog, field } from '../ui.js';
import { t } from '../i18n.js';

const REFRESH_MS = 30000;
const CONVERTING_REFRESH_MS = 2000;

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

/** The server's error message from an XHR's answer, or a fallback. */
function xhrError(xhr) {
  try {
    const data = JSON.parse(xhr.responseText);
    if (data && data.error && data.error.message) return data.error.message;
  } catch {
    // not JSON
  }
  if (xhr.status === 0) return t('api.network');
  return t('api.failed', { status: xhr.status });
}

/**
 * Uploads one file; resolves with the file's JSON, rejects with an Error whose message is the server's.
 * onProgress(sent, total) follows the upload.
 */
export function uploadFile(url, file, folder, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    if (folder != null) form.append('folder', String(folder));
    form.append('file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded, ev.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 201) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          resolve(null);
        }
      } else {
        reject(new Error(xhrError(xhr)));
      }
    });
    xhr.addEventListener('error', () => reject(new Error(t('api.network'))));
    xhr.addEventListener('abort', () => reject(new Error(t('files.cancelled'))));
    xhr.send(form);
  });
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
    try {
      listing = await json('GET', `${base}/files`);
    } catch (err) {
      if (!destroyed) usage.textContent = err.message;
      return;
    }
    if (destroyed) return;
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
    const link = h('a', { href: f.url, class: 'files-name', target: '_blank', rel: 'noopener', title: f.content_type }, f.name);
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

  // --- uploads: one request per file, in turn ---
  let uploading = Promise.resolve();

  function enqueue(fileList) {
    const files = Array.from(fileList || []);
    if (!files.length || !listing?.may_upload) return;
    const into = folder;
    for (const file of files) {
      const bar = h('progress', { max: 100, value: 0, class: 'files-progress', 'aria-label': t('files.uploading', { name: file.name }) });
      const state = h('span', { class: 'files-state small muted' }, t('files.waiting'));
      const item = h('li', { class: 'files-upload', dataset: { name: file.name } }, h('span', { class: 'files-name' }, file.name), bar, state);
      queue.appendChild(item);
      uploading = uploading.then(async () => {
        if (destroyed) return;
        if (listing.max_file_bytes && file.size > listing.max_file_bytes) {
          fail(item, state, t('files.too_large', { name: file.name, max: formatBytes(listing.max_file_bytes) }));
          return;
        }
        state.textContent = t('files.sending');
        try {
          await uploadFile(`${base}/files`, file, into, (sent, total) => {
            bar.value = total ? Math.round((sent / total) * 100) : 0;
            state.textContent = `${formatBytes(sent)} / ${formatBytes(total)}`;
          });
          bar.value = 100;
          state.textContent = t('files.done');
          item.classList.add('files-upload-done');
          setTimeout(() => item.remove(), 3000);
          await load();
        } catch (err) {
          fail(item, state, err.message);
        }
      });
    }
  }

  function fail(item, state, message) {
    item.classList.add('files-upload-failed');
    state.textContent = message;
    state.setAttribute('role', 'alert');
    item.appendChild(h('button', { type: 'button', class: 'icon-btn', 'aria-label': t('common.dismiss'), on: { click: () => item.remove() } }, icon('close')));
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
    },
  };
}
