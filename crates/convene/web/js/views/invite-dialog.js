// The moderators' Invite dialog (#invite-dialog): make an invitation link (role, uses, expiry, optional
// password), copy it, and see and revoke the room's invitations. The API: POST/GET /rooms/{id}/invitations,
// DELETE /invitations/{id}.
import { api } from '../api.js';
import { h, icon, formatShortDateTime } from '../dom.js';
import { confirmDialog, field, toast } from '../ui.js';
import { t } from '../i18n.js';

const EXPIRIES = [
  { seconds: 3600, label: () => t('invite.expiry_1h') },
  { seconds: 86400, label: () => t('invite.expiry_1d') },
  { seconds: 7 * 86400, label: () => t('invite.expiry_7d') },
  { seconds: 30 * 86400, label: () => t('invite.expiry_30d') },
];

const STATUS = {
  active: () => t('invite.status.active'),
  expired: () => t('invite.status.expired'),
  revoked: () => t('invite.status.revoked'),
  used: () => t('invite.status.used'),
};

/** Copies text; falls back to selecting it in `input` (no clipboard API outside secure contexts). */
async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input.focus();
    input.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

/** Opens the dialog; resolves when it is closed. */
export function openInviteDialog({ roomId, roomName }) {
  return new Promise((resolve) => {
    const base = `/rooms/${encodeURIComponent(roomId)}/invitations`;
    const role = h('select', { id: 'invite-role', name: 'role' },
      h('option', { value: 'participant', selected: true }, t('invite.role_participant')),
      h('option', { value: 'moderator' }, t('invite.role_moderator')));
    const uses = h('select', { id: 'invite-uses', name: 'uses' },
      h('option', { value: 'single', selected: true }, t('invite.uses_single')),
      h('option', { value: 'multi' }, t('invite.uses_multi')));
    const expiry = h('select', { id: 'invite-expiry', name: 'expires_in' },
      EXPIRIES.map((e) => h('option', { value: String(e.seconds), selected: e.seconds === 86400 }, e.label())));
    const password = h('input', {
      id: 'invite-form-password', name: 'password', type: 'text', autocomplete: 'off', spellcheck: 'false', minlength: 4, maxlength: 256,
    });
    const error = h('div', { id: 'invite-form-error', class: 'alert alert-error', role: 'alert', hidden: true });
    const create = h('button', { type: 'submit', id: 'invite-create', class: 'btn btn-primary' }, icon('plus'), t('invite.create'));
    const link = h('input', { id: 'invite-link', type: 'text', readonly: true, 'aria-label': t('invite.link') });
    const copyBtn = h('button', { type: 'button', id: 'invite-copy', class: 'btn btn-secondary' }, t('invite.copy'));
    const result = h('div', { id: 'invite-result', class: 'invite-result', hidden: true },
      h('label', { for: 'invite-link' }, t('invite.link')),
      h('div', { class: 'invite-link-row' }, link, copyBtn),
      h('p', { id: 'invite-result-note', class: 'muted small' }));
    const list = h('ul', { id: 'invitations-list', class: 'invitations-list' });
    const close = h('button', { type: 'button', id: 'invite-close', class: 'btn btn-secondary' }, t('common.close'));

    const form = h('form', { id: 'invite-form', class: 'invite-form', novalidate: false },
      h('div', { class: 'form-grid' },
        field(t('invite.role'), role),
        field(t('invite.uses'), uses),
        field(t('invite.expiry'), expiry),
        field(t('invite.password_optional'), password, t('invite.password_optional_hint'))),
      error,
      h('div', { class: 'button-row' }, create));
    const dialog = h('dialog', { id: 'invite-dialog', class: 'dialog dialog-wide', 'aria-labelledby': 'invite-dialog-title' },
      h('div', { class: 'dialog-form' },
        h('header', { class: 'dialog-header' },
          h('h2', { id: 'invite-dialog-title' }, roomName ? t('invite.dialog_title_named', { room: roomName }) : t('invite.dialog_title')),
          h('button', { type: 'button', class: 'icon-btn', 'aria-label': t('common.close'), on: { click: () => finish() } }, icon('close'))),
        h('div', { class: 'dialog-body' },
          h('p', { class: 'muted' }, t('invite.note_guests')),
          form,
          result,
          h('h3', { id: 'invitations-title' }, t('invite.list_title')),
          list),
        h('footer', { class: 'dialog-footer' }, close)));

    let done = false;
    function finish() {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve();
    }
    close.addEventListener('click', finish);
    dialog.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      finish();
    });

    async function refresh() {
      let rows;
      try {
        rows = await api.get(base);
      } catch (err) {
        list.replaceChildren(h('li', { class: 'alert alert-error' }, err.message));
        return;
      }
      if (!rows.length) {
        list.replaceChildren(h('li', { class: 'muted', id: 'invitations-empty' }, t('invite.none')));
        return;
      }
      list.replaceChildren(...rows.map((inv) => {
        const parts = [
          inv.role === 'moderator' ? t('invite.role_moderator') : t('invite.role_participant'),
          inv.uses === 'multi' ? t('invite.uses_multi') : t('invite.uses_single'),
          t('invite.until', { time: formatShortDateTime(inv.expires_at) }),
          t('invite.redeemed', { count: inv.redeemed }),
        ];
        if (inv.password_required) parts.push(t('invite.with_password'));
        const revoke = inv.status === 'active'
          ? h('button', {
            type: 'button', class: 'btn btn-small btn-danger-ghost revoke-invitation',
            on: { click: () => revokeInvitation(inv) },
          }, t('invite.revoke'))
          : null;
        return h('li', { class: 'invitation', dataset: { invitationId: String(inv.id), status: inv.status } },
          h('span', { class: ['badge', inv.status === 'active' ? 'badge-ok' : 'badge-muted', 'invitation-status'] }, (STATUS[inv.status] || (() => inv.status))()),
          h('span', { class: 'invitation-summary' }, parts.join(' · ')),
          revoke);
      }));
    }

    async function revokeInvitation(inv) {
      const ok = await confirmDialog({
        title: t('invite.revoke_title'),
        message: t('invite.revoke_message'),
        confirmLabel: t('invite.revoke'),
      });
      if (!ok) return;
      try {
        await api.del(`/invitations/${encodeURIComponent(inv.id)}`);
        toast(t('invite.revoked'), 'success');
      } catch (err) {
        toast(err.message, 'error');
      }
      refresh();
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      error.hidden = true;
      create.disabled = true;
      try {
        const inv = await api.post(base, {
          role: role.value,
          uses: uses.value,
          expires_in: Number.parseInt(expiry.value, 10),
          password: password.value ? password.value : null,
        });
        link.value = inv.url;
        result.hidden = false;
        result.querySelector('#invite-result-note').textContent = inv.password_required
          ? t('invite.give_password') : t('invite.give_link');
        password.value = '';
        link.focus();
        link.select();
        refresh();
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      } finally {
        create.disabled = false;
      }
    });
    copyBtn.addEventListener('click', async () => {
      if (await copy(link.value, link)) toast(t('invite.copied'), 'success', 3000);
      else toast(t('invite.copy_failed'), 'warn');
    });

    document.body.appendChild(dialog);
    dialog.showModal();
    role.focus();
    refresh();
  });
}
