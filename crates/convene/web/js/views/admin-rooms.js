// Administration → Rooms: #admin-rooms-table, #room-create, dialog form #room-form.
import { api } from '../api.js';
import { h, KIND_LABELS } from '../dom.js';
import { formDialog, confirmDialog, field, pageHeader, toast } from '../ui.js';
import { liveTable, filterBox, rowActions, smallButton } from './admin-common.js';
import { t } from '../i18n.js';

/**
 * A checkbox list of users with a filter: fieldset#<id> with input[name=<name>][value=<user id>].
 * Returns {el, selected()} where selected() gives the chosen ids (with their original type).
 */
function userPicker(id, name, legend, users, chosen, hint) {
  const chosenSet = new Set((chosen || []).map(String));
  const count = h('span', { class: 'picker-count muted small' });
  const boxes = [];
  const items = users.map((u) => {
    const box = h('input', {
      type: 'checkbox', name, value: String(u.id), id: `${id}-${u.id}`,
      checked: chosenSet.has(String(u.id)), dataset: { login: u.login },
    });
    boxes.push({ box, user: u });
    return h('li', { class: 'picker-item', dataset: { login: u.login } },
      box,
      h('label', { for: box.id },
        h('span', {}, u.display_name || u.login),
        h('span', { class: 'muted small mono' }, ` ${u.login}`),
        u.enabled === false ? h('span', { class: 'badge badge-muted' }, t('users.disabled_short')) : null));
  });
  const updateCount = () => {
    const n = boxes.filter((b) => b.box.checked).length;
    count.textContent = t('picker.selected', { count: n });
  };
  const filter = h('input', { type: 'search', id: `${id}-filter`, placeholder: t('users.filter'), 'aria-label': t('picker.filter_label', { what: legend }), autocomplete: 'off' });
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const li of items) li.hidden = !!q && !li.textContent.toLowerCase().includes(q);
  });
  const list = h('ul', { class: 'picker-list' }, items.length ? items : h('li', { class: 'muted' }, t('users.empty')));
  list.addEventListener('change', updateCount);
  updateCount();
  const el = h('fieldset', { class: 'fieldset picker', id },
    h('legend', {}, legend, ' ', count),
    hint ? h('p', { class: 'field-hint' }, hint) : null,
    filter,
    list);
  return { el, selected: () => boxes.filter((b) => b.box.checked).map((b) => b.user.id) };
}

/**
 * ctx.mine (My rooms, for organisers): only the rooms the caller owns, members chosen from GET /api/v1/people,
 * no owner field. Otherwise (administrators) every room, with its owner.
 */
