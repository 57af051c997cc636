// The whiteboard's tabs and toolbar (views/room-board.js): built once, then updated in place from the view's
// state, so that a click in progress is never lost to a re-render. Buttons carry [data-tool] or [data-action].
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { LIMITS } from '../board-model.js';
import { COLORS, DEFAULT_WIDTH, DRAW_TOOLS, TEXT_SIZES, WIDTHS, boardIcon } from './room-board-tools.js';

const TOOL_LABELS = {
  pen: () => t('board.tool.pen'),
  highlighter: () => t('board.tool.highlighter'),
  line: () => t('board.tool.line'),
  arrow: () => t('board.tool.arrow'),
  rect: () => t('board.tool.rect'),
  ellipse: () => t('board.tool.ellipse'),
  text: () => t('board.tool.text'),
  eraser: () => t('board.tool.eraser'),
  select: () => t('board.tool.select'),
  laser: () => t('board.tool.laser'),
};

/** Why an operation cannot go, for people (the reasons of board-model.js opProblem). */
export function problemText(why) {
  switch (why) {
    case 'boards': return t('board.problem.boards', { max: LIMITS.MAX_BOARDS });
    case 'name': return t('board.problem.name', { max: LIMITS.MAX_NAME_CHARS });
    case 'last_board': return t('board.problem.last_board');
    case 'elements': return t('board.problem.elements', { max: LIMITS.MAX_ELEMENTS });
    case 'full': return t('board.problem.full');
    case 'page': return t('board.problem.page');
    case 'text': return t('board.problem.text', { max: LIMITS.MAX_TEXT_CHARS });
    case 'too_large': case 'count': return t('board.problem.too_large');
    default: return t('board.problem.other');
  }
}

/** A small icon button with [data-action]; its label is its tooltip and accessible name. */
export function boardButton(action, iconName, label, extra = {}) {
  return h('button', {
    type: 'button', class: 'btn btn-secondary btn-small board-btn', title: label, 'aria-label': label, dataset: { action }, ...extra,
  }, boardIcon(iconName));
}

/**
 * The export address of a board (GET /api/v1/rooms/{room}/boards/{board}/export): format 'png' or 'pdf', page the
 * 1-based slide number or 'all' (PDF only).
 */
export function exportUrl(room, board, format, page) {
  return `/api/v1/rooms/${encodeURIComponent(room)}/boards/${encodeURIComponent(board)}/export?format=${format}&page=${page}`;
}

/**
 * The Export menu (a <details> disclosure, [data-testid="board-export"]) for everyone in the room: plain downloads
 * (<a download>; the session cookie goes along, guests' too). A board with slides: this slide as PNG / PDF, all
 * slides as PDF; a plain board: the board as PNG / PDF.
 */
function createExportMenu() {
  const link = (testid) => h('a', { class: 'board-export-item', download: true, dataset: { testid } });
  const png = link('board-export-png');
  const pdf = link('board-export-pdf');
  const all = link('board-export-pdf-all');
  const summary = h('summary', { class: 'btn btn-secondary btn-small board-export-toggle', title: t('board.export_title') },
    boardIcon('download'), h('span', { class: 'label' }, t('board.export')));
  const menu = h('div', { class: 'board-export-menu' }, png, pdf, all);
  const details = h('details', { class: 'board-export', dataset: { testid: 'board-export' } }, summary, menu);
  const shut = (refocus) => {
    if (!details.open) return;
    details.open = false;
    if (refocus) summary.focus();
  };
  menu.addEventListener('click', (ev) => {
    if (ev.target.closest('a')) shut(false);
  });
  details.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape' || !details.open) return;
    ev.preventDefault();
    ev.stopPropagation();
    shut(true);
  });
  details.addEventListener('focusout', (ev) => {
    if (!details.contains(ev.relatedTarget)) shut(false);
  });
  let drawn = '';
  return {
    element: details,
    /** s: {room, board (id or null), page (0-based), slides (the board's pages; 0 for a plain board)} */
    update(s) {
      details.hidden = s.room == null || s.board == null;
      if (details.hidden) {
        details.open = false;
        return;
      }
      const slides = s.slides > 0;
      const n = s.page + 1;
      const key = `${s.room}/${s.board}/${n}/${slides}`;
      if (key === drawn) return;
      drawn = key;
      png.href = exportUrl(s.room, s.board, 'png', n);
      pdf.href = exportUrl(s.room, s.board, 'pdf', n);
      all.href = exportUrl(s.room, s.board, 'pdf', 'all');
      png.textContent = slides ? t('board.export_slide_png') : t('board.export_board_png');
      pdf.textContent = slides ? t('board.export_slide_pdf') : t('board.export_board_pdf');
      all.textContent = t('board.export_all_pdf');
      all.hidden = !slides;
    },
  };
}

