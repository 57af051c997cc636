// Administration → Rooms: #admin-rooms-table, #room-create, dialog form #room-form.
import { api } from '../api.js';
import { h, KIND_LABELS } from '../dom.js';
import { formDialog, confirmDialog, field, pageHeader, toast } from '../ui.js';
import { liveTable, filterBox, rowActions, smallButton } from './admin-common.js';

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
        u.enabled === false ? h('span', { class: 'badge badge-muted' }, 'disabled') : null));
  });
  const updateCount = () => {
    const n = boxes.filter((b) => b.box.checked).length;
    count.textContent = `${n} selected`;
  };
  const filter = h('input', { type: 'search', id: `${id}-filter`, placeholder: 'Filter users', 'aria-label': `Filter ${legend.toLowerCase()}`, autocomplete: 'off' });
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const li of items) li.hidden = !!q && !li.textContent.toLowerCase().includes(q);
  });
  const list = h('ul', { class: 'picker-list' }, items.length ? items : h('li', { class: 'muted' }, 'No users.'));
  list.addEventListener('change', updateCount);
  updateCount();
  const el = h('fieldset', { class: 'fieldset picker', id },
    h('legend', {}, legend, ' ', count),
    hint ? h('p', { class: 'field-hint' }, hint) : null,
    filter,
    list);
  return { el, selected: () => boxes.filter((b) => b.box.checked).map((b) => b.user.id) };
}