export function renderAdminRooms(container, ctx = {}) {
  const mine = !!ctx.mine;
  const me = ctx.app && ctx.app.user ? ctx.app.user.id : null;
  let users = [];
  let usersById = new Map();

  async function loadUsers() {
    try {
      users = (await (mine ? api.people() : api.users())) || [];
      users.sort((a, b) => (a.display_name || a.login).localeCompare(b.display_name || b.login, undefined, { sensitivity: 'base' }));
      usersById = new Map(users.map((u) => [String(u.id), u]));
    } catch (err) {
      if (err.status !== 401) toast(t('rooms_admin.users_failed', { message: err.message }), 'error');
    }
  }

  const names = (ids) => {
    if (!Array.isArray(ids) || ids.length === 0) return h('span', { class: 'muted' }, '—');
    const list = ids.map((id) => {
      const u = usersById.get(String(id));
      return u ? u.display_name || u.login : `#${id}`;
    });
    const shown = list.slice(0, 3).join(', ');
    return h('span', { title: list.join(', ') }, list.length > 3 ? `${shown} +${list.length - 3}` : shown);
  };

  const table = liveTable({
    id: 'admin-rooms-table',
    caption: t('rooms_admin.title'),
    keyAttr: 'roomId',
    key: (r) => r.id,
    rowData: (r) => ({ name: r.name }),
    load: async () => {
      const rooms = (await api.rooms()) || [];
      return mine ? rooms.filter((r) => r.owner === me) : rooms;
    },
    refreshMs: 5000,
    emptyText: mine ? t('myrooms.empty') : t('rooms_admin.empty'),
    matches: (r, q) => [r.name, r.comment, r.kind].some((x) => String(x || '').toLowerCase().includes(q)),
    columns: [
      { label: t('rooms_admin.name'), cell: (r) => h('strong', {}, r.name) },
      { label: t('rooms_admin.kind'), cell: (r) => h('span', { class: 'badge badge-kind', dataset: { kind: r.kind } }, KIND_LABELS[r.kind] || r.kind) },
      { label: t('rooms_admin.capacity'), cls: 'num', cell: (r) => String(r.capacity) },
      { label: t('rooms_admin.access'), cell: (r) => h('span', { class: ['badge', r.public ? 'badge-public' : 'badge-private'] }, r.public ? t('rooms.public') : t('rooms.members_only')) },
      { label: t('rooms_admin.live'), cls: 'num', cell: (r) => h('span', { class: 'participant-count' }, String(r.participants ?? 0)) },
      ...(mine ? [] : [{ label: t('rooms_admin.owner'), cls: 'col-owner', cell: (r) => names(r.owner ? [r.owner] : []) }]),
      { label: t('rooms_admin.moderators'), cell: (r) => names(r.moderators) },
      { label: t('rooms_admin.members'), cls: 'num', cell: (r) => h('span', { title: usersTitle(r.members) }, String((r.members || []).length)) },
      { label: t('rooms_admin.comment'), cls: 'col-comment', cell: (r) => r.comment || '' },
      {
        label: t('common.actions'),
        cls: 'col-actions',
        cell: (r) => rowActions(
          h('a', { href: `/room/${encodeURIComponent(r.id)}`, class: 'btn btn-small btn-ghost open-room', 'data-link': true, 'aria-label': t('rooms.enter_named', { name: r.name }) }, t('rooms.enter')),
          smallButton(t('common.edit'), 'btn-secondary edit-room', () => editRoom(r), { 'aria-label': t('common.edit_named', { name: r.name }) }),
          smallButton(t('common.delete'), 'btn-danger-ghost delete-room', () => deleteRoom(r), { 'aria-label': t('common.delete_named', { name: r.name }) })),
      },
    ],
  });

  function usersTitle(ids) {
    return (ids || []).map((id) => usersById.get(String(id))?.login || `#${id}`).join(', ');
  }

  async function roomDialog(room) {
    await loadUsers();
    // A new room is for everyone signed in, until members are chosen (then the box follows, unless touched).
    const r = room || { name: '', kind: 'conference', capacity: 25, public: true, moderators: [], members: [], comment: '', owner: me };
    const name = h('input', { id: 'room-form-name', name: 'name', required: true, maxlength: 100, value: r.name, autocomplete: 'off' });
    const kind = h('select', { id: 'room-form-kind', name: 'kind' },
      Object.entries(KIND_LABELS).map(([v, label]) => h('option', { value: v, selected: v === r.kind }, label)));
    const capacity = h('input', { id: 'room-form-capacity', name: 'capacity', type: 'number', min: 1, max: 10000, step: 1, required: true, value: String(r.capacity) });
    const isPublic = h('input', { id: 'room-form-public', name: 'public', type: 'checkbox', checked: !!r.public });
    const waitingRoom = h('input', { id: 'room-form-waiting-room', name: 'waiting_room', type: 'checkbox', checked: !!r.waiting_room });
    const comment = h('textarea', { id: 'room-form-comment', name: 'comment', rows: 2, maxlength: 2000 });
    comment.value = r.comment || '';
    const mods = userPicker('room-form-moderators', 'moderators', t('rooms_admin.moderators'), users, r.moderators, t('rooms_admin.moderators_hint'));
    const members = userPicker('room-form-members', 'members', t('rooms_admin.members'), users, r.members, t('rooms_admin.members_hint'));
    if (!room) {
      let touched = false;
      isPublic.addEventListener('change', () => { touched = true; });
      members.el.addEventListener('change', () => {
        if (!touched) isPublic.checked = members.selected().length === 0;
      });
    }
    const owner = mine ? null : h('select', { id: 'room-form-owner', name: 'owner' },
      h('option', { value: '', selected: !r.owner }, t('rooms_admin.no_owner')),
      users.filter((u) => u.role !== 'webservice' || u.id === r.owner).map((u) => h('option', {
        value: String(u.id), selected: u.id === r.owner, dataset: { login: u.login },
      }, `${u.display_name || u.login} (${u.login})`)));
    return formDialog({
      id: 'room-form',
      title: room ? t('common.edit_named', { name: room.name }) : t('rooms_admin.new'),
      submitLabel: room ? t('common.save') : t('rooms_admin.create'),
      wide: true,
      build: (body) => body.append(
        h('div', { class: 'form-grid' },
          field(t('rooms_admin.name'), name),
          field(t('rooms_admin.kind'), kind, t('rooms_admin.kind_hint')),
          field(t('rooms_admin.capacity'), capacity, t('rooms_admin.capacity_hint')),
          field(t('rooms_admin.public'), isPublic, t('rooms_admin.public_hint')),
          field(t('rooms_admin.waiting_room'), waitingRoom, t('rooms_admin.waiting_room_hint')),
          owner ? field(t('rooms_admin.owner'), owner, t('rooms_admin.owner_hint')) : null),
        field(t('rooms_admin.comment'), comment),
        h('div', { class: 'form-grid' }, mods.el, members.el)),
      onSubmit: () => {
        const body = {
          name: name.value.trim(),
          kind: kind.value,
          capacity: Number.parseInt(capacity.value, 10),
          public: isPublic.checked,
          waiting_room: waitingRoom.checked,
          moderators: mods.selected(),
          members: members.selected(),
          comment: comment.value.trim(),
        };
        if (owner) body.owner = owner.value ? Number(owner.value) : null;
        if (!body.name) throw new Error(t('rooms_admin.name_missing'));
        if (!Number.isInteger(body.capacity) || body.capacity < 1) throw new Error(t('rooms_admin.capacity_invalid'));
        return room ? api.updateRoom(room.id, body) : api.createRoom(body);
      },
    });
  }

  async function createRoom() {
    const created = await roomDialog(null);
    if (created) {
      toast(t('rooms_admin.created'), 'success');
      table.reload();
    }
  }

  async function editRoom(r) {
    const saved = await roomDialog(r);
    if (saved) {
      toast(t('rooms_admin.saved', { name: r.name }), 'success');
      table.reload();
    }
  }

  async function deleteRoom(r) {
    const live = Number(r.participants) || 0;
    const ok = await confirmDialog({
      title: t('rooms_admin.delete_title'),
      message: live ? t('rooms_admin.delete_message_live', { name: r.name, count: live }) : t('rooms_admin.delete_message', { name: r.name }),
      confirmLabel: t('rooms_admin.delete_title'),
    });
    if (!ok) return;
    try {
      await api.deleteRoom(r.id);
      toast(t('rooms_admin.deleted', { name: r.name }), 'success');
      table.reload();
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  const create = h('button', { type: 'button', id: 'room-create', class: 'btn btn-primary', on: { click: createRoom } }, `+ ${t('rooms_admin.new')}`);
  container.append(pageHeader(mine ? t('myrooms.title') : t('rooms_admin.title'), filterBox('admin-room-filter', t('rooms.filter'), table), create), table.el);
  loadUsers().then(() => table.rerender());
  return table.stop;
}
