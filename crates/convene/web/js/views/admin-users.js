// Administration → Users: #users-table, #user-create, dialog form #user-form.
import { api } from '../api.js';
import { h, formatShortDateTime, formatDateTime, ROLE_LABELS } from '../dom.js';
import { formDialog, confirmDialog, field, pageHeader, toast } from '../ui.js';
import { liveTable, filterBox, rowActions, smallButton } from './admin-common.js';

const MIN_PASSWORD = 8;

function roleSelect(value) {
  return h('select', { id: 'user-role', name: 'role', required: true },
    Object.entries(ROLE_LABELS).map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

function passwordInputs(required) {
  const pw = h('input', {
    id: 'user-password', name: 'password', type: 'password', autocomplete: 'new-password',
    minlength: MIN_PASSWORD, required,
  });
  const again = h('input', {
    id: 'user-password-again', name: 'password_again', type: 'password', autocomplete: 'new-password', required,
  });
  const check = () => again.setCustomValidity(pw.value === again.value ? '' : 'The two passwords differ.');
  pw.addEventListener('input', check);
  again.addEventListener('input', check);
  return { pw, again };
}

export function renderAdminUsers(container, { app }) {
  const t = liveTable({
    id: 'users-table',
    caption: 'User accounts',
    keyAttr: 'userId',
    key: (u) => u.id,
    rowData: (u) => ({ login: u.login, role: u.role, enabled: String(!!u.enabled) }),
    load: () => api.users(),
    refreshMs: 10000,
    emptyText: 'No users.',
    matches: (u, q) => [u.login, u.display_name, u.role].some((x) => String(x || '').toLowerCase().includes(q)),
    columns: [
      { label: 'Login', cls: 'col-login', cell: (u) => h('span', { class: 'mono' }, u.login) },
      { label: 'Display name', cell: (u) => u.display_name || '—' },
      { label: 'Role', cell: (u) => h('span', { class: ['badge', `role-${u.role}`] }, ROLE_LABELS[u.role] || u.role) },
      {
        label: 'Status',
        cell: (u) => h('span', { class: ['badge', u.enabled ? 'badge-ok' : 'badge-muted'] }, u.enabled ? 'Enabled' : 'Disabled'),
      },
      { label: 'Created', cell: (u) => h('time', { datetime: u.created_at || '', title: formatDateTime(u.created_at) }, formatShortDateTime(u.created_at)) },
      {
        label: 'Actions',
        cls: 'col-actions',
        cell: (u) => rowActions(
          smallButton('Edit', 'btn-secondary edit-user', () => editUser(u), { 'aria-label': `Edit ${u.login}` }),
          smallButton('Delete', 'btn-danger-ghost delete-user', () => deleteUser(u), {
            'aria-label': `Delete ${u.login}`,
            disabled: u.id === app.user.id,
            title: u.id === app.user.id ? 'You cannot delete your own account' : null,
          })),
      },
    ],
  });

  async function createUser() {
    const login = h('input', {
      id: 'user-login', name: 'login', required: true, autocomplete: 'off', maxlength: 64,
      pattern: '[A-Za-z0-9._@\\-]+', title: 'Letters, digits, and . _ @ -', autocapitalize: 'none', spellcheck: 'false',
    });
    const display = h('input', { id: 'user-display-name', name: 'display_name', maxlength: 100, autocomplete: 'off' });
    const role = roleSelect('user');
    const { pw, again } = passwordInputs(true);
    const created = await formDialog({
      id: 'user-form',
      title: 'New user',
      submitLabel: 'Create user',
      build: (body) => body.append(
        field('Login', login, 'Used to sign in: letters, digits and . _ @ - (at most 64). Cannot be changed later.'),
        field('Display name', display, 'Shown to other participants.'),
        field('Role', role, 'Web service accounts can use the API but cannot sign in to this web interface.'),
        field('Password', pw, `At least ${MIN_PASSWORD} characters.`),
        field('Repeat password', again)),
      onSubmit: () => api.createUser({
        login: login.value.trim(),
        password: pw.value,
        role: role.value,
        display_name: display.value.trim() || login.value.trim(),
      }),
    });
    if (created) {
      toast(`User ${created.login || login.value.trim()} created.`, 'success');
      t.reload();
    }
  }

  async function editUser(u) {
    const display = h('input', { id: 'user-display-name', name: 'display_name', value: u.display_name || '', maxlength: 100 });
    const role = roleSelect(u.role);
    const enabled = h('input', { id: 'user-enabled', name: 'enabled', type: 'checkbox', checked: !!u.enabled });
    const { pw, again } = passwordInputs(false);
    const self = u.id === app.user.id;
    if (self) {
      role.disabled = true;
      enabled.disabled = true;
    }
    const saved = await formDialog({
      id: 'user-form',
      title: `Edit ${u.login}`,
      build: (body) => body.append(
        field('Login', h('input', { id: 'user-login', value: u.login, readonly: true, class: 'mono' })),
        field('Display name', display),
        field('Role', role, self ? 'You cannot change your own role.' : null),
        field('Account enabled', enabled, self ? 'You cannot disable your own account.' : 'A disabled account cannot sign in.'),
        h('fieldset', { class: 'fieldset' },
          h('legend', {}, 'Set a new password (optional)'),
          field('New password', pw, `Leave empty to keep the current password. At least ${MIN_PASSWORD} characters.`),
          field('Repeat new password', again))),
      onSubmit: async () => {
        const patch = { display_name: display.value.trim() };
        if (!self) {
          patch.role = role.value;
          patch.enabled = enabled.checked;
        }
        if (pw.value) patch.password = pw.value;
        return api.updateUser(u.id, patch);
      },
    });
    if (saved) {
      toast(`User ${u.login} saved.`, 'success');
      if (self && saved && typeof saved === 'object' && saved.login) app.setUser({ ...app.user, display_name: saved.display_name });
      t.reload();
    }
  }

  async function deleteUser(u) {
    const ok = await confirmDialog({
      title: 'Delete user',
      message: `Delete the account ${u.login}${u.display_name ? ` (${u.display_name})` : ''}? This cannot be undone.`,
      confirmLabel: 'Delete user',
    });
    if (!ok) return;
    try {
      await api.deleteUser(u.id);
      toast(`User ${u.login} deleted.`, 'success');
      t.reload();
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  const create = h('button', { type: 'button', id: 'user-create', class: 'btn btn-primary', on: { click: createUser } }, '+ New user');
  container.append(
    pageHeader('Users', filterBox('user-filter', 'Filter users', t), create),
    t.el);
  return t.stop;
}
