// Administration → Connections: #connections-table (Server, User, Room, Since, Address, User agent, Kick).
import { api } from '../api.js';
import { h, formatShortDateTime, formatDateTime, formatSince } from '../dom.js';
import { confirmDialog, pageHeader, toast } from '../ui.js';
import { liveTable, filterBox, rowActions, smallButton } from './admin-common.js';

const REFRESH_MS = 3000;

/** "Chrome 120 on Linux" from a user agent string; the full string stays in the title. */
export function shortAgent(ua) {
  if (!ua) return '—';
  const browser = /Edg\/(\d+)/.exec(ua) ? `Edge ${/Edg\/(\d+)/.exec(ua)[1]}`
    : /Firefox\/(\d+)/.exec(ua) ? `Firefox ${/Firefox\/(\d+)/.exec(ua)[1]}`
      : /Chrom(?:e|ium)\/(\d+)/.exec(ua) ? `${/HeadlessChrome/.test(ua) ? 'Headless Chrome' : 'Chrome'} ${/Chrom(?:e|ium)\/(\d+)/.exec(ua)[1]}`
        : /Version\/(\d+).*Safari/.exec(ua) ? `Safari ${/Version\/(\d+)/.exec(ua)[1]}`
          : null;
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS'
    : /Mac OS X/.test(ua) ? 'macOS' : /CrOS/.test(ua) ? 'ChromeOS' : /Linux/.test(ua) ? 'Linux' : null;
  if (browser) return os ? `${browser} on ${os}` : browser;
  return ua.length > 40 ? `${ua.slice(0, 40)}…` : ua;
}

export function renderAdminConnections(container) {
  const serverFilter = h('select', { id: 'connection-server-filter', 'aria-label': 'Show connections of server' },
    h('option', { value: '' }, 'All servers'));
  let serverChoice = '';

  const t = liveTable({
    id: 'connections-table',
    caption: 'Live connections',
    keyAttr: 'connectionId',
    key: (c) => c.id,
    rowData: (c) => ({
      serverId: String(c.server?.id ?? ''),
      login: c.user?.login || '',
      roomId: String(c.room_id ?? ''),
    }),
    load: async () => {
      const rows = (await api.connections()) || [];
      return serverChoice ? rows.filter((c) => String(c.server?.id) === serverChoice) : rows;
    },
    refreshMs: REFRESH_MS,
    emptyText: 'Nobody is connected.',
    matches: (c, q) => [c.user?.login, c.room_name, c.server?.name, c.remote_addr, c.user_agent]
      .some((x) => String(x || '').toLowerCase().includes(q)),
    onData: () => updateServers(),
    columns: [
      {
        label: 'Server',
        cls: 'col-server',
        cell: (c) => h('span', { class: 'server-name', title: c.server ? `Server #${c.server.id}` : '' }, c.server?.name || `#${c.server?.id ?? '?'}`),
      },
      { label: 'User', cell: (c) => h('span', { class: 'mono' }, c.user?.login || '—') },
      {
        label: 'Room',
        cell: (c) => (c.room_id != null
          ? h('a', { href: `/room/${encodeURIComponent(c.room_id)}`, 'data-link': true }, c.room_name || `#${c.room_id}`)
          : '—'),
      },
      {
        label: 'Since',
        cell: (c) => h('time', { datetime: c.since || '', title: `${formatDateTime(c.since)} (${formatSince(c.since)})` }, formatShortDateTime(c.since)),
      },
      { label: 'Address', cls: 'mono', cell: (c) => c.remote_addr || '—' },
      { label: 'User agent', cls: 'col-agent', cell: (c) => h('span', { title: c.user_agent || '' }, shortAgent(c.user_agent)) },
      {
        label: 'Actions',
        cls: 'col-actions',
        cell: (c) => rowActions(smallButton('Kick', 'btn-danger-ghost kick-connection', () => kick(c), {
          'aria-label': `Kick ${c.user?.login || 'this connection'} from ${c.room_name || 'the room'}`,
        })),
      },
    ],
  });

  // Fill the server filter from what the cluster reports, keeping the choice.
  let lastServers = '';
  async function updateServers() {
    let servers;
    try {
      servers = (await api.servers()) || [];
    } catch {
      return;
    }
    const sig = JSON.stringify(servers.map((s) => [s.id, s.name]));
    if (sig === lastServers) return;
    lastServers = sig;
    serverFilter.replaceChildren(h('option', { value: '' }, 'All servers'),
      ...servers.map((s) => h('option', { value: String(s.id), selected: String(s.id) === serverChoice }, s.name || `#${s.id}`)));
  }
  serverFilter.addEventListener('change', () => {
    serverChoice = serverFilter.value;
    t.reload();
  });

  async function kick(c) {
    const ok = await confirmDialog({
      title: 'Kick connection',
      message: `Disconnect ${c.user?.login || 'this user'} from ${c.room_name || 'the room'} on ${c.server?.name || 'its server'}?`,
      confirmLabel: 'Kick',
    });
    if (!ok) return;
    const who = c.user?.login || 'The connection';
    try {
      // Any node kicks a connection of any node: 204 when it is gone, 202 when its node was asked
      // (through the cluster) but had not confirmed within about 3 seconds.
      const status = await api.kickConnection(c.id);
      if (status === 202) {
        toast(`Kick requested: ${c.server?.name || 'the other server'} has not confirmed yet. `
          + `${who} should disappear from the list within a few seconds.`, 'info', 9000);
        setTimeout(() => t.reload(), 2000);
      } else {
        toast(`${who} was disconnected.`, 'success');
      }
    } catch (err) {
      if (err.status === 404) {
        toast(`${who} had already left.`, 'info');
      } else {
        toast(err.message, 'error', 9000);
      }
    }
    t.reload();
  }

  container.append(
    pageHeader('Connections', serverFilter, filterBox('connection-filter', 'Filter connections', t)),
    h('p', { class: 'muted page-intro' }, 'Everyone connected to a room right now, on every server of the cluster. Updated every few seconds.'),
    t.el);
  return t.stop;
}
