// The room's Recordings panel (#recordings-panel, issue 11): the room's recordings, newest first, with their
// thumbnail, name, date, duration, size and status (a spinner while stopping or processing; a failed one says why
// and offers Retry to those who may manage it), Play (the player: a modal <dialog> with <video controls>, seeking
// through the server's range requests), Download (?download=1), Rename and Delete for `may_manage`. Folded by default
// with a count; reloaded when a `recording` frame arrives (room.js calls refresh()) and every few seconds while a
// recording is being stopped or processed. The words and the choice of actions are js/recording.js.
//
// Hooks: [data-testid="recordings-panel"] › li[data-testid="recording-row"][data-recording-id][data-status] with
// [data-testid="recording-play"], [data-testid="recording-download"], [data-testid="recording-rename"],
// [data-testid="recording-delete"], [data-testid="recording-retry"]; dialog[data-testid="recording-player"] ›
// video[data-testid="recording-video"], [data-testid="recording-player-close"].
import { h, icon } from '../dom.js';
import { api } from '../api.js';
import { confirmDialog, formDialog, field } from '../ui.js';
import { t } from '../i18n.js';
import {
  sortRecordings, rowView, needsPolling, statusChanges, changeMessage, recordingTitle, downloadName,
} from '../recording.js';
import { recordingDot } from './room-recording.js';

const REFRESH_MS = 30000;
const BUSY_REFRESH_MS = 3000;
const MAX_NAME = 255;

/**
 * Opens the player of a ready recording.
 * @param {object} rec  a recording with media_url
 * @param {{returnFocus?: () => Element|null}} [opts]  where the focus goes when what opened the player is gone
 * @returns {{dialog: HTMLDialogElement, video: HTMLVideoElement, close: () => void}}
 */
