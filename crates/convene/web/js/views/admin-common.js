// Pieces shared by the administration pages.
import { h, mount, every } from '../dom.js';
import { alertBox } from '../ui.js';
import { t } from '../i18n.js';

/**
 * A table that loads its rows and, when refreshMs is set, reloads them periodically.
 * Rows are tr[data-<key>="<id>"]; focus on a row's button survives a reload.
 *
 * @param {object} o
 * @param {string} o.id             table id
 * @param {string} o.caption
 * @param {{label: string, cls?: string, cell: (row: object) => any}[]} o.columns
 * @param {(row: object) => string} o.key           row id
 * @param {string} o.keyAttr                        data attribute name for the id (camelCase), e.g. 'userId'
 * @param {(row: object) => object} [o.rowData]     more data attributes
 * @param {() => Promise<object[]>} o.load
 * @param {number} [o.refreshMs]
 * @param {string} o.emptyText
 * @param {(row: object, q: string) => boolean} [o.matches]  filter; q is lower case
 * @param {(rows: object[]) => void} [o.onData]
 * @param {(row: object) => string} [o.sig]  what makes a row change (default: all of it); a row whose
 *        signature is unchanged keeps its element, and o.patch(tr, row) may update its volatile parts
 * @param {(tr: HTMLTableRowElement, row: object) => void} [o.patch]
 */
export function liveTable(o) {
  const tbody = h('tbody');
  const status = h('div', { class: 'list-status', id: `${o.id}-status`, role: 'status' });
  const table = h('table', { id: o.id, class: 'data-table', 'aria-busy': 'true' },
    h('caption', { class: 'sr-only' }, o.caption),
    h('thead', {}, h('tr', {}, o.columns.map((c) => h('th', {
      scope: 'col', class: (c.cls || '').split(' ').filter((x) => x && x !== 'mono').join(' ') || null,
    }, c.label)))),
    tbody);
  const wrap = h('div', { class: 'table-wrap' }, table);
  const el = h('div', { class: 'live-table' }, status, wrap);
  let rows = [];
  let query = '';
  let loaded = false;

  const cache = new Map(); // key → {sig, tr}

  function buildRow(r) {
    return h('tr', { dataset: { [o.keyAttr]: String(o.key(r)), ...(o.rowData ? o.rowData(r) : {}) } },
      o.columns.map((c) => h('td', { class: c.cls || null, 'data-label': c.label }, c.cell(r))));
  }

  // Rows whose data did not change keep their element, so focus and clicks in progress survive a reload.
  function draw() {
    const shown = query && o.matches ? rows.filter((r) => o.matches(r, query)) : rows;
    if (shown.length === 0) {
      cache.clear();
      tbody.replaceChildren(h('tr', { class: 'empty-row' },
        h('td', { colspan: o.columns.length }, loaded ? (rows.length ? t('table.no_match') : o.emptyText) : t('shell.loading'))));
      return;
    }
    tbody.querySelector('tr.empty-row')?.remove();
    const active = document.activeElement;
    const keep = new Set();
    let prev = null;
    for (const r of shown) {
      const key = String(o.key(r));
      const sig = o.sig ? o.sig(r) : JSON.stringify(r);
      let entry = cache.get(key);
      if (entry && entry.sig === sig && o.patch) o.patch(entry.tr, r);
      if (!entry || entry.sig !== sig) {
        const tr = buildRow(r);
        if (entry) {
          const hadFocus = entry.tr.contains(active);
          const cls = hadFocus ? [...active.classList].find((c) => !c.startsWith('btn')) : null;
          entry.tr.replaceWith(tr);
          if (hadFocus) (cls && tr.querySelector(`.${CSS.escape(cls)}`))?.focus();
        }
        entry = { sig, tr };
        cache.set(key, entry);
      }
      keep.add(key);
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== entry.tr) tbody.insertBefore(entry.tr, want);
      prev = entry.tr;
    }
    for (const [key, entry] of cache) {
      if (!keep.has(key)) {
        entry.tr.remove();
        cache.delete(key);
      }
    }
  }

  let failing = false;
  async function reload() {
    try {
      const data = await o.load();
      rows = Array.isArray(data) ? data : [];
      loaded = true;
      table.setAttribute('aria-busy', 'false');
      if (o.onData) o.onData(rows);
      draw();
      if (failing) mount(status);
      failing = false;
    } catch (err) {
      if (err.status === 401) return;
      failing = true;
      mount(status, alertBox(loaded ? t('table.refresh_failed', { message: err.message }) : err.message, loaded ? 'warn' : 'error'));
      if (!loaded) draw();
    }
  }

  /** Redraws every row (when something outside the rows, e.g. user names, changed). */
  function rerender() {
    cache.clear();
    tbody.replaceChildren();
    draw();
  }

  function setFilter(q) {
    query = q.trim().toLowerCase();
    draw();
  }

  draw();
  const stop = o.refreshMs ? every(o.refreshMs, reload) : (reload(), () => {});
  return { el, reload, setFilter, rerender, redraw: draw, stop, get rows() { return rows; } };
}

/** A search box wired to a liveTable's filter. */
export function filterBox(id, label, table) {
  const input = h('input', { id, type: 'search', placeholder: label, 'aria-label': label, autocomplete: 'off' });
  input.addEventListener('input', () => table.setFilter(input.value));
  return input;
}

/** A group of small buttons for a table row. */
export function rowActions(...buttons) {
  return h('div', { class: 'row-actions' }, buttons);
}

/** A small button. */
export function smallButton(label, cls, onClick, attrs = {}) {
  return h('button', { type: 'button', class: ['btn', 'btn-small', ...cls.split(' ')], on: { click: onClick }, ...attrs }, label);
}

/** The status badge of a server: span.server-status[data-status]. */
export function statusBadge(status) {
  const labels = { up: () => t('status.up'), down: () => t('status.down'), inactive: () => t('status.inactive'), draining: () => t('status.draining') };
  return h('span', { class: ['badge', 'status-badge', 'server-status', `status-${status}`], dataset: { status: status || '' } },
    labels[status] ? labels[status]() : status || '—');
}
