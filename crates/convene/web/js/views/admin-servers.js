// Administration → Servers: #servers-table (id, name, url, status, heartbeat age, rooms, participants, version).
import { api } from '../api.js';
import { h, mount, formatDuration } from '../dom.js';
import { pageHeader } from '../ui.js';
import { liveTable, statusBadge } from './admin-common.js';

const REFRESH_MS = 3000;

function stat(id, label) {
  const value = h('span', { class: 'stat-value', id }, '—');
  return { el: h('div', { class: 'stat panel' }, value, h('span', { class: 'stat-label' }, label)), value };
}

export function renderAdminServers(container) {
  const up = stat('stat-servers-up', 'servers up');
  const rooms = stat('stat-rooms', 'live rooms');
  const people = stat('stat-participants', 'participants');
  const warning = h('div', { id: 'servers-warning' });

  const t = liveTable({
    id: 'servers-table',
    caption: 'Servers of the cluster',
    keyAttr: 'serverId',
    key: (s) => s.id,
    rowData: (s) => ({ status: s.status || '', active: String(!!s.active) }),
    load: () => api.servers(),
    refreshMs: REFRESH_MS,
    emptyText: 'No servers registered.',
    onData: (rows) => {
      const live = rows.filter((s) => s.status === 'up' || s.status === 'draining');
      up.value.textContent = `${rows.filter((s) => s.status === 'up').length} / ${rows.length}`;
      rooms.value.textContent = String(live.reduce((n, s) => n + (Number(s.rooms) || 0), 0));
      people.value.textContent = String(live.reduce((n, s) => n + (Number(s.participants) || 0), 0));
      const down = rows.filter((s) => s.status === 'down');
      mount(warning, down.length
        ? h('div', { class: 'alert alert-warn', role: 'status' },
          `${down.map((s) => s.name || `#${s.id}`).join(', ')} ${down.length === 1 ? 'is' : 'are'} not sending heartbeats. `
          + 'Their rooms are moved to other servers when participants re-enter.')
        : null);
    },
    columns: [
      { label: 'ID', cls: 'num', cell: (s) => String(s.id) },
      {
        label: 'Name',
        cell: (s) => h('span', { class: 'server-name-cell' }, h('strong', {}, s.name || '—'),
          s.this_node ? h('span', { class: 'badge badge-accent', title: 'The server this page was loaded from' }, 'this server') : null),
      },
      { label: 'URL', cls: 'mono', cell: (s) => (s.url ? h('span', { class: 'server-url' }, s.url) : '—') },
      { label: 'Status', cell: (s) => statusBadge(s.status) },
      {
        label: 'Heartbeat age',
        cls: 'num',
        cell: (s) => h('span', { class: ['heartbeat', Number(s.heartbeat_age_ms) > 5000 ? 'is-late' : null] }, formatDuration(s.heartbeat_age_ms)),
      },
      { label: 'Rooms', cls: 'num', cell: (s) => String(s.rooms ?? 0) },
      { label: 'Participants', cls: 'num', cell: (s) => String(s.participants ?? 0) },
      { label: 'Version', cls: 'mono', cell: (s) => s.version || '—' },
    ],
  });

  container.append(
    pageHeader('Servers'),
    h('div', { class: 'stats' }, up.el, rooms.el, people.el),
    warning,
    t.el);
  return t.stop;
}