/**
 * The toolbars: drawing tools, colours, width and text size, undo / redo / delete / clear (for those who can
 * draw); zoom, pages and "follow the presenter" (for everyone). on: {tool(name), color(c), width(n), size(n)}.
 */
export function createToolbar(on) {
  const tools = DRAW_TOOLS.map((name) => h('button', {
    type: 'button', class: 'btn btn-secondary btn-small board-btn board-tool', 'aria-pressed': 'false',
    title: TOOL_LABELS[name](), 'aria-label': TOOL_LABELS[name](), dataset: { tool: name },
    on: { click: () => on.tool(name) },
  }, boardIcon(name)));
  const swatches = COLORS.map((c) => {
    const swatch = h('button', {
      type: 'button', class: 'board-swatch', 'aria-pressed': 'false', title: t('board.color_named', { color: c }),
      'aria-label': t('board.color_named', { color: c }), dataset: { color: c },
      on: { click: () => on.color(c) },
    });
    // Through the CSSOM: the page's CSP refuses style attributes.
    swatch.style.setProperty('--swatch', c);
    return swatch;
  });
  const custom = h('input', {
    type: 'color', class: 'board-color-input', title: t('board.custom_color'), 'aria-label': t('board.custom_color'),
    dataset: { action: 'custom-color' }, on: { input: (ev) => on.color(ev.target.value) },
  });
  const width = h('select', {
    class: 'board-select', title: t('board.width'), 'aria-label': t('board.width'), dataset: { action: 'width' },
    on: { change: (ev) => on.width(Number(ev.target.value)) },
  }, WIDTHS.map((w) => h('option', { value: String(w) }, t('board.width_n', { n: w }))));
  const size = h('select', {
    class: 'board-select', title: t('board.text_size'), 'aria-label': t('board.text_size'), dataset: { action: 'text-size' },
    on: { change: (ev) => on.size(Number(ev.target.value)) },
  }, TEXT_SIZES.map((s) => h('option', { value: String(s) }, t('board.size_n', { n: s }))));
  const undo = boardButton('undo', 'undo', t('board.undo'));
  const redo = boardButton('redo', 'redo', t('board.redo'));
  const del = boardButton('delete', 'trash', t('board.delete'));
  const clear = boardButton('clear', 'clear', t('board.clear'));
  const zoom = h('span', { class: 'board-zoom small muted', dataset: { testid: 'board-zoom' } }, '100 %');
  const page = h('span', { class: 'board-page small', 'aria-live': 'polite', dataset: { testid: 'board-page' } });
  const prev = boardButton('prev-page', 'prev', t('board.prev'));
  const next = boardButton('next-page', 'next', t('board.next'));
  const follow = h('button', {
    type: 'button', class: 'btn btn-secondary btn-small board-follow', 'aria-pressed': 'true', dataset: { action: 'follow' },
  }, boardIcon('follow'), h('span', { class: 'label' }, t('board.follow')));
  const readonly = h('span', { class: 'board-readonly small muted', dataset: { testid: 'board-readonly' }, hidden: true }, t('board.readonly'));
  const documentName = h('span', { class: 'board-document small muted', hidden: true });
  const exporter = createExportMenu();
  const sep = () => h('span', { class: 'board-sep', 'aria-hidden': 'true' });

  const draw = h('div', { class: 'board-group board-draw', role: 'group', 'aria-label': t('board.tools') },
    tools, sep(), swatches, custom, width, size, sep(), undo, redo, del, clear);
  const view = h('div', { class: 'board-group board-view', role: 'toolbar', 'aria-label': t('board.view') },
    boardButton('zoom-out', 'zoom_out', t('board.zoom_out')), zoom, boardButton('zoom-in', 'zoom_in', t('board.zoom_in')),
    boardButton('fit', 'fit', t('board.fit')), sep(), prev, page, next, follow, exporter.element, documentName, readonly);
  const element = h('div', { class: 'board-toolbar', role: 'toolbar', 'aria-label': t('board.toolbar') }, draw);

  return {
    /** The drawing tools (hidden for those who watch only). */
    element,
    /** Zoom, pages and follow, for everyone (the view puts it beside the tabs, to leave the canvas its height). */
    view,
    /**
     * s: {draw, loaded, tool, color, width, textSize, canUndo, canRedo, selected, page (0-based), pages, follow,
     * document (name or null), zoom, room (id), board (id or null), slides (the board's pages, 0 for a plain one)}
     */
    update(s) {
      element.hidden = !s.draw;
      readonly.hidden = s.draw || !s.loaded;
      for (const b of tools) {
        const active = b.dataset.tool === s.tool;
        b.setAttribute('aria-pressed', String(active));
        b.classList.toggle('is-on', active);
      }
      for (const b of swatches) b.setAttribute('aria-pressed', String(b.dataset.color === s.color));
      custom.value = s.color;
      width.value = String(s.width);
      width.hidden = !(s.tool in DEFAULT_WIDTH);
      size.value = String(s.textSize);
      size.hidden = s.tool !== 'text';
      undo.disabled = !s.canUndo;
      redo.disabled = !s.canRedo;
      del.hidden = s.tool !== 'select';
      del.disabled = !s.selected;
      page.textContent = t('board.page_of', { page: s.page + 1, pages: s.pages });
      prev.disabled = s.page <= 0;
      next.disabled = s.page >= s.pages - 1;
      for (const el of [prev, next, page]) el.hidden = s.pages <= 1;
      follow.setAttribute('aria-pressed', String(s.follow));
      follow.classList.toggle('is-on', s.follow);
      follow.title = s.follow ? t('board.follow_on') : t('board.follow_off');
      documentName.hidden = !s.document;
      documentName.textContent = s.document ? t('board.document', { name: s.document }) : '';
      zoom.textContent = `${Math.round(s.zoom * 100)} %`;
      exporter.update({ room: s.loaded ? s.room : null, board: s.board, page: s.page, slides: s.slides });
    },
  };
}

/**
 * The tabs, one per board ([data-board-id], the current one aria-selected), and for those who can draw the add,
 * rename and remove buttons. Rebuilt whenever the boards change.
 */
export function renderTabs(tabs, actions, { boards, current, draw, onSelect }) {
  tabs.replaceChildren(...boards.map((b) => h('button', {
    type: 'button', role: 'tab', class: ['board-tab', b.id === current ? 'is-active' : null],
    'aria-selected': String(b.id === current), dataset: { boardId: String(b.id) }, title: b.name,
    on: { click: () => onSelect(b.id) },
  }, b.document ? boardIcon('board') : null, h('span', { class: 'board-tab-name' }, b.name))));
  const acts = [];
  if (draw) {
    acts.push(boardButton('add-board', 'plus', t('board.add'), { disabled: boards.length >= LIMITS.MAX_BOARDS }));
    if (current != null) acts.push(boardButton('rename-board', 'edit', t('board.rename')));
    if (boards.length > 1) acts.push(boardButton('remove-board', 'close', t('board.remove')));
  }
  actions.replaceChildren(...acts);
}
