// My rooms (/my-rooms, organisers): the rooms the organiser owns, to create, edit, delete and enter — the
// administration's room page limited to them (#admin-rooms-table, #room-create, #room-form; the member pickers
// list people from GET /api/v1/people).
import { h, mount } from '../dom.js';
import { t } from '../i18n.js';
import { renderAdminRooms } from './admin-rooms.js';

export function renderMyRooms(container, ctx) {
  document.title = `${t('myrooms.title')} · Convene`;
  const body = h('div', { class: 'admin-body', id: 'admin-body' });
  mount(container, h('section', { class: 'page admin-page my-rooms-page', id: 'my-rooms', dataset: { page: 'rooms' } }, body));
  return renderAdminRooms(body, { ...ctx, mine: true });
}
