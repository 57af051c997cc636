// Administration → Servers: the nodes of the cluster, like the seed's Servers page.
//   #servers-table tr[data-server-id][data-status][data-active][data-storage][data-this-node]
//     › .server-status, button[data-action=edit|activate|deactivate|drain]
//   #add-server → dialog form #server-form; drain → dialog #confirm with #drain-deadline.
// Refreshes every 2 s; the heartbeat age and the drain countdown update in place.
import { api } from '../api.js';
import { h, mount, formatDuration } from '../dom.js';
import { formDialog, field, pageHeader, toast } from '../ui.js';
import { liveTable, rowActions, smallButton, statusBadge } from './admin-common.js';

const REFRESH_MS = 2000;
const ALIVE_MS = 5000; // a node whose heartbeat is older is not running (docs/cluster.md)
const DEFAULT_DRAIN_SECONDS = 30;
const MAX_DRAIN_SECONDS = 3600;
const DEFAULT_PORT = 5080;

const running = (s) => s.heartbeat_age_ms != null && Number(s.heartbeat_age_ms) < ALIVE_MS;
const serverName = (s) => s.name || `server ${s.id}`;

/** 'ok', 'unknown' (not checked yet) or 'problem'. */
function storageState(s) {
  const v = String(s.storage ?? '').trim();
  if (!v) return 'unknown';
  return v.toLowerCase() === 'ok' ? 'ok' : 'problem';
}

/** "not the shared storage" → "Not the shared storage." */
function sentence(text) {
  const t = String(text || '').trim();
  if (!t) return '';
  const s = t.charAt(0).toUpperCase() + t.slice(1);
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
  if (s.heartbeat_age_ms == null) return 'not running';
  return formatDuration(s.heartbeat_age_ms);
}

function drainText(s) {
  if (s.drain_remaining_ms == null) return '';
  const ms = Number(s.drain_remaining_ms);
  return ms > 0 ? `moves in ${Math.ceil(ms / 1000)} s` : 'moving participants';
}

/** Element.append, skipping the null of a condition that did not hold (append would write "null"). */
const append = (el, ...children) => el.append(...children.filter((c) => c != null && c !== false));

function stat(id, label) {
  const value = h('span', { class: 'stat-value', id }, '—');
  return { el: h('div', { class: 'stat panel' }, value, h('span', { class: 'stat-label' }, label)), value };
}

