// The live room page (#room). Talks to the room through protocol.js's RoomSession and renders its state.
import { api } from '../api.js';
import { RoomSession, MAX_CHAT_LENGTH, displayName } from '../protocol.js';
import { h, mount, icon, KIND_LABELS } from '../dom.js';
import { confirmDialog } from '../ui.js';
import { renderParticipants, renderMessage, avatar, markSpeaker } from './room-parts.js';
import { createMediaView } from './room-media.js';
import { renderDeviceCheck } from './device-check.js';
import { createLobbyView } from './room-lobby.js';
import { createFilesView } from './room-files.js';
import { createBoardView } from './room-board.js';
import { boardIcon } from './room-board-tools.js';
import { createRecordingView } from './room-recording.js';
import { createRecordingsView } from './room-recordings.js';
import { runningRecording } from '../recording.js';
import { t } from '../i18n.js';

const STATE_LABELS = {
  idle: () => t('room.state.idle'),
  entering: () => t('room.state.entering'),
  connecting: () => t('room.state.connecting'),
  waiting: () => t('room.state.waiting'),
  open: () => t('room.state.open'),
  reconnecting: () => t('room.state.reconnecting'),
  redirecting: () => t('room.state.redirecting'),
  ended: () => t('room.state.ended'),
};

/**
 * The room page: first the device check (views/device-check.js), then the room. A page that comes from another
 * node of the cluster (#moved…, #joined…, ?entry=, ?token=) goes straight in: the check was done there.
 */
export function renderRoom(container, ctx) {
  const { params, query } = ctx;
  if (/^#(?:moved|joined)(?:-[a-z]*)?$/.test(location.hash) || query.has('entry') || query.has('token')) {
    return enterRoom(container, ctx, null);
  }
  const roomId = params[0];
  document.title = `${t('check.title')} · Convene`;
  let leave = null;
  let recordingTimer = null;
  const check = renderDeviceCheck(container, {
    onJoin: (choice) => {
      clearInterval(recordingTimer);
      leave = enterRoom(container, ctx, choice);
    },
  });
  api.rooms({ quiet401: true }).then((rooms) => {
    const r = Array.isArray(rooms) ? rooms.find((x) => String(x.id) === String(roomId)) : null;
    if (r && !leave) check.setRoomName(r.name);
  }).catch(() => {});
  // Whether the room is being recorded, told before entering (again now and then while the check is open). Who may
  // not list the room's recordings learns it from the welcome, before anything is published.
  const askRecording = () => {
    if (leave) return;
    api.recordings(roomId, { quiet401: true }).then((listing) => {
      if (!leave) check.setRecording(runningRecording(listing));
    }, () => {});
  };
  askRecording();
  recordingTimer = setInterval(askRecording, 10000);
  return () => {
    clearInterval(recordingTimer);
    check.destroy();
    leave?.();
  };
}

