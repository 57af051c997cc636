// Shared widgets: toasts, confirmation and form dialogs, alerts.
import { h, icon } from './dom.js';
import { t } from './i18n.js';

/** Shows a short message in the corner. level: info | success | warn | error. */
export function toast(message, level = 'info', ms = 5000) {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div', { class: ['toast', `toast-${level}`], role: level === 'error' ? 'alert' : null },
    h('span', { class: 'toast-text' }, message),
    h('button', {
      type: 'button', class: 'icon-btn', 'aria-label': t('common.dismiss'),
      on: { click: () => el.remove() },
    }, icon('close')),
  );
  box.appendChild(el);
  setTimeout(() => el.remove(), ms);
}

/** An inline error/info box (role=alert for errors). */
export function alertBox(message, level = 'error', attrs = {}) {
  return h('div', { class: ['alert', `alert-${level}`], role: level === 'error' ? 'alert' : 'status', ...attrs }, message);
}

/**
 * A modal dialog. build(form, close) fills the form; onSubmit(form) may throw an Error
 * whose message is shown in the dialog; resolves with onSubmit's result, or null when cancelled.
 */
export function formDialog({ id, title, submitLabel = t('common.save'), danger = false, build, onSubmit, wide = false }) {
  return new Promise((resolve) => {
    const error = h('div', { class: 'alert alert-error', role: 'alert', hidden: true, id: id ? `${id}-error` : null });
    const submit = h('button', {
      type: 'submit', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], id: id ? `${id}-submit` : null,
    }, submitLabel);
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary', id: id ? `${id}-cancel` : null }, t('common.cancel'));
    const body = h('div', { class: 'dialog-body' });
    const form = h('form', { class: 'dialog-form', id, novalidate: false },
      h('header', { class: 'dialog-header' },
        h('h2', { id: id ? `${id}-title` : null }, title),
        h('button', { type: 'button', class: 'icon-btn', 'aria-label': t('common.close'), on: { click: () => finish(null) } }, icon('close'))),
      body,
      error,
      h('footer', { class: 'dialog-footer' }, cancel, submit),
    );
    const dialog = h('dialog', { class: ['dialog', wide ? 'dialog-wide' : null], 'aria-labelledby': id ? `${id}-title` : null }, form);
    let done = false;
    const finish = (value) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    cancel.addEventListener('click', () => finish(null));
    dialog.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      finish(null);
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      error.hidden = true;
      submit.disabled = true;
      try {
        const result = await onSubmit(form);
        finish(result === undefined ? true : result);
      } catch (err) {
        error.textContent = err && err.message ? err.message : String(err);
        error.hidden = false;
      } finally {
        submit.disabled = false;
      }
    });
    build(body, finish);
    document.body.appendChild(dialog);
    dialog.showModal();
    const first = body.querySelector('input:not([type=hidden]):not([disabled]):not([readonly]), select, textarea');
    (first || submit).focus();
  });
}

/** Asks for confirmation; resolves true or false. The confirm button is #confirm-ok. */
export async function confirmDialog({ title, message, confirmLabel = t('common.confirm'), danger = true }) {
  const r = await formDialog({
    id: 'confirm',
    title,
    submitLabel: confirmLabel,
    danger,
    build: (body) => body.appendChild(h('p', {}, message)),
    onSubmit: async () => true,
  });
  return r === true;
}

/** A labelled form field. control gets an id derived from name when it has none. */
export function field(label, control, hint) {
  if (!control.id) control.id = `f-${control.name || Math.random().toString(36).slice(2)}`;
  const hintEl = hint ? h('small', { class: 'field-hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  if (control.type === 'checkbox') {
    return h('div', { class: 'field field-check' }, control, h('label', { for: control.id }, label), hintEl);
  }
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

/** A page heading with optional actions on the right. */
export function pageHeader(title, ...actions) {
  return h('div', { class: 'page-header' }, h('h1', {}, title), h('div', { class: 'page-actions' }, actions));
}