export function openRecordingPlayer(rec, { returnFocus = null } = {}) {
  const opener = document.activeElement;
  const view = rowView(rec);
  const title = recordingTitle(rec);
  const titleId = `recording-player-title-${rec.id}`;
  let closed = false;

  const video = h('video', {
    class: 'recording-video', controls: true, preload: 'metadata', playsinline: true, src: rec.media_url,
    poster: typeof rec.thumbnail_url === 'string' && rec.thumbnail_url ? rec.thumbnail_url : null,
    'aria-label': t('recording.video_label', { name: title }), dataset: { testid: 'recording-video' },
  });
  const problem = h('p', { class: 'recording-player-problem alert alert-error', role: 'alert', hidden: true });
  const closeBtn = h('button', {
    type: 'button', class: 'icon-btn', 'aria-label': t('common.close'), title: t('common.close'), dataset: { testid: 'recording-player-close' },
  }, icon('close'));
  const download = view.download ? h('a', {
    href: view.download, download: downloadName(rec), class: 'btn btn-secondary btn-small', dataset: { testid: 'recording-player-download' },
  }, t('recording.download')) : null;
  const dialog = h('dialog', {
    class: 'dialog recording-player', 'aria-labelledby': titleId, dataset: { testid: 'recording-player', recordingId: String(rec.id) },
  },
  h('header', { class: 'recording-player-header' },
    h('h2', { id: titleId, class: 'recording-player-title' }, title), closeBtn),
  h('div', { class: 'recording-player-stage' }, video),
  problem,
  h('footer', { class: 'recording-player-footer' },
    h('span', { class: 'muted small recording-player-meta' }, view.meta.join(' · ')), download));

  video.addEventListener('error', () => {
    if (closed) return;
    problem.textContent = t('recording.play_failed');
    problem.hidden = false;
  });
  closeBtn.addEventListener('click', () => close());
  dialog.addEventListener('close', () => finish());
  dialog.addEventListener('click', (ev) => {
    if (ev.target !== dialog) return;
    const r = dialog.getBoundingClientRect();
    if (ev.clientX < r.left || ev.clientX > r.right || ev.clientY < r.top || ev.clientY > r.bottom) close();
  });

  function finish() {
    if (closed) return;
    closed = true;
    // Stop the download of the media as well as the sound.
    video.pause();
    video.removeAttribute('src');
    video.load?.();
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
  video.focus({ preventScroll: true });
  return { dialog, video, close };
}

/** The thumbnail box of a row: the recording's thumbnail, else (or when it fails) a video icon. */
function thumbBox(rec, cache) {
  const box = h('span', { class: 'recordings-thumb', 'aria-hidden': 'true' });
  const url = typeof rec.thumbnail_url === 'string' && rec.thumbnail_url ? rec.thumbnail_url : null;
  let c = cache.get(String(rec.id));
  if (c && c.url !== url) c = null;
  if (!c && url) {
    // Kept across reloads of the list (every few seconds while one is processed): not fetched again.
    const img = h('img', { src: url, alt: '', loading: 'lazy', decoding: 'async', width: 64, height: 36, class: 'recordings-thumb-img', dataset: { testid: 'recording-thumb' } });
    c = { url, img, failed: false };
    img.addEventListener('error', () => {
      c.failed = true;
      img.replaceWith(icon('video', 'icon recordings-thumb-icon'));
    });
  }
  if (c) cache.set(String(rec.id), c);
  else cache.delete(String(rec.id));
  box.appendChild(c && !c.failed ? c.img : icon('video', 'icon recordings-thumb-icon'));
  return box;
}

/**
 * @param {object} o
 * @param {string|number} o.roomId
 * @param {(message: string, level?: string, opts?: object) => void} o.notice
 */
export function createRecordingsView({ roomId, notice }) {
  let recordings = null; // the last listing, newest first; null before the first answer
  let destroyed = false;
  let seq = 0; // drops answers overtaken by a newer request
  let soon = null;
  const thumbs = new Map(); // id → {url, img, failed}
  const rows = new Map(); // id → {item, sig}

  const count = h('span', { id: 'recordings-total', class: 'count-pill' }, '0');
  const toggle = h('button', {
    type: 'button', id: 'recordings-toggle', class: 'link-btn files-toggle', 'aria-expanded': 'false', 'aria-controls': 'recordings-body',
  }, icon('video'), ` ${t('recordings.title')} `, count);
  const refreshBtn = h('button', { type: 'button', id: 'recordings-refresh', class: 'icon-btn', 'aria-label': t('recordings.refresh'), title: t('recordings.refresh') }, icon('refresh'));
  const list = h('ul', { id: 'recordings-list', class: 'recordings-list', 'aria-labelledby': 'recordings-title' });
  const empty = h('p', { id: 'recordings-empty', class: 'muted small', hidden: true }, t('recordings.empty'));
  const problem = h('p', { id: 'recordings-error', class: 'small recordings-error', role: 'status', hidden: true });
  const body = h('div', { id: 'recordings-body', class: 'recordings-body', hidden: true }, problem, list, empty);
  // Hidden until the first listing: a room (or a server) without recordings for us shows nothing.
  const panel = h('section', { class: 'panel side-panel recordings-panel', id: 'recordings-panel', hidden: true, dataset: { testid: 'recordings-panel' } },
    h('h2', { id: 'recordings-title' }, toggle, refreshBtn),
    body);

  const unfold = (open) => {
    body.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (open) load();
  };
  toggle.addEventListener('click', () => unfold(body.hidden));
  refreshBtn.addEventListener('click', () => load());

  async function load() {
    if (destroyed) return;
    const mine = ++seq;
    clearTimeout(soon);
    soon = null;
    let data;
    try {
      data = await api.recordings(roomId, { quiet401: true });
    } catch (err) {
      if (destroyed || mine !== seq) return;
      if (err.status === 403 || err.status === 404 || err.status === 401) {
        // Not for us (or not on this server): no panel.
        panel.hidden = true;
        recordings = null;
      } else {
        problem.textContent = err.message;
        problem.hidden = false;
        schedule(true);
      }
      return;
    }
    if (destroyed || mine !== seq) return;
    const next = sortRecordings(data);
    const before = recordings;
    recordings = next;
    problem.hidden = true;
    render();
    if (before) {
      for (const change of statusChanges(before, next)) {
        const rec = next.find((r) => String(r.id) === String(change.id));
        const text = changeMessage(change);
        if (text && rec?.may_manage) notice(text, change.to === 'failed' ? 'error' : 'success', { key: `recording-${change.id}`, ms: 8000 });
      }
    }
    schedule(false);
  }

  function schedule(failed) {
    clearTimeout(soon);
    const busy = failed || needsPolling(recordings);
    soon = setTimeout(() => {
      if (!document.hidden || busy) load();
      else schedule(false);
    }, busy ? BUSY_REFRESH_MS : REFRESH_MS);
  }

  function render() {
    panel.hidden = false;
    count.textContent = String(recordings.length);
    empty.hidden = recordings.length > 0;
    const listed = new Set(recordings.map((r) => String(r.id)));
    for (const id of [...thumbs.keys()]) if (!listed.has(id)) thumbs.delete(id);
    for (const id of [...rows.keys()]) if (!listed.has(id)) rows.delete(id);
    // Rows are drawn again only when what they show changed: a click or the focus is not lost to a reload.
    const items = recordings.map((rec) => {
      const key = String(rec.id);
      const view = rowView(rec);
      const sig = JSON.stringify([recordingTitle(rec), rec.thumbnail_url, view]);
      const old = rows.get(key);
      if (old && old.sig === sig) return old.item;
      const item = row(rec, view);
      // Keep the focus on the same action of the new row.
      const focused = old?.item.contains(document.activeElement) ? document.activeElement.dataset?.testid : null;
      rows.set(key, { item, sig, focused });
      return item;
    });
    list.replaceChildren(...items);
    for (const [, r] of rows) {
      if (r.focused) {
        (r.item.querySelector(`[data-testid="${r.focused}"]`) || r.item.querySelector('button, a') || toggle).focus({ preventScroll: true });
        r.focused = null;
      }
    }
  }

  function row(rec, view) {
    const title = recordingTitle(rec);
    const status = view.statusText || view.error ? h('span', { class: 'recordings-status small', dataset: { status: view.status } },
      view.status === 'recording' ? recordingDot() : null,
      view.busy ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : null,
      view.statusText) : null;
    const error = view.error ? h('span', { class: 'recordings-error small' }, view.error) : null;
    const actions = [];
    if (view.play) {
      actions.push(h('button', {
        type: 'button', class: 'btn btn-small btn-primary', dataset: { testid: 'recording-play' },
        'aria-label': t('recording.play_of', { name: title }), on: { click: () => play(rec) },
      }, t('recording.play')));
    }
    if (view.download) {
      actions.push(h('a', {
        href: view.download, download: downloadName(rec), class: 'btn btn-small btn-secondary', dataset: { testid: 'recording-download' },
        'aria-label': t('recording.download_of', { name: title }),
      }, t('recording.download')));
    }
    if (view.retry) {
      actions.push(h('button', {
        type: 'button', class: 'btn btn-small btn-primary', dataset: { testid: 'recording-retry' },
        'aria-label': t('recording.retry_of', { name: title }), on: { click: () => retry(rec) },
      }, t('recording.retry')));
    }
    if (view.rename) {
      actions.push(h('button', {
        type: 'button', class: 'btn btn-small btn-secondary', dataset: { testid: 'recording-rename' },
        'aria-label': t('recording.rename_of', { name: title }), on: { click: () => rename(rec) },
      }, t('recording.rename')));
    }
    if (view.remove) {
      actions.push(h('button', {
        type: 'button', class: 'btn btn-small btn-danger', dataset: { testid: 'recording-delete' },
        'aria-label': t('recording.delete_of', { name: title }), on: { click: () => remove(rec) },
      }, t('recording.delete')));
    }
    return h('li', {
      class: ['recordings-row', `recordings-${view.status}`],
      dataset: { testid: 'recording-row', recordingId: String(rec.id), status: view.status },
    },
    thumbBox(rec, thumbs),
    h('div', { class: 'recordings-main' },
      h('span', { class: 'recordings-name' }, title),
      view.meta.length ? h('span', { class: 'recordings-meta muted small' }, view.meta.join(' · ')) : null,
      status,
      error),
    actions.length ? h('div', { class: 'recordings-actions' }, actions) : null);
  }

  const rowOf = (id) => list.querySelector(`li[data-recording-id="${CSS.escape(String(id))}"]`);

  function play(rec) {
    openRecordingPlayer(rec, {
      returnFocus: () => rowOf(rec.id)?.querySelector('[data-testid="recording-play"]') || toggle,
    });
  }

  async function act(fn) {
    try {
      await fn();
    } catch (err) {
      notice(err.message, 'error', { key: 'recording-error' });
    }
    await load();
  }

  function retry(rec) {
    return act(() => api.retryRecording(rec.id));
  }

  async function rename(rec) {
    let input = null;
    const done = await formDialog({
      id: 'recording-rename-dialog',
      title: t('recording.rename_title'),
      build: (b) => {
        input = h('input', {
          type: 'text', name: 'name', required: true, maxlength: MAX_NAME, value: rec.name || '', autocomplete: 'off',
          dataset: { testid: 'recording-rename-input' },
        });
        b.appendChild(field(t('recording.name'), input));
      },
      // Errors stay in the dialog (the server's message).
      onSubmit: async () => {
        const name = input.value.trim();
        if (!name) throw new Error(t('recording.name_required'));
        if (name !== rec.name) await api.renameRecording(rec.id, name);
        return true;
      },
    });
    if (done) await load();
  }

  async function remove(rec) {
    const ok = await confirmDialog({
      title: t('recording.delete_title'),
      message: t('recording.delete_text', { name: recordingTitle(rec) }),
      confirmLabel: t('recording.delete'),
    });
    if (ok) await act(() => api.deleteRecording(rec.id));
  }

  load();

  return {
    panel,
    /** Loads the list again (a `recording` frame arrived). */
    refresh: () => load(),
    get recordings() {
      return recordings;
    },
    destroy() {
      destroyed = true;
      clearTimeout(soon);
    },
  };
}