export function renderAdminRooms(container) {
  let users = [];
  let usersById = new Map();

  async function loadUsers() {
    try {
      users = (await api.users()) || [];
      users.sort((a, b) => (a.display_name || a.login).localeCompare(b.display_name || b.login, undefined, { sensitivity: 'base' }));
      usersById = new Map(users.map((u) => [String(u.id), u]));
    } catch (err) {
      if (err.status !== 401) toast(`Could not load users: ${err.message}`, 'error');
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

  const t = liveTable({
    id: 'admin-rooms-table',
    caption: 'Rooms',
    keyAttr: 'roomId',
    key: (r) => r.id,
    rowData: (r) => ({ name: r.name }),
    load: () => api.rooms(),
    refreshMs: 5000,
    emptyText: 'No rooms yet. Create the first one.',
    matches: (r, q) => [r.name, r.comment, r.kind].some((x) => String(x || '').toLowerCase().includes(q)),
    columns: [
      { label: 'Name', cell: (r) => h('strong', {}, r.name) },
      { label: 'Kind', cell: (r) => h('span', { class: 'badge badge-kind', dataset: { kind: r.kind } }, KIND_LABELS[r.kind] || r.kind) },
      { label: 'Capacity', cls: 'num', cell: (r) => String(r.capacity) },
      { label: 'Access', cell: (r) => h('span', { class: ['badge', r.public ? 'badge-public' : 'badge-private'] }, r.public ? 'Public' : 'Members only') },
      { label: 'Live', cls: 'num', cell: (r) => h('span', { class: 'participant-count' }, String(r.participants ?? 0)) },
      { label: 'Moderators', cell: (r) => names(r.moderators) },
      { label: 'Members', cls: 'num', cell: (r) => h('span', { title: usersTitle(r.members) }, String((r.members || []).length)) },
      { label: 'Comment', cls: 'col-comment', cell: (r) => r.comment || '' },
      {
        label: 'Actions',
        cls: 'col-actions',
        cell: (r) => rowActions(
          h('a', { href: `/room/${encodeURIComponent(r.id)}`, class: 'btn btn-small btn-ghost open-room', 'data-link': true, 'aria-label': `Enter ${r.name}` }, 'Enter'),
          smallButton('Edit', 'btn-secondary edit-room', () => editRoom(r), { 'aria-label': `Edit ${r.name}` }),
          smallButton('Delete', 'btn-danger-ghost delete-room', () => deleteRoom(r), { 'aria-label': `Delete ${r.name}` })),
      },
    ],
  });

  function usersTitle(ids) {
    return (ids || []).map((id) => usersById.get(String(id))?.login || `#${id}`).join(', ');
  }

  async function roomDialog(room) {
    await loadUsers();
    const r = room || { name: '', kind: 'conference', capacity: 25, public: false, moderators: [], members: [], comment: '' };
    const name = h('input', { id: 'room-form-name', name: 'name', required: true, maxlength: 100, value: r.name, autocomplete: 'off' });
    const kind = h('select', { id: 'room-form-kind', name: 'kind' },
      Object.entries(KIND_LABELS).map(([v, label]) => h('option', { value: v, selected: v === r.kind }, label)));
    const capacity = h('input', { id: 'room-form-capacity', name: 'capacity', type: 'number', min: 1, max: 10000, step: 1, required: true, value: String(r.capacity) });
    const isPublic = h('input', { id: 'room-form-public', name: 'public', type: 'checkbox', checked: !!r.public });
    const comment = h('textarea', { id: 'room-form-comment', name: 'comment', rows: 2, maxlength: 2000 });
    comment.value = r.comment || '';
    const mods = userPicker('room-form-moderators', 'moderators', 'Moderators', users, r.moderators,
      'Moderators can remove participants, grant moderation and ask people to mute.');
    const members = userPicker('room-form-members', 'members', 'Members', users, r.members,
      'Members may enter a room that is not public.');
    return formDialog({
      id: 'room-form',
      title: room ? `Edit ${room.name}` : 'New room',
      submitLabel: room ? 'Save' : 'Create room',
      wide: true,
      build: (body) => body.append(
        h('div', { class: 'form-grid' },
          field('Name', name),
          field('Kind', kind, 'Conference: everyone can speak. Presentation: moderators present to an audience. Interview: a meeting of a few people.'),
          field('Capacity', capacity, 'Maximum number of people in the room at once.'),
          field('Public room', isPublic, 'Any signed-in user can enter. Otherwise only members and moderators.')),
        field('Comment', comment),
        h('div', { class: 'form-grid' }, mods.el, members.el)),
      onSubmit: () => {
        const body = {
          name: name.value.trim(),
          kind: kind.value,
          capacity: Number.parseInt(capacity.value, 10),
          public: isPublic.checked,
          moderators: mods.selected(),
          members: members.selected(),
          comment: comment.value.trim(),
        };
        if (!body.name) throw new Error('Please give the room a name.');
        if (!Number.isInteger(body.capacity) || body.capacity < 1) throw new Error('The capacity must be a whole number of at least 1.');
        return room ? api.updateRoom(room.id, body) : api.createRoom(body);
      },
    });
  }

  async function createRoom() {
    const created = await roomDialog(null);
    if (created) {
      toast('Room created.', 'success');
      t.reload();
    }
  }

  async function editRoom(r) {
    const saved = await roomDialog(r);
    if (saved) {
      toast(`Room ${r.name} saved.`, 'success');
      t.reload();
    }
  }

  async function deleteRoom(r) {
    const live = Number(r.participants) || 0;
    const ok = await confirmDialog({
      title: 'Delete room',
      message: `Delete the room ${r.name}?${live ? ` ${live} ${live === 1 ? 'person is' : 'people are'} in it now and will be disconnected.` : ''} This cannot be undone.`,
      confirmLabel: 'Delete room',
    });
    if (!ok) return;
    try {
      await api.deleteRoom(r.id);
      toast(`Room ${r.name} deleted.`, 'success');
      t.reload();
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  const create = h('button', { type: 'button', id: 'room-create', class: 'btn btn-primary', on: { click: createRoom } }, '+ New room');
  container.append(pageHeader('Rooms', filterBox('admin-room-filter', 'Filter rooms', t), create), t.el);
  loadUsers().then(() => t.rerender());
  return t.stop;
}
