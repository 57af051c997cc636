// Administration → Users: #users-table, #user-create, dialog form #user-form.
import { api } from '../api.js';
import { h, formatShortDateTime, formatDateTime, ROLE_LABELS } from '../dom.js';
import { formDialog, confirmDialog, field, pageHeader, toast } from '../ui.js';
import { liveTable, filterBox, rowActions, smallButton } from './admin-common.js';
import { t } from '../i18n.js';

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
  const check = () => again.setCustomValidity(pw.value === again.value ? '' : t('users.passwords_differ'));
  pw.addEventListener('input', check);
  again.addEventListener('input', check);
  return { pw, again };
}

export function renderAdminUsers(container, { app }) {
  const table = liveTable({
    id: 'users-table',
    caption: t('users.caption'),
    keyAttr: 'userId',
    key: (u) => u.id,
    rowData: (u) => ({ login: u.login, role: u.role, enabled: String(!!u.enabled) }),
    load: () => api.users(),
    refreshMs: 10000,
    emptyText: t('users.empty'),
    matches: (u, q) => [u.login, u.display_name, u.role].some((x) => String(x || '').toLowerCase().includes(q)),
    columns: [
      { label: t('users.login'), cls: 'col-login', cell: (u) => h('span', { class: 'mono' }, u.login) },
      { label: t('users.display_name'), cell: (u) => u.display_name || '—' },
      { label: t('users.role'), cell: (u) => h('span', { class: ['badge', `role-${u.role}`] }, ROLE_LABELS[u.role] || u.role) },
      {
        label: t('users.status'),
        cell: (u) => h('span', { class: ['badge', u.enabled ? 'badge-ok' : 'badge-muted'] }, u.enabled ? t('users.enabled') : t('users.disabled')),
      },
      { label: t('users.created'), cell: (u) => h('time', { datetime: u.created_at || '', title: formatDateTime(u.created_at) }, formatShortDateTime(u.created_at)) },
      {
        label: t('common.actions'),
        cls: 'col-actions',
        cell: (u) => rowActions(
          smallButton(t('common.edit'), 'btn-secondary edit-user', () => editUser(u), { 'aria-label': t('common.edit_named', { name: u.login }) }),
          smallButton(t('common.delete'), 'btn-danger-ghost delete-user', () => deleteUser(u), {
            'aria-label': t('common.delete_named', { name: u.login }),
            disabled: u.id === app.user.id,
            title: u.id === app.user.id ? t('users.cannot_delete_self') : null,
          })),
      },
    ],
  });

  async function createUser() {
    const login = h('input', {
      id: 'user-login', name: 'login', required: true, autocomplete: 'off', maxlength: 64,
      pattern: '[A-Za-z0-9._@\\-]+', title: t('users.login_pattern'), autocapitalize: 'none', spellcheck: 'false',
    });
    const display = h('input', { id: 'user-display-name', name: 'display_name', maxlength: 100, autocomplete: 'off' });
    const role = roleSelect('user');
    const { pw, again } = passwordInputs(true);
    const created = await formDialog({
      id: 'user-form',
      title: t('users.new'),
      submitLabel: t('users.create'),
      build: (body) => body.append(
        field(t('users.login'), login, t('users.login_hint')),
        field(t('users.display_name'), display, t('users.display_name_hint')),
        field(t('users.role'), role, t('users.role_hint')),
        field(t('users.password'), pw, t('users.password_hint', { min: MIN_PASSWORD })),
        field(t('users.password_again'), again)),
      onSubmit: () => api.createUser({
        login: login.value.trim(),
        password: pw.value,
        role: role.value,
        display_name: display.value.trim() || login.value.trim(),
      }),
    });
    if (created) {
      toast(t('users.created_toast', { login: created.login || login.value.trim() }), 'success');
      table.reload();
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
      title: t('common.edit_named', { name: u.login }),
      build: (body) => body.append(
        field(t('users.login'), h('input', { id: 'user-login', value: u.login, readonly: true, class: 'mono' })),
        field(t('users.display_name'), display),
        field(t('users.role'), role, self ? t('users.own_role') : null),
        field(t('users.account_enabled'), enabled, self ? t('users.own_enabled') : t('users.enabled_hint')),
        h('fieldset', { class: 'fieldset' },
          h('legend', {}, t('users.new_password_legend')),
          field(t('users.new_password'), pw, t('users.new_password_hint', { min: MIN_PASSWORD })),
          field(t('users.new_password_again'), again))),
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
      toast(t('users.saved', { login: u.login }), 'success');
      if (self && saved && typeof saved === 'object' && saved.login) app.setUser({ ...app.user, display_name: saved.display_name });
      table.reload();
    }
  }

  async function deleteUser(u) {
    const ok = await confirmDialog({
      title: t('users.delete_title'),
      message: u.display_name ? t('users.delete_message_named', { login: u.login, name: u.display_name }) : t('users.delete_message', { login: u.login }),
      confirmLabel: t('users.delete_title'),
    });
    if (!ok) return;
    try {
      await api.deleteUser(u.id);
      toast(t('users.deleted', { login: u.login }), 'success');
      table.reload();
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  const create = h('button', { type: 'button', id: 'user-create', class: 'btn btn-primary', on: { click: createUser } }, `+ ${t('users.new')}`);
  container.append(
    pageHeader(t('users.title'), filterBox('user-filter', t('users.filter'), table), create),
    table.el);
  return table.stop;
}