export function renderAdminServers(container) {
  const up = stat('stat-servers-up', 'servers up');
  const rooms = stat('stat-rooms', 'live rooms');
  const people = stat('stat-participants', 'participants');
  const warning = h('div', { id: 'servers-warning' });
  const storageWarning = h('div', { id: 'servers-storage-warning' });
  const busy = new Set(); // "id:action" while a request is under way

  const t = liveTable({
    id: 'servers-table',
    caption: 'Servers of the cluster',
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
    emptyText: 'No servers registered.',
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
        parts.push(`${late.map((s) => `${serverName(s)} stopped sending heartbeats ${formatDuration(s.heartbeat_age_ms)} ago`).join('; ')}. `
          + `${late.length === 1 ? 'Its rooms move' : 'Their rooms move'} to other servers when participants enter again.`);
      }
      if (idle.length) {
        parts.push(`${idle.map(serverName).join(', ')} ${idle.length === 1 ? 'is' : 'are'} active but not running `
          + '(not started yet, or stopped).');
      }
      mount(warning, parts.length ? h('div', { class: 'alert alert-warn', role: 'status' }, parts.join(' ')) : null);
      const broken = rows.filter((s) => storageState(s) === 'problem');
      mount(storageWarning, broken.length
        ? h('div', { class: 'alert alert-error', role: 'alert' },
          h('strong', {}, broken.length === 1 ? 'Shared storage problem' : 'Shared storage problems'),
          h('ul', { class: 'alert-list' }, broken.map((s) => h('li', {},
            h('strong', {}, serverName(s)), ': ', sentence(s.storage),
            running(s) ? null : h('span', { class: 'muted' }, ' (last seen while it ran)')))))
        : null);
    },
    columns: [
      { label: 'ID', cls: 'num', cell: (s) => String(s.id) },
      {
        label: 'Name and URL',
        cls: 'col-server',
        cell: (s) => [
          h('div', { class: 'server-name-cell' }, h('strong', { class: 'server-name' }, s.name || '—'),
            s.this_node
              ? h('span', { class: 'badge badge-accent this-node-badge', title: 'The server this page was loaded from' }, 'this server')
              : null),
          s.url
            ? h('a', { class: 'server-url mono small', href: s.url, target: '_blank', rel: 'noopener noreferrer' }, s.url)
            : h('span', { class: 'server-url muted small' }, 'no URL'),
        ],
      },
      {
        label: 'Status',
        cell: (s) => h('span', { class: 'status-cell' }, statusBadge(s.status),
          s.drain_remaining_ms != null && s.status === 'draining'
            ? h('span', { class: 'drain-left muted small' }, drainText(s))
            : null),
      },
      {
        label: 'Heartbeat',
        cls: 'num',
        cell: (s) => h('span', {
          class: ['heartbeat', s.heartbeat_age_ms == null ? 'muted' : Number(s.heartbeat_age_ms) >= ALIVE_MS ? 'is-late' : null],
          title: 'Time since the server’s last heartbeat (every second; dead after 5 s)',
        }, heartbeatText(s)),
      },
      { label: 'Rooms', cls: 'num', cell: (s) => String(s.rooms ?? 0) },
      { label: 'Participants', cls: 'num', cell: (s) => String(s.participants ?? 0) },
      { label: 'Version', cls: 'mono', cell: (s) => s.version || '—' },
      {
        label: 'Storage',
        cls: 'col-storage',
        cell: (s) => {
          const st = storageState(s);
          if (st === 'ok') return h('span', { class: 'badge badge-ok server-storage', dataset: { storage: st } }, 'OK');
          if (st === 'unknown') {
            return h('span', { class: 'muted server-storage', dataset: { storage: st }, title: 'Not checked yet' }, '—');
          }
          return h('span', { class: 'server-storage storage-problem', dataset: { storage: st }, role: 'note' },
            h('span', { class: 'badge status-down' }, 'Problem'), ' ', sentence(s.storage));
        },
      },
      { label: 'Weight', cls: 'num', cell: (s) => String(s.weight ?? '—') },
      { label: 'Comment', cls: 'col-comment', cell: (s) => (s.comment ? h('span', { title: s.comment }, s.comment) : h('span', { class: 'muted' }, '—')) },
      {
        label: 'Actions',
        cls: 'col-actions',
        cell: (s) => {
          const name = serverName(s);
          const isBusy = (a) => busy.has(`${s.id}:${a}`);
          const toggle = s.active
            ? smallButton('Deactivate', 'server-toggle btn-secondary', () => setActive(s, false), {
              'data-action': 'deactivate',
              'aria-label': `Deactivate ${name}`,
              title: 'No new rooms on this server; its live rooms go on',
              disabled: isBusy('active'),
            })
            : smallButton('Activate', 'server-toggle btn-secondary', () => setActive(s, true), {
              'data-action': 'activate',
              'aria-label': `Activate ${name}`,
              title: s.status === 'draining' ? 'Takes new rooms again (participants already told to move still move)' : 'Takes new rooms again',
              disabled: isBusy('active'),
            });
          return rowActions(
            smallButton('Edit', 'server-edit btn-secondary', () => editServer(s), {
              'data-action': 'edit', 'aria-label': `Edit ${name}`,
            }),
            toggle,
            smallButton('Drain', 'server-drain btn-danger-ghost', () => drainServer(s), {
              'data-action': 'drain',
              'aria-label': `Drain ${name}`,
              title: running(s) ? 'Move this server’s participants to other servers' : 'The server is not running: nothing to move',
              disabled: isBusy('drain') || !running(s),
            }));
        },
      },
    ],
  });

  async function withBusy(s, action, fn) {
    const key = `${s.id}:${action}`;
    busy.add(key);
    t.redraw();
    try {
      return await fn();
    } finally {
      busy.delete(key);
      t.redraw();
    }
  }

  async function setActive(s, active) {
    try {
      await withBusy(s, 'active', () => api.updateServer(s.id, { active }));
      if (active) {
        toast(`${serverName(s)} is active: it takes new rooms.`, 'success');
      } else {
        const othersActive = t.rows.some((o) => o.id !== s.id && o.active && running(o));
        toast(othersActive
          ? `${serverName(s)} is inactive: it gets no new rooms; its live rooms go on.`
          : `${serverName(s)} is inactive. No other active server is running: rooms that are not open yet cannot be entered.`,
        othersActive ? 'success' : 'warn', othersActive ? 5000 : 10000);
      }
    } catch (err) {
      if (err.status !== 401) toast(`Could not ${active ? 'activate' : 'deactivate'} ${serverName(s)}: ${err.message}`, 'error', 10000);
    }
    t.reload();
  }

  async function drainServer(s) {
    const seconds = h('input', {
      id: 'drain-deadline', name: 'deadline_seconds', type: 'number', required: true,
      min: 0, max: MAX_DRAIN_SECONDS, step: 1, value: String(DEFAULT_DRAIN_SECONDS), inputmode: 'numeric',
    });
    const others = t.rows.filter((o) => o.id !== s.id && o.active && running(o));
    const n = Number(s.participants) || 0;
    const r = Number(s.rooms) || 0;
    const done = await formDialog({
      id: 'confirm',
      title: `Drain ${serverName(s)}`,
      submitLabel: 'Drain',
      danger: true,
      build: (body) => append(body,
        h('p', {},
          `${serverName(s)} gets no new rooms. Its participants (${n} in ${r} ${r === 1 ? 'room' : 'rooms'}) are told that they `
          + 'will be moved, and at the deadline their rooms are moved to other servers: their browsers reconnect by themselves.'),
        s.this_node
          ? h('p', { class: 'alert alert-info' }, 'This is the server you are using. This page keeps working; your own room visits move too.')
          : null,
        others.length
          ? null
          : h('p', { class: 'alert alert-warn', role: 'alert' }, 'No other active server is running: the participants will have nowhere to go until one is.'),
        field('Deadline (seconds)', seconds, `0 to ${MAX_DRAIN_SECONDS}. Participants see a countdown until then.`)),
      onSubmit: async () => {
        const v = Number(seconds.value);
        if (!Number.isInteger(v) || v < 0 || v > MAX_DRAIN_SECONDS) {
          throw new Error(`The deadline must be a whole number of seconds from 0 to ${MAX_DRAIN_SECONDS}.`);
        }
        return withBusy(s, 'drain', () => api.drainServer(s.id, v));
      },
    });
    if (done) {
      toast(`${serverName(s)} is draining: its participants move within ${seconds.value} s.`, 'success', 8000);
      t.reload();
    }
  }

  /** The add (s = null) and edit form. Resolves with the saved server, or null. */
  function serverDialog(s) {
    const adding = !s;
    const nextId = Math.max(0, ...t.rows.map((o) => Number(o.id) || 0)) + 1;
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
      pattern: '[A-Za-z0-9.:\\[\\]\\-]+', title: 'A host name or an IP address',
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
      title: 'A URL path without spaces, ? or #', value: adding ? '' : s.base_path || '', placeholder: '(none)', spellcheck: 'false',
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
      weight.setCustomValidity(weight.value === '' || (w > 0 && w <= 1000) ? '' : 'The weight must be greater than 0 and at most 1000.');
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
      title: adding ? 'Add server' : `Edit ${serverName(s)}`,
      submitLabel: adding ? 'Add server' : 'Save',
      wide: true,
      build: (body) => append(body,
        adding
          ? h('p', { class: 'muted small' },
            'Add a server before it first runs, to set its name, weight and comment. Start it with the same node id; '
            + 'it then registers its own address from its public URL.')
          : running(s)
            ? h('p', { class: 'alert alert-info' },
              'This server is running: it rewrites its address, port, protocol and base path from its public URL when it next starts.')
            : null,
        h('div', { class: 'form-grid' },
          field('Server id', id, adding ? 'The node id (node_id) the server is started with. Cannot change later.' : 'Cannot change.'),
          field('Name', name, adding ? 'Leave empty for the default.' : null)),
        h('fieldset', { class: 'fieldset' },
          h('legend', {}, 'Address'),
          h('div', { class: 'form-grid form-grid-4' },
            field('Protocol', protocol),
            field('Host name or IP address', address),
            field('HTTP port', port),
            field('Base path', basePath)),
          h('p', { class: 'field-hint url-preview-line' }, 'URL: ', preview)),
        h('div', { class: 'form-grid' },
          field('Weight', weight, 'A heavier server gets more rooms (greater than 0, at most 1000).'),
          field('Active', active, 'An inactive server gets no new rooms; its live rooms go on.')),
        field('Comment', comment)),
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
      toast(`Server ${saved.name || saved.id} added.`, 'success');
      t.reload();
    }
  }

  async function editServer(s) {
    const saved = await serverDialog(s);
    if (saved && !saved.unchanged) {
      toast(`${saved.name || serverName(s)} saved.`, 'success');
      t.reload();
    }
  }

  const add = h('button', { type: 'button', id: 'add-server', class: 'btn btn-primary', on: { click: addServer } }, '+ Add server');
  container.append(
    pageHeader('Servers', add),
    h('p', { class: 'muted page-intro' },
      'The nodes of the cluster. Nodes register themselves when they start; a new room goes to the running, active node '
      + 'with the least load for its weight. Updated every 2 seconds.'),
    h('div', { class: 'stats' }, up.el, rooms.el, people.el),
    storageWarning,
    warning,
    t.el);
  return t.stop;
}