/** The room itself. checked: the device check's choice ({microphone, camera, tracks}), or null. */
function enterRoom(container, { app, params, query }, checked) {
  const roomId = params[0];
  // The other node signed us in from ?token=; the token is used up, keep it out of history and bookmarks.
  const entryRefused = query.get('entry') === 'refused';
  // #moved: the previous page was in this room on another node, which was drained or died.
  // #moved-mc: the microphone (m) and the camera (c) were on there; they are turned on again here.
  // #joined-mc: the device check on another node let us in (its room lives here), with microphone and camera.
  const movedMatch = /^#(moved|joined)(?:-([a-z]*))?$/.exec(location.hash);
  const movedHere = movedMatch?.[1] === 'moved';
  let restoreMedia = movedMatch?.[2] || (checked ? (checked.microphone ? 'm' : '') + (checked.camera ? 'c' : '') : '');
  let restoreTracks = checked?.tracks || {};
  if (query.has('token') || query.has('entry') || movedMatch) {
    query.delete('token');
    query.delete('entry');
    const rest = query.toString();
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + (movedMatch ? '' : location.hash));
  }
  document.title = `${t('room.title')} · Convene`;

  const session = new RoomSession({
    roomId,
    enter: () => api.enterRoom(roomId, { quiet401: true }),
    carry: () => mediaView.carried() + (boardView.shown ? 'w' : ''),
    // The first move to the room's node: tell the next page that the device check is done (and what it chose).
    navigate: (url) => location.assign(url.includes('#') ? url
      : `${url}#${everConnected ? `moved-${mediaView.carried()}${boardView.shown ? 'w' : ''}` : `joined-${restoreMedia}`}`),
  });
  // Audio and video (before the other listeners: it claims the errors of its own requests).
  const mediaView = createMediaView({ session, notice: (...a) => notice(...a), nameOf: (who) => nameOf(who) });
  // The waiting room: the waiter's panel, the moderators' list and their Invite button.
  const lobbyView = createLobbyView({ session, roomId, user: () => app.user, notice: (...a) => notice(...a) });
  // The whiteboard (views/room-board.js), after the media view: an error the media engine claims is not the board's.
  const boardView = createBoardView({ session, notice: (...a) => notice(...a), onWanted: () => showBoard(true) });
  // The room's files (views/room-files.js): REST only, not the WebSocket. Those who draw can show a document.
  const filesView = createFilesView({
    roomId, user: () => app.user, notice: (...a) => notice(...a),
    board: { canShow: () => boardView.canDraw(), show: (file) => showDocument(file) },
  });
  // Recordings: the indicator, the entering notice and the Record button (live), and the panel of the room's
  // recordings (REST, reloaded on `recording` frames). Before the welcome listener below: it decides on publishing.
  const recordingsView = createRecordingsView({ roomId, notice: (...a) => notice(...a) });
  const recordingView = createRecordingView({ session, roomId, notice: (...a) => notice(...a), onChange: () => recordingsView.refresh() });

  // --- skeleton -----------------------------------------------------------------------------
  const title = h('h1', { id: 'room-name', class: 'room-title' }, t('room.title'));
  const kind = h('span', { id: 'room-kind', class: 'badge badge-kind', hidden: true });
  const serverInfo = h('span', { id: 'room-server', class: 'muted small', hidden: true });
  const statusText = h('span', { class: 'status-text' }, STATE_LABELS.entering());
  const retryBtn = h('button', { type: 'button', id: 'retry-now', class: 'btn btn-small btn-secondary', hidden: true }, t('room.retry_now'));
  const status = h('div', { id: 'connection-status', class: 'connection-status', role: 'status', dataset: { state: 'entering' } },
    h('span', { class: 'status-dot', 'aria-hidden': 'true' }), statusText, retryBtn);

  const notices = h('div', { id: 'room-notices', class: 'notices', role: 'log', 'aria-live': 'polite', 'aria-label': t('room.notices') });
  const ended = h('div', { id: 'room-ended', class: 'room-ended panel', hidden: true, role: 'alert', tabindex: '-1' });

  const media = mediaView.section;

  const handBtn = h('button', { type: 'button', id: 'hand-toggle', class: 'btn btn-secondary btn-tool', 'aria-pressed': 'false', disabled: true },
    icon('hand'), h('span', { class: 'label' }, t('room.raise_hand')));
  const boardBtn = h('button', { type: 'button', id: 'toggle-whiteboard', class: 'btn btn-secondary btn-tool', 'aria-pressed': 'false', 'aria-controls': 'board' },
    boardIcon('board'), h('span', { class: 'label' }, t('board.toggle')));
  const stageArea = h('div', { class: 'stage-area' }, boardView.section, media);
  const leaveBtn = h('button', { type: 'button', id: 'leave-room', class: 'btn btn-danger btn-tool' },
    icon('leave'), h('span', { class: 'label' }, t('room.leave')));

  const participantTotal = h('span', { id: 'participant-total', class: 'count-pill' }, '0');
  const participantList = h('ul', { id: 'participants', class: 'participant-list', 'aria-labelledby': 'participants-title' });

  const chatMessages = h('div', {
    id: 'chat-messages', class: 'chat-messages', role: 'log', 'aria-live': 'polite', 'aria-labelledby': 'chat-title', tabindex: '0',
  });
  const chatEmpty = h('p', { class: 'chat-empty muted', id: 'chat-empty' }, t('chat.empty'));
  const newBelow = h('button', { type: 'button', id: 'chat-new-below', class: 'btn btn-small btn-primary chat-new-below', hidden: true }, t('chat.new_below'));
  const chatInput = h('textarea', {
    id: 'chat-input', name: 'text', rows: 2, maxlength: MAX_CHAT_LENGTH, placeholder: t('chat.placeholder'),
    'aria-label': t('chat.label'), 'aria-describedby': 'chat-help', disabled: true, autocomplete: 'off',
  });
  const chatSend = h('button', { type: 'submit', id: 'chat-send', class: 'btn btn-primary', disabled: true, 'aria-label': t('chat.send_label') },
    icon('send'), h('span', { class: 'label' }, t('chat.send')));
  const chatCounter = h('span', { id: 'chat-counter', class: 'chat-counter muted small', 'aria-live': 'off' });
  const chatForm = h('form', { id: 'chat-form', class: 'chat-form' },
    h('div', { class: 'chat-compose' }, chatInput, chatSend),
    h('div', { class: 'chat-help muted small' },
      h('span', { id: 'chat-help' }, t('chat.help')), chatCounter));

  const root = h('section', { id: 'room', class: 'room-page', dataset: { roomId: String(roomId), state: 'entering' }, 'aria-labelledby': 'room-name' },
    h('header', { class: 'room-header' },
      h('div', { class: 'room-heading' }, title, kind, serverInfo, recordingView.indicator, recordingView.announcer),
      status),
    h('div', { class: 'room-layout' },
      h('div', { class: 'room-stage' },
        recordingView.noticeSlot,
        notices,
        ended,
        lobbyView.waitingPanel,
        stageArea,
        h('div', { class: 'room-toolbar', role: 'toolbar', 'aria-label': t('room.controls') },
          h('div', { class: 'toolbar-group' }, mediaView.controls),
          h('div', { class: 'toolbar-group' }, boardBtn, handBtn, lobbyView.inviteButton, recordingView.toggle, leaveBtn))),
      h('aside', { class: 'room-side', 'aria-label': t('room.side') },
        lobbyView.lobbyPanel,
        h('section', { class: 'panel side-panel participants-panel', id: 'participants-panel' },
          h('h2', { id: 'participants-title' }, icon('users'), ` ${t('room.participants')} `, participantTotal),
          participantList),
        h('section', { class: 'panel side-panel chat-panel', id: 'chat-panel' },
          h('h2', { id: 'chat-title' }, icon('chat'), ` ${t('chat.title')}`),
          h('div', { class: 'chat-scroll-wrap' }, chatMessages, newBelow),
          chatForm),
        filesView.panel,
        recordingsView.panel)));
  mount(container, root);

  // --- session ------------------------------------------------------------------------------
  let everConnected = false;
  let gone = false; // the page was left
  let lastServerId = null;
  let retryTimer = null;
  let drainTimer = null;

  // Notices: transient ones fade after a while, keyed ones replace each other.
  function notice(message, level = 'info', { key = null, sticky = false, ms = 10000 } = {}) {
    if (key) notices.querySelector(`[data-key="${key}"]`)?.remove();
    const el = h('div', { class: ['notice', `notice-${level}`], dataset: key ? { key } : {} },
      h('span', { class: 'notice-text' }, message),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': t('room.dismiss_notice'), on: { click: () => el.remove() } }, icon('close')));
    notices.appendChild(el);
    while (notices.children.length > 5) notices.firstElementChild.remove();
    if (!sticky) setTimeout(() => el.remove(), ms);
    return el;
  }
  const clearNotice = (key) => notices.querySelector(`[data-key="${key}"]`)?.remove();

  function nameOf(who) {
    if (who && typeof who === 'object') return displayName(who);
    const p = who != null ? session.participants.get(who) : null;
    return p ? displayName(p) : t('room.a_moderator');
  }

  function setState(state) {
    root.dataset.state = state;
    status.dataset.state = state;
    if (state !== 'reconnecting') {
      clearInterval(retryTimer);
      statusText.textContent = STATE_LABELS[state] ? STATE_LABELS[state]() : state;
      retryBtn.hidden = true;
    }
    const open = state === 'open';
    chatInput.disabled = !open;
    handBtn.disabled = !open;
    updateSendButton();
    if (!open) participantList.classList.add('stale');
    else participantList.classList.remove('stale');
  }

  function updateRoomInfo() {
    const r = session.room;
    if (r) {
      title.textContent = r.name || t('room.title');
      document.title = `${r.name} · Convene`;
      kind.textContent = KIND_LABELS[r.kind] || r.kind || '';
      kind.hidden = !r.kind;
      root.dataset.kind = r.kind || '';
    }
    // Which node hosts the room: only worth saying in a cluster (welcome.servers lists more than one).
    if (session.server && session.server.name && session.peers.length > 1) {
      serverInfo.textContent = t('room.on_server', { name: session.server.name });
      serverInfo.hidden = false;
    } else {
      serverInfo.hidden = true;
    }
  }

  function updateHand() {
    const raised = !!(session.you && session.you.hand_raised);
    handBtn.setAttribute('aria-pressed', String(raised));
    handBtn.classList.toggle('is-active', raised);
    handBtn.querySelector('.label').textContent = raised ? t('room.lower_hand') : t('room.raise_hand');
  }

  function updateParticipants() {
    const list = session.sortedParticipants();
    participantTotal.textContent = String(list.length);
    const cap = session.room && session.room.capacity;
    participantTotal.title = cap ? t('room.count_of', { count: list.length, capacity: cap }) : `${list.length}`;
    renderParticipants(participantList, list, {
      you: session.you,
      moderator: session.isModerator,
      onAction: moderate,
      kind: session.room?.kind,
      speaker: session.speaker,
    });
    root.classList.toggle('is-moderator', session.isModerator);
    updateHand();
  }

  async function moderate(action, p) {
    const name = displayName(p);
    let sent = false;
    switch (action) {
      case 'kick': {
        const ok = await confirmDialog({
          title: t('room.kick_title'),
          message: t('room.kick_message', { name }),
          confirmLabel: t('room.kick_confirm'),
        });
        if (!ok) return;
        sent = session.kick(p.id);
        break;
      }
      case 'grant_moderator': sent = session.grantModerator(p.id); break;
      case 'revoke_moderator': sent = session.revokeModerator(p.id); break;
      case 'ask_mute':
        sent = session.askMute(p.id);
        if (sent) notice(t('room.asked_to_mute', { name }), 'info', { ms: 5000 });
        break;
      case 'lower_hand': sent = session.lowerHand(p.id); break;
      case 'mute':
        sent = session.mute(p.id);
        if (sent) notice(t('room.muted_other', { name }), 'info', { ms: 5000 });
        break;
      case 'grant_presenter': sent = session.grantPresenter(p.id); break;
      case 'revoke_presenter': sent = session.revokePresenter(p.id); break;
      case 'grant_whiteboard': sent = session.grantWhiteboard(p.id); break;
      case 'revoke_whiteboard': sent = session.revokeWhiteboard(p.id); break;
      default: return;
    }
    if (!sent) notice(t('room.action_not_sent'), 'warn');
  }

  // --- chat ---------------------------------------------------------------------------------
  const nearBottom = () => chatMessages.scrollHeight - chatMessages.scrollTop - chatMessages.clientHeight < 48;
  const scrollToBottom = () => {
    chatMessages.scrollTop = chatMessages.scrollHeight;
    newBelow.hidden = true;
  };

  function renderAllMessages() {
    const items = session.messages.map((m) => renderMessage(m, session.you));
    mount(chatMessages, items.length ? items : chatEmpty);
    scrollToBottom();
  }

  function appendMessage(m) {
    const last = session.messages[session.messages.length - 1];
    if (last !== m) {
      renderAllMessages(); // arrived out of order: redraw sorted
      return;
    }
    const stick = nearBottom();
    chatEmpty.remove();
    chatMessages.appendChild(renderMessage(m, session.you));
    while (chatMessages.children.length > 1000) chatMessages.firstElementChild.remove();
    const mine = session.you && m.participant_id === session.you.id;
    if (stick || mine) scrollToBottom();
    else newBelow.hidden = false;
  }

  function updateSendButton() {
    const len = chatInput.value.length;
    chatSend.disabled = chatInput.disabled || !chatInput.value.trim();
    chatCounter.textContent = len > MAX_CHAT_LENGTH - 200 ? t('chat.counter', { length: len, max: MAX_CHAT_LENGTH }) : '';
  }

  function sendChat() {
    const text = chatInput.value;
    if (!text.trim()) return;
    if (text.length > MAX_CHAT_LENGTH) {
      notice(t('chat.too_long', { max: MAX_CHAT_LENGTH }), 'warn');
      return;
    }
    if (session.sendChat(text)) {
      chatInput.value = '';
      updateSendButton();
    } else {
      notice(t('chat.unsent'), 'warn', { key: 'chat-unsent' });
    }
    chatInput.focus();
  }

  chatForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    sendChat();
  });
  chatInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      sendChat();
    }
  });
  chatInput.addEventListener('input', updateSendButton);
  chatMessages.addEventListener('scroll', () => {
    if (nearBottom()) newBelow.hidden = true;
  });
  newBelow.addEventListener('click', scrollToBottom);

  // --- whiteboard ---------------------------------------------------------------------------
  // Shown, the board takes the stage and the videos make a strip beside it (above it on narrow screens).
  function showBoard(show) {
    boardView.setShown(show);
    root.classList.toggle('board-open', show);
    boardBtn.setAttribute('aria-pressed', String(show));
    boardBtn.classList.toggle('is-on', show);
    boardBtn.title = show ? t('board.toggle_hide') : t('board.toggle_show');
  }
  function showDocument(file) {
    if (!boardView.showDocument(file.id)) return;
    if (!boardView.shown) showBoard(true);
  }
  boardBtn.addEventListener('click', () => showBoard(!boardView.shown));
  showBoard(!!movedMatch?.[2]?.includes('w'));

  // --- controls -----------------------------------------------------------------------------
  handBtn.addEventListener('click', () => {
    const raised = !(session.you && session.you.hand_raised);
    if (!session.setHand(raised)) notice(t('room.not_connected'), 'warn');
  });
  leaveBtn.addEventListener('click', () => {
    session.stop();
    app.navigate('/rooms');
  });
  retryBtn.addEventListener('click', () => session.retryNow());

  function showEnded({ title: heading, message, retry }) {
    const buttons = [];
    if (retry === 'manual') {
      buttons.push(h('button', {
        type: 'button', id: 'rejoin-room', class: 'btn btn-primary',
        on: { click: () => { hideEnded(); session.retryNow(); } },
      }, t('room.enter_again')));
    }
    buttons.push(h('a', { href: '/rooms', class: 'btn btn-secondary', id: 'back-to-rooms', 'data-link': true }, t('room.back_to_rooms')));
    mount(ended,
      h('h2', { id: 'room-ended-title' }, heading || t('room.ended_title')),
      h('p', { id: 'room-ended-message' }, message),
      h('div', { class: 'button-row' }, buttons));
    notices.replaceChildren();
    stageArea.hidden = true;
    ended.hidden = false;
    // Nobody is shown as present once we are out.
    participantList.replaceChildren(h('li', { class: 'participant-placeholder muted' }, t('room.not_connected_short')));
    participantTotal.textContent = '–';
    (ended.querySelector('button, a') || ended).focus?.();
  }

  function hideEnded() {
    ended.hidden = true;
    stageArea.hidden = false;
  }

  // --- session events -----------------------------------------------------------------------
  const on = (type, fn) => session.addEventListener(type, (ev) => fn(ev.detail || {}));

  // Draining: a countdown until the server moves us (it closes with 1001 and the session re-enters).
  function stopDrainNotice() {
    clearInterval(drainTimer);
    drainTimer = null;
    clearNotice('draining');
  }
  function showDrainNotice(until) {
    stopDrainNotice();
    const el = notice('', 'warn', { key: 'draining', sticky: true });
    el.setAttribute('role', 'status');
    const text = el.querySelector('.notice-text');
    const tick = () => {
      const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      el.dataset.secondsLeft = String(s);
      text.textContent = s > 0 ? t('room.draining', { seconds: s }) : t('room.draining_now');
    };
    tick();
    drainTimer = setInterval(() => {
      tick();
      if (!el.isConnected) stopDrainNotice();
    }, 1000);
  }

  on('state', ({ state }) => {
    setState(state);
    if (state === 'waiting') stageArea.hidden = true;
    if (state !== 'open') stopDrainNotice();
  });
  on('welcome', ({ server }) => {
    hideEnded();
    clearNotice('connection');
    stopDrainNotice();
    const moved = everConnected && server && lastServerId != null && String(server.id) !== String(lastServerId);
    if (moved || (!everConnected && movedHere)) {
      notice(server && server.name ? t('room.reconnected_on', { name: server.name }) : t('room.reconnected_elsewhere'), 'success', { key: 'connection', ms: 6000 });
    } else if (everConnected) notice(t('room.reconnected'), 'success', { key: 'connection', ms: 4000 });
    everConnected = true;
    if (server) lastServerId = server.id;
    if (restoreMedia) {
      const letters = restoreMedia;
      const tracks = restoreTracks;
      restoreMedia = '';
      restoreTracks = {};
      // Being recorded: the notice (views/room-recording.js, drawn by its welcome listener) is on the screen before
      // the camera and the microphone go out; publishing waits for the next frame to be painted.
      if (session.recording) {
        afterPaint(() => {
          if (gone) for (const track of Object.values(tracks)) track?.stop();
          else mediaView.restore(letters, tracks);
        });
      } else mediaView.restore(letters, tracks);
    }
    updateRoomInfo();
    filesView.rerender();
  });
  on('draining', ({ until }) => showDrainNotice(until));
  on('participants', updateParticipants);
  on('history', renderAllMessages);
  on('chat', ({ message }) => appendMessage(message));
  on('hand', ({ participant, raised }) => {
    if (!participant) return;
    const isYou = session.you && participant.id === session.you.id;
    if (raised && !isYou && session.isModerator) notice(t('room.hand_raised', { name: displayName(participant) }), 'info', { ms: 6000 });
    if (!raised && isYou) notice(t('room.hand_lowered'), 'info', { ms: 4000 });
  });
  on('moderator', ({ participant, moderator, by, you }) => {
    if (you) {
      // `by` is null when the right follows an edit of the room or of your account.
      const granted = by ? t('room.made_you_moderator', { name: nameOf(by) }) : t('room.now_moderator');
      notice(moderator ? granted : t('room.no_longer_moderator'), 'info');
    } else if (participant && session.isModerator) {
      const name = displayName(participant);
      notice(moderator ? t('room.is_moderator', { name }) : t('room.is_not_moderator', { name }), 'info', { ms: 5000 });
    }
  });
  on('mute_requested', ({ by }) => {
    notice(t('room.asks_you_to_mute', { name: nameOf(by) }), 'warn', { key: 'mute', sticky: true });
  });
  on('room', () => {
    updateRoomInfo();
    updateParticipants();
    notice(t('room.settings_updated'), 'info', { key: 'room-updated' });
  });
  on('left', ({ participant, reason }) => {
    if (participant && reason === 'kicked' && session.isModerator) {
      notice(t('room.was_kicked', { name: displayName(participant) }), 'info', { ms: 6000 });
    }
  });
  on('server_error', ({ message, code, handled }) => {
    if (!handled) notice(message || t('room.refused', { code }), 'error');
  });
  on('active_speaker', ({ id }) => markSpeaker(participantList, id));
  on('presenter', ({ participant, presenter, you }) => {
    // For us, the media view says what changes (publish_rights follows).
    if (you) return;
    if (participant && session.isModerator) {
      const name = displayName(participant);
      notice(presenter ? t('room.is_presenter', { name }) : t('room.is_not_presenter', { name }), 'info', { ms: 5000 });
    }
  });
  on('whiteboard', ({ participant, can_draw: can, you }) => {
    // For us, the board view says what changes; moderators hear about the others.
    if (!you && participant && session.isModerator && !participant.moderator) {
      const name = displayName(participant);
      notice(can ? t('board.other_can_draw', { name }) : t('board.other_cannot_draw', { name }), 'info', { ms: 5000 });
    }
    filesView.rerender();
  });
  on('boards', () => filesView.rerender()); // "Show on whiteboard" needs the boards loaded
  on('redirecting', ({ server, failover }) => {
    const name = server && server.name ? server.name : null;
    statusText.textContent = failover
      ? (name ? t('room.failover_to', { name }) : t('room.failover'))
      : (name ? t('room.moving_to', { name }) : t('room.state.redirecting'));
  });
  on('retry', ({ attempt, delay, message }) => {
    notice(message, 'warn', { key: 'connection', sticky: true });
    clearInterval(retryTimer);
    const until = Date.now() + delay;
    const tick = () => {
      const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      statusText.textContent = s > 0 ? t('room.reconnecting_in', { seconds: s, attempt }) : t('room.reconnecting_attempt', { attempt });
    };
    tick();
    retryTimer = setInterval(tick, 500);
    retryBtn.hidden = delay < 1500;
  });
  on('ended', (detail) => {
    // The device check's tracks are not needed any more (entering again asks for the devices).
    for (const track of Object.values(restoreTracks)) track?.stop();
    restoreTracks = {};
    restoreMedia = '';
    showEnded(detail);
  });
  on('unauthorized', () => {
    app.setUser(null);
    app.navigate(`/login?next=${encodeURIComponent(`/room/${roomId}`)}`, { replace: true });
  });

  // Show the room's name before the welcome arrives, when the list has it.
  api.rooms({ quiet401: true }).then((rooms) => {
    const r = Array.isArray(rooms) ? rooms.find((x) => String(x.id) === String(roomId)) : null;
    if (r && !session.room) {
      session.room = { id: r.id, name: r.name, kind: r.kind, capacity: r.capacity };
      updateRoomInfo();
    }
  }).catch(() => {});

  if (entryRefused) {
    notice(t('room.entry_refused'), 'warn', { ms: 8000 });
  }
  session.start();
  participantList.append(h('li', { class: 'participant-placeholder muted' }, avatar(''), t('room.state.connecting')));

  return () => {
    gone = true;
    clearInterval(retryTimer);
    clearInterval(drainTimer);
    for (const track of Object.values(restoreTracks)) track?.stop();
    session.stop();
    mediaView.destroy();
    lobbyView.destroy();
    filesView.destroy();
    recordingView.destroy();
    recordingsView.destroy();
    boardView.destroy();
  };
}

/** Runs fn once the page has painted (or after 250 ms at the latest, e.g. in a background tab). */
function afterPaint(fn) {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    fn();
  };
  requestAnimationFrame(() => setTimeout(once, 0));
  setTimeout(once, 250);
}
