// Administration → Connections: #connections-table (Server, User, Room, Since, Address, User agent, Kick).
import { api } from '../api.js';
import { h, formatShortDateTime, formatDateTime, formatSince } from '../dom.js';
import { confirmDialog, pageHeader, toast } from '../ui.js';
import { liveTable, filterBox, rowActions, smallButton } from './admin-common.js';
import { t } from '../i18n.js';

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
  if (browser) return os ? t('connections.agent', { browser, os }) : browser;
  return ua.length > 40 ? `${ua.slice(0, 40)}…` : ua;
}

export function renderAdminConnections(container, ctx = {}) {
  // On a single node, which server a connection is on says nothing: no column, no filter (unless asked for).
  const cluster = ctx.cluster?.shown !== false;
  const serverFilter = h('select', { id: 'connection-server-filter', 'aria-label': t('connections.server_filter'), hidden: !cluster },
    h('option', { value: '' }, t('connections.all_servers')));
  let serverChoice = '';

  const table = liveTable({
    id: 'connections-table',
    caption: t('connections.caption'),
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
    emptyText: t('connections.empty'),
    matches: (c, q) => [c.user?.login, c.room_name, c.server?.name, c.remote_addr, c.user_agent]
      .some((x) => String(x || '').toLowerCase().includes(q)),
    onData: () => (cluster ? updateServers() : undefined),
    columns: [
      cluster ? {
        label: t('connections.server'),
        cls: 'col-server',
        cell: (c) => h('span', { class: 'server-name', title: c.server ? t('connections.server_n', { id: c.server.id }) : '' }, c.server?.name || `#${c.server?.id ?? '?'}`),
      } : null,
      { label: t('connections.user'), cell: (c) => h('span', { class: 'mono' }, c.user?.login || '—') },
      {
        label: t('connections.room'),
        cell: (c) => (c.room_id != null
          ? h('a', { href: `/room/${encodeURIComponent(c.room_id)}`, 'data-link': true }, c.room_name || `#${c.room_id}`)
          : '—'),
      },
      {
        label: t('connections.since'),
        cell: (c) => h('time', { datetime: c.since || '', title: `${formatDateTime(c.since)} (${formatSince(c.since)})` }, formatShortDateTime(c.since)),
      },
      { label: t('connections.address'), cls: 'mono', cell: (c) => c.remote_addr || '—' },
      { label: t('connections.agent_col'), cls: 'col-agent', cell: (c) => h('span', { title: c.user_agent || '' }, shortAgent(c.user_agent)) },
      {
        label: t('common.actions'),
        cls: 'col-actions',
        cell: (c) => rowActions(smallButton(t('connections.kick'), 'btn-danger-ghost kick-connection', () => kick(c), {
          'aria-label': t('connections.kick_label', { who: c.user?.login || t('connections.this_connection'), room: c.room_name || t('connections.the_room') }),
        })),
      },
    ].filter(Boolean),
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
    serverFilter.replaceChildren(h('option', { value: '' }, t('connections.all_servers')),
      ...servers.map((s) => h('option', { value: String(s.id), selected: String(s.id) === serverChoice }, s.name || `#${s.id}`)));
  }
  serverFilter.addEventListener('change', () => {
    serverChoice = serverFilter.value;
    table.reload();
  });

  async function kick(c) {
    const ok = await confirmDialog({
      title: t('connections.kick_title'),
      message: cluster
        ? t('connections.kick_message_on', { who: c.user?.login || t('connections.this_user'), room: c.room_name || t('connections.the_room'), server: c.server?.name || t('connections.its_server') })
        : t('connections.kick_message', { who: c.user?.login || t('connections.this_user'), room: c.room_name || t('connections.the_room') }),
      confirmLabel: t('connections.kick'),
    });
    if (!ok) return;
    const who = c.user?.login || t('connections.the_connection');
    try {
      // Any node kicks a connection of any node: 204 when it is gone, 202 when its node was asked
      // (through the cluster) but had not confirmed within about 3 seconds.
      const status = await api.kickConnection(c.id);
      if (status === 202) {
        toast(t('connections.kick_requested', { server: c.server?.name || t('connections.the_other_server'), who }), 'info', 9000);
        setTimeout(() => table.reload(), 2000);
      } else {
        toast(t('connections.kicked', { who }), 'success');
      }
    } catch (err) {
      if (err.status === 404) {
        toast(t('connections.already_left', { who }), 'info');
      } else {
        toast(err.message, 'error', 9000);
      }
    }
    table.reload();
  }

  container.append(
    pageHeader(t('connections.title'), serverFilter, filterBox('connection-filter', t('connections.filter'), table)),
    h('p', { class: 'muted page-intro' }, cluster ? t('connections.intro_cluster') : t('connections.intro')),
    table.el);
  return table.stop;
}
