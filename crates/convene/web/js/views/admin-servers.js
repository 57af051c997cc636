// Administration → Servers: the nodes of the cluster, like the seed's Servers page.
//   #servers-table tr[data-server-id][data-status][data-active][data-storage][data-this-node]
//     › .server-status, button[data-action=edit|activate|deactivate|drain]
//   #add-server → dialog form #server-form; drain → dialog #confirm with #drain-deadline.
// Refreshes every 2 s; the heartbeat age and the drain countdown update in place.
import { api } from '../api.js';
import { h, mount, formatDuration } from '../dom.js';
import { formDialog, confirmDialog, field, pageHeader, toast } from '../ui.js';
import { liveTable, rowActions, smallButton, statusBadge } from './admin-common.js';
import { t } from '../i18n.js';

const REFRESH_MS = 2000;
const ALIVE_MS = 5000; // a node whose heartbeat is older is not running (docs/cluster.md)
const DEFAULT_DRAIN_SECONDS = 30;
const MAX_DRAIN_SECONDS = 3600;
const DEFAULT_PORT = 5080;

const running = (s) => s.heartbeat_age_ms != null && Number(s.heartbeat_age_ms) < ALIVE_MS;
const serverName = (s) => s.name || t('servers.server_n', { id: s.id });

/** 'ok', 'unknown' (not checked yet) or 'problem'. */
function storageState(s) {
  const v = String(s.storage ?? '').trim();
  if (!v) return 'unknown';
  return v.toLowerCase() === 'ok' ? 'ok' : 'problem';
}

/** "not the shared storage" → "Not the shared storage." */
function sentence(text) {
  const x = String(text || '').trim();
  if (!x) return '';
  const s = x.charAt(0).toUpperCase() + x.slice(1);
  return /[.!?…)]$/.test(s) ? s : `${s}.`;
}

/** The URL the server derives from the parts (same rule as the server: default ports are left out). */
export function urlFromParts(protocol, address, port, basePath) {
  const p = Number(port);
  const isDefault = (protocol === 'http' && p === 80) || (protocol === 'https' && p === 443);
  const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  const path = basePath.trim().replace(/^\/+|\/+$/g, '');
  return `${protocol}://${host || '…'}${isDefault || !p ? '' : `:${p}`}${path ? `/${path}` : ''}`;
}

function heartbeatText(s) {
  if (s.heartbeat_age_ms == null) return t('servers.not_running');
  return formatDuration(s.heartbeat_age_ms);
}

function drainText(s) {
  if (s.drain_remaining_ms == null) return '';
  const ms = Number(s.drain_remaining_ms);
  return ms > 0 ? t('servers.moves_in', { seconds: Math.ceil(ms / 1000) }) : t('servers.moving');
}

/** Element.append, skipping the null of a condition that did not hold (append would write "null"). */
const append = (el, ...children) => el.append(...children.filter((c) => c != null && c !== false));

function stat(id, label) {
  const value = h('span', { class: 'stat-value', id }, '—');
  return { el: h('div', { class: 'stat panel' }, value, h('span', { class: 'stat-label' }, label)), value };
}

