// Room list: #room-list with one [data-room-id] card per room, a live .participant-count and an .enter-room button.
import { api } from '../api.js';
import { h, mount, icon, every, KIND_LABELS } from '../dom.js';
import { alertBox, pageHeader } from '../ui.js';
import { t } from '../i18n.js';

const REFRESH_MS = 3000;

export function renderRooms(container, { app }) {
  document.title = `${t('rooms.title')} · Convene`;
  const cards = new Map(); // room id → {el, refs}
  let rooms = [];
  let loaded = false;

  const filter = h('input', {
    id: 'room-filter', type: 'search', placeholder: t('rooms.filter'), 'aria-label': t('rooms.filter_label'),
    autocomplete: 'off',
  });
  const status = h('div', { id: 'room-list-status', class: 'list-status', role: 'status' });
  const list = h('div', { id: 'room-list', class: 'room-grid', 'aria-live': 'off', 'aria-busy': 'true' });
  const empty = h('div', { id: 'room-list-empty', class: 'panel empty-state', hidden: true });

  const manage = { admin: '/admin/rooms', organiser: '/my-rooms' }[app.user.role];
  const adminLink = manage
    ? h('a', { href: manage, class: 'btn btn-secondary', 'data-link': true, id: 'manage-rooms' }, t('rooms.manage'))
    : null;

  mount(container,
    h('section', { class: 'page rooms-page', 'aria-labelledby': 'rooms-title' },
      pageHeader(t('rooms.title'), filter, adminLink),
      status,
      list,
      empty));
  container.querySelector('h1').id = 'rooms-title';

  function buildCard(room) {
    const refs = {
      name: h('h2', { class: 'room-name' }),
      kind: h('span', { class: 'badge badge-kind' }),
      access: h('span', { class: 'badge' }),
      mine: h('span', { class: 'badge badge-accent', hidden: true }, t('rooms.moderator')),
      comment: h('p', { class: 'room-comment' }),
      count: h('span', { class: 'participant-count', 'aria-hidden': 'false' }),
      capacity: h('span', { class: 'room-capacity' }),
      countLabel: h('span', { class: 'sr-only' }),
      meter: h('span', { class: 'meter-fill' }),
      full: h('span', { class: 'badge badge-warn', hidden: true }, t('rooms.full')),
      enter: h('button', { type: 'button', class: 'btn btn-primary enter-room' }, icon('enter'), h('span', {}, t('rooms.enter'))),
    };
    const el = h('article', { class: 'room-card panel', dataset: { roomId: String(room.id) } },
      h('div', { class: 'room-card-head' }, refs.name, h('div', { class: 'room-badges' }, refs.kind, refs.access, refs.mine)),
      refs.comment,
      h('div', { class: 'room-card-foot' },
        h('div', { class: 'room-occupancy' },
          h('span', { class: 'count-badge', title: t('rooms.people_now') }, icon('users'), refs.count, refs.countLabel),
          refs.capacity, refs.full),
        refs.enter),
      h('span', { class: 'meter', 'aria-hidden': 'true' }, refs.meter));
    refs.enter.addEventListener('click', () => app.navigate(`/room/${encodeURIComponent(room.id)}`));
    return { el, refs };
  }

  function updateCard(card, room) {
    const { refs } = card;
    const live = Number(room.participants) || 0;
    const cap = Number(room.capacity) || 0;
    refs.name.textContent = room.name;
    refs.kind.textContent = KIND_LABELS[room.kind] || room.kind || '';
    refs.kind.dataset.kind = room.kind || '';
    refs.access.textContent = room.public ? t('rooms.public') : t('rooms.members_only');
    refs.access.className = room.public ? 'badge badge-public' : 'badge badge-private';
    refs.mine.hidden = !(room.owner === app.user.id || (Array.isArray(room.moderators) && room.moderators.includes(app.user.id)));
    refs.comment.textContent = room.comment || '';
    refs.comment.hidden = !room.comment;
    if (refs.count.textContent !== String(live)) {
      refs.count.textContent = String(live);
      card.el.classList.remove('count-changed');
      void card.el.offsetWidth; // restart the highlight animation
      card.el.classList.add('count-changed');
    }
    refs.countLabel.textContent = ` ${t('rooms.people_in_room', { count: live })}`;
    refs.capacity.textContent = cap ? t('rooms.of_capacity', { capacity: cap }) : '';
    refs.meter.style.width = cap ? `${Math.min(100, (live / cap) * 100)}%` : '0%';
    const full = cap > 0 && live >= cap;
    refs.full.hidden = !full;
    card.el.classList.toggle('is-full', full);
    card.el.classList.toggle('is-live', live > 0);
    refs.enter.setAttribute('aria-label', t('rooms.enter_named', { name: room.name }));
    card.el.dataset.participants = String(live);
  }

  function applyFilter() {
    const q = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const room of rooms) {
      const card = cards.get(String(room.id));
      const match = !q || room.name.toLowerCase().includes(q) || (room.comment || '').toLowerCase().includes(q);
      card.el.hidden = !match;
      if (match) shown++;
    }
    if (!loaded) return;
    if (rooms.length === 0) {
      mount(empty, h('h2', {}, t('rooms.none_title')),
        h('p', {}, app.user.role === 'admin' ? t('rooms.none_admin') : t('rooms.none_user')));
      empty.hidden = false;
    } else if (shown === 0) {
      mount(empty, h('p', {}, t('rooms.no_match', { query: filter.value.trim() })));
      empty.hidden = false;
    } else {
      empty.hidden = true;
    }
  }

  function apply(next) {
    rooms = [...next].sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }));
    const seen = new Set();
    let prev = null;
    for (const room of rooms) {
      const id = String(room.id);
      seen.add(id);
      let card = cards.get(id);
      if (!card) {
        card = buildCard(room);
        cards.set(id, card);
      }
      updateCard(card, room);
      // Keep DOM order = sorted order, moving only what is out of place.
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== card.el) list.insertBefore(card.el, want);
      prev = card.el;
    }
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.el.remove();
        cards.delete(id);
      }
    }
    applyFilter();
  }

  let failing = false;
  async function refresh() {
    try {
      const data = await api.rooms();
      loaded = true;
      list.setAttribute('aria-busy', 'false');
      apply(Array.isArray(data) ? data : []);
      if (failing) mount(status);
      failing = false;
    } catch (err) {
      if (err.status === 401) return;
      failing = true;
      mount(status, alertBox(loaded ? t('rooms.refresh_failed', { message: err.message }) : err.message,
        loaded ? 'warn' : 'error'));
    }
  }

  filter.addEventListener('input', applyFilter);
  const stop = every(REFRESH_MS, refresh);
  return stop;
}