export function renderAdminServers(container) {
  const up = stat('stat-servers-up', t('servers.stat_up'));
  const rooms = stat('stat-rooms', t('servers.stat_rooms'));
  const people = stat('stat-participants', t('servers.stat_participants'));
  const warning = h('div', { id: 'servers-warning' });
  const storageWarning = h('div', { id: 'servers-storage-warning' });
  const busy = new Set(); // "id:action" while a request is under way

  const table = liveTable({
    id: 'servers-table',
    caption: t('servers.caption'),
    keyAttr: 'serverId',
    key: (s) => s.id,
    rowData: (s) => ({
      status: s.status || '',
      active: String(!!s.active),
      storage: storageState(s),
      thisNode: String(!!s.this_node),
    }),
    load: () => api.servers(),
    refreshMs: REFRESH_MS,
    emptyText: t('servers.empty'),
    // The heartbeat age and the drain countdown change on every refresh: update them in place, so
    // that rows (and a click in progress on their buttons) are only rebuilt when something else changes.
    sig: (s) => JSON.stringify([
      { ...s, heartbeat_age_ms: undefined, drain_remaining_ms: undefined },
      s.heartbeat_age_ms == null, Number(s.heartbeat_age_ms) >= ALIVE_MS, s.drain_remaining_ms == null,
      [...busy].filter((b) => b.startsWith(`${s.id}:`)),
    ]),
    patch: (tr, s) => {
      const hb = tr.querySelector('.heartbeat');
      if (hb) hb.textContent = heartbeatText(s);
      const dl = tr.querySelector('.drain-left');
      if (dl) dl.textContent = drainText(s);
    },
    onData: (rows) => {
      const live = rows.filter(running);
      up.value.textContent = `${rows.filter((s) => s.status === 'up').length} / ${rows.length}`;
      rooms.value.textContent = String(live.reduce((n, s) => n + (Number(s.rooms) || 0), 0));
      people.value.textContent = String(live.reduce((n, s) => n + (Number(s.participants) || 0), 0));
      // Active but not running: stopped heartbeats (crashed or cut off), or never started / stopped.
      const late = rows.filter((s) => s.status === 'down' && s.heartbeat_age_ms != null);
      const idle = rows.filter((s) => s.status === 'down' && s.heartbeat_age_ms == null);
      const parts = [];
      if (late.length) {
        const list = late.map((s) => t('servers.late_one', { name: serverName(s), age: formatDuration(s.heartbeat_age_ms) })).join('; ');
        parts.push(t('servers.late', { list, count: late.length }));
      }
      if (idle.length) {
        parts.push(t('servers.idle', { names: idle.map(serverName).join(', '), count: idle.length }));
      }
      mount(warning, parts.length ? h('div', { class: 'alert alert-warn', role: 'status' }, parts.join(' ')) : null);
      const broken = rows.filter((s) => storageState(s) === 'problem');
      mount(storageWarning, broken.length
        ? h('div', { class: 'alert alert-error', role: 'alert' },
          h('strong', {}, t('servers.storage_problems', { count: broken.length })),
          h('ul', { class: 'alert-list' }, broken.map((s) => h('li', {},
            h('strong', {}, serverName(s)), ': ', sentence(s.storage),
            running(s) ? null : h('span', { class: 'muted' }, ` ${t('servers.last_seen')}`)))))
        : null);
    },
    columns: [
      { label: t('servers.col.id'), cls: 'num', cell: (s) => String(s.id) },
      {
        label: t('servers.col.name'),
        cls: 'col-server',
        cell: (s) => [
          h('div', { class: 'server-name-cell' }, h('strong', { class: 'server-name' }, s.name || '—'),
            s.this_node
              ? h('span', { class: 'badge badge-accent this-node-badge', title: t('servers.this_node_title') }, t('servers.this_node'))
              : null),
          s.url
            ? h('a', { class: 'server-url mono small', href: s.url, target: '_blank', rel: 'noopener noreferrer' }, s.url)
            : h('span', { class: 'server-url muted small' }, t('servers.no_url')),
        ],
      },
      {
        label: t('servers.col.status'),
        cell: (s) => h('span', { class: 'status-cell' }, statusBadge(s.status),
          s.drain_remaining_ms != null && s.status === 'draining'
            ? h('span', { class: 'drain-left muted small' }, drainText(s))
            : null),
      },
      {
        label: t('servers.col.heartbeat'),
        cls: 'num',
        cell: (s) => h('span', {
          class: ['heartbeat', s.heartbeat_age_ms == null ? 'muted' : Number(s.heartbeat_age_ms) >= ALIVE_MS ? 'is-late' : null],
          title: t('servers.heartbeat_title'),
        }, heartbeatText(s)),
      },
      { label: t('servers.col.rooms'), cls: 'num', cell: (s) => String(s.rooms ?? 0) },
      { label: t('servers.col.participants'), cls: 'num', cell: (s) => String(s.participants ?? 0) },
      { label: t('servers.col.version'), cls: 'mono', cell: (s) => s.version || '—' },
      {
        label: t('servers.col.storage'),
        cls: 'col-storage',
        cell: (s) => {
          const st = storageState(s);
          if (st === 'ok') return h('span', { class: 'badge badge-ok server-storage', dataset: { storage: st } }, t('servers.storage_ok'));
          if (st === 'unknown') {
            return h('span', { class: 'muted server-storage', dataset: { storage: st }, title: t('servers.storage_unknown') }, '—');
          }
          return h('span', { class: 'server-storage storage-problem', dataset: { storage: st }, role: 'note' },
            h('span', { class: 'badge status-down' }, t('servers.storage_problem')), ' ', sentence(s.storage));
        },
      },
      { label: t('servers.col.weight'), cls: 'num', cell: (s) => String(s.weight ?? '—') },
      { label: t('servers.col.comment'), cls: 'col-comment', cell: (s) => (s.comment ? h('span', { title: s.comment }, s.comment) : h('span', { class: 'muted' }, '—')) },
      {
        label: t('common.actions'),
        cls: 'col-actions',
        cell: (s) => {
          const name = serverName(s);
          const isBusy = (a) => busy.has(`${s.id}:${a}`);
          const toggle = s.active
            ? smallButton(t('servers.deactivate'), 'server-toggle btn-secondary', () => setActive(s, false), {
              'data-action': 'deactivate',
              'aria-label': t('servers.deactivate_named', { name }),
              title: t('servers.deactivate_title'),
              disabled: isBusy('active'),
            })
            : smallButton(t('servers.activate'), 'server-toggle btn-secondary', () => setActive(s, true), {
              'data-action': 'activate',
              'aria-label': t('servers.activate_named', { name }),
              title: s.status === 'draining' ? t('servers.activate_title_draining') : t('servers.activate_title'),
              disabled: isBusy('active'),
            });
          return rowActions(
            smallButton(t('common.edit'), 'server-edit btn-secondary', () => editServer(s), {
              'data-action': 'edit', 'aria-label': t('common.edit_named', { name }),
            }),
            toggle,
            smallButton(t('servers.drain'), 'server-drain btn-danger-ghost', () => drainServer(s), {
              'data-action': 'drain',
              'aria-label': t('servers.drain_named', { name }),
              title: running(s) ? t('servers.drain_title') : t('servers.drain_title_idle'),
              disabled: isBusy('drain') || !running(s),
            }));
        },
      },
    ],
  });

  async function withBusy(s, action, fn) {
    const key = `${s.id}:${action}`;
    busy.add(key);
    table.redraw();
    try {
      return await fn();
    } finally {
      busy.delete(key);
      table.redraw();
    }
  }

  /** Whether another server than s is active and running (takes new meetings). */
  const othersTakeMeetings = (s) => table.rows.some((o) => o.id !== s.id && o.active && running(o));

  async function setActive(s, active) {
    const name = serverName(s);
    const othersActive = othersTakeMeetings(s);
    // The last server that takes new meetings: one click must not stop every new meeting.
    if (!active && !othersActive) {
      const ok = await confirmDialog({
        title: t('servers.last_deactivate_title', { name }),
        message: t('servers.last_deactivate_message', { name }),
        confirmLabel: t('servers.deactivate'),
      });
      if (!ok) return;
    }
    try {
      await withBusy(s, 'active', () => api.updateServer(s.id, { active }));
      if (active) {
        toast(t('servers.activated', { name }), 'success');
      } else {
        toast(othersActive ? t('servers.deactivated', { name }) : t('servers.deactivated_last', { name }),
          othersActive ? 'success' : 'warn', othersActive ? 5000 : 10000);
      }
    } catch (err) {
      if (err.status !== 401) {
        toast(active ? t('servers.activate_failed', { name, message: err.message }) : t('servers.deactivate_failed', { name, message: err.message }), 'error', 10000);
      }
    }
    table.reload();
  }

  async function drainServer(s) {
    const seconds = h('input', {
      id: 'drain-deadline', name: 'deadline_seconds', type: 'number', required: true,
      min: 0, max: MAX_DRAIN_SECONDS, step: 1, value: String(DEFAULT_DRAIN_SECONDS), inputmode: 'numeric',
    });
    const others = othersTakeMeetings(s);
    const n = Number(s.participants) || 0;
    const r = Number(s.rooms) || 0;
    const name = serverName(s);
    const done = await formDialog({
      id: 'confirm',
      title: t('servers.drain_dialog_title', { name }),
      submitLabel: t('servers.drain'),
      danger: true,
      build: (body) => append(body,
        h('p', {}, t('servers.drain_dialog_text', { name, participants: n, rooms: t('servers.n_rooms', { count: r }) })),
        s.this_node ? h('p', { class: 'alert alert-info' }, t('servers.drain_this_node')) : null,
        // The last server that takes new meetings: say what that means before the click.
        others
          ? null
          : h('p', { class: 'alert alert-warn', role: 'alert', id: 'drain-last-warning' }, t('servers.drain_last')),
        field(t('servers.deadline'), seconds, t('servers.deadline_hint', { max: MAX_DRAIN_SECONDS }))),
      onSubmit: async () => {
        const v = Number(seconds.value);
        if (!Number.isInteger(v) || v < 0 || v > MAX_DRAIN_SECONDS) {
          throw new Error(t('servers.deadline_invalid', { max: MAX_DRAIN_SECONDS }));
        }
        return withBusy(s, 'drain', () => api.drainServer(s.id, v));
      },
    });
    if (done) {
      toast(t('servers.draining_toast', { name, seconds: seconds.value }), 'success', 8000);
      table.reload();
    }
  }

  /** The add (s = null) and edit form. Resolves with the saved server, or null. */
  function serverDialog(s) {
    const adding = !s;
    const nextId = Math.max(0, ...table.rows.map((o) => Number(o.id) || 0)) + 1;
    const id = h('input', {
      id: 'server-form-id', name: 'id', type: 'number', required: true, min: 1, max: 1000000, step: 1,
      value: String(adding ? nextId : s.id), readonly: !adding, inputmode: 'numeric',
    });
    const name = h('input', {
      id: 'server-form-name', name: 'name', maxlength: 100, autocomplete: 'off', required: !adding,
      value: adding ? '' : s.name || '', placeholder: adding ? `node-${nextId}` : null,
    });
    const address = h('input', {
      id: 'server-form-address', name: 'address', required: true, maxlength: 255, autocomplete: 'off',
      pattern: '[A-Za-z0-9.:\\[\\]\\-]+', title: t('servers.form.address_title'),
      value: adding ? '' : s.address || '', placeholder: 'meet3.example.org', spellcheck: 'false', autocapitalize: 'none',
    });
    const port = h('input', {
      id: 'server-form-port', name: 'http_port', type: 'number', required: true, min: 1, max: 65535, step: 1,
      value: String(adding ? DEFAULT_PORT : s.http_port ?? DEFAULT_PORT), inputmode: 'numeric',
    });
    const protocol = h('select', { id: 'server-form-protocol', name: 'protocol' },
      ['http', 'https'].map((p) => h('option', { value: p, selected: p === (adding ? 'http' : s.protocol) }, p)));
    const basePath = h('input', {
      id: 'server-form-base-path', name: 'base_path', maxlength: 200, autocomplete: 'off', pattern: '[^\\s?#]*',
      title: t('servers.form.base_path_title'), value: adding ? '' : s.base_path || '', placeholder: t('servers.form.none'), spellcheck: 'false',
    });
    const weight = h('input', {
      id: 'server-form-weight', name: 'weight', type: 'number', required: true, min: 0, max: 1000, step: 'any',
      value: String(adding ? 1 : s.weight ?? 1),
    });
    const comment = h('textarea', { id: 'server-form-comment', name: 'comment', rows: 2, maxlength: 2000 });
    comment.value = adding ? '' : s.comment || '';
    const active = h('input', { id: 'server-form-active', name: 'active', type: 'checkbox', checked: adding ? true : !!s.active });
    const preview = h('output', { id: 'server-form-url', class: 'mono url-preview', for: 'server-form-address server-form-port server-form-protocol server-form-base-path' });

    const update = () => {
      preview.textContent = urlFromParts(protocol.value, address.value.trim(), port.value, basePath.value);
      const w = Number(weight.value);
      weight.setCustomValidity(weight.value === '' || (w > 0 && w <= 1000) ? '' : t('servers.form.weight_invalid'));
      if (adding) name.placeholder = `node-${id.value || nextId}`;
    };
    protocol.addEventListener('change', () => {
      // Follow the usual port of the protocol when the port was the other protocol's usual one.
      if (protocol.value === 'https' && port.value === '80') port.value = '443';
      else if (protocol.value === 'http' && port.value === '443') port.value = '80';
      update();
    });
    for (const el of [id, address, port, basePath, weight]) el.addEventListener('input', update);
    update();

    const form = () => ({
      id: Number(id.value),
      name: name.value.trim(),
      address: address.value.trim(),
      http_port: Number(port.value),
      protocol: protocol.value,
      base_path: basePath.value.trim(),
      weight: Number(weight.value),
      comment: comment.value,
      active: active.checked,
    });

    return formDialog({
      id: 'server-form',
      title: adding ? t('servers.add') : t('common.edit_named', { name: serverName(s) }),
      submitLabel: adding ? t('servers.add') : t('common.save'),
      wide: true,
      build: (body) => append(body,
        adding
          ? h('p', { class: 'muted small' }, t('servers.form.add_intro'))
          : running(s)
            ? h('p', { class: 'alert alert-info' }, t('servers.form.running_note'))
            : null,
        h('div', { class: 'form-grid' },
          field(t('servers.form.id'), id, adding ? t('servers.form.id_hint_new') : t('servers.form.id_hint')),
          field(t('servers.form.name'), name, adding ? t('servers.form.name_hint') : null)),
        h('fieldset', { class: 'fieldset' },
          h('legend', {}, t('servers.form.address_legend')),
          h('div', { class: 'form-grid form-grid-4' },
            field(t('servers.form.protocol'), protocol),
            field(t('servers.form.address'), address),
            field(t('servers.form.port'), port),
            field(t('servers.form.base_path'), basePath)),
          h('p', { class: 'field-hint url-preview-line' }, `${t('servers.form.url')} `, preview)),
        h('div', { class: 'form-grid' },
          field(t('servers.form.weight'), weight, t('servers.form.weight_hint')),
          field(t('servers.form.active'), active, t('servers.form.active_hint'))),
        field(t('servers.col.comment'), comment)),
      onSubmit: async () => {
        const v = form();
        if (adding) {
          const body = { ...v };
          if (!body.name) delete body.name;
          return api.createServer(body);
        }
        // Edit: send only what changed.
        const patch = {};
        for (const k of ['name', 'address', 'http_port', 'protocol', 'base_path', 'weight', 'comment', 'active']) {
          const before = k === 'name' || k === 'address' || k === 'base_path' ? String(s[k] ?? '').trim() : s[k];
          if (v[k] !== before) patch[k] = v[k];
        }
        if (Object.keys(patch).length === 0) return { unchanged: true };
        return api.updateServer(s.id, patch);
      },
    });
  }

  async function addServer() {
    const saved = await serverDialog(null);
    if (saved) {
      toast(t('servers.added', { name: saved.name || saved.id }), 'success');
      table.reload();
    }
  }

  async function editServer(s) {
    const saved = await serverDialog(s);
    if (saved && !saved.unchanged) {
      toast(t('servers.saved', { name: saved.name || serverName(s) }), 'success');
      table.reload();
    }
  }

  const add = h('button', { type: 'button', id: 'add-server', class: 'btn btn-primary', on: { click: addServer } }, `+ ${t('servers.add')}`);
  container.append(
    pageHeader(t('servers.title'), add),
    h('p', { class: 'muted page-intro' }, t('servers.intro')),
    h('div', { class: 'stats' }, up.el, rooms.el, people.el),
    storageWarning,
    warning,
    table.el);
  return table.stop;
}
