// The live room page (#room). Talks to the room through protocol.js's RoomSession and renders its state.
import { api } from '../api.js';
import { RoomSession, MAX_CHAT_LENGTH, displayName, LEFT_REASONS } from '../protocol.js';
import { h, mount, icon, KIND_LABELS } from '../dom.js';
import { confirmDialog } from '../ui.js';
import { renderParticipants, renderMessage, avatar, markSpeaker } from './room-parts.js';
import { createMediaView } from './room-media.js';

const STATE_LABELS = {
  idle: 'Not connected',
  entering: 'Entering the room…',
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  redirecting: 'Moving to the room’s server…',
  ended: 'Disconnected',
};

export function renderRoom(container, { app, params, query }) {
  const roomId = params[0];
  // The other node signed us in from ?token=; the token is used up, keep it out of history and bookmarks.
  const entryRefused = query.get('entry') === 'refused';
  // #moved: the previous page was in this room on another node, which was drained or died.
  // #moved-mc: the microphone (m) and the camera (c) were on there; they are turned on again here.
  const movedMatch = /^#moved(?:-([a-z]*))?$/.exec(location.hash);
  const movedHere = !!movedMatch;
  let restoreMedia = movedMatch?.[1] || '';
  if (query.has('token') || query.has('entry') || movedHere) {
    query.delete('token');
    query.delete('entry');
    const rest = query.toString();
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + (movedHere ? '' : location.hash));
  }
  document.title = 'Room · Convene';

  const session = new RoomSession({
    roomId,
    enter: () => api.enterRoom(roomId, { quiet401: true }),
    carry: () => mediaView.carried(),
  });
  // Audio and video (before the other listeners: it claims the errors of its own requests).
  const mediaView = createMediaView({ session, notice: (...a) => notice(...a), nameOf: (who) => nameOf(who) });

  // --- skeleton -----------------------------------------------------------------------------
  const title = h('h1', { id: 'room-name', class: 'room-title' }, 'Room');
  const kind = h('span', { id: 'room-kind', class: 'badge badge-kind', hidden: true });
  const serverInfo = h('span', { id: 'room-server', class: 'muted small', hidden: true });
  const statusText = h('span', { class: 'status-text' }, STATE_LABELS.entering);
  const retryBtn = h('button', { type: 'button', id: 'retry-now', class: 'btn btn-small btn-secondary', hidden: true }, 'Retry now');
  const status = h('div', { id: 'connection-status', class: 'connection-status', role: 'status', dataset: { state: 'entering' } },
    h('span', { class: 'status-dot', 'aria-hidden': 'true' }), statusText, retryBtn);

  const notices = h('div', { id: 'room-notices', class: 'notices', role: 'log', 'aria-live': 'polite', 'aria-label': 'Room notices' });
  const ended = h('div', { id: 'room-ended', class: 'room-ended panel', hidden: true, role: 'alert', tabindex: '-1' });

  const media = mediaView.section;

  const handBtn = h('button', { type: 'button', id: 'hand-toggle', class: 'btn btn-secondary btn-tool', 'aria-pressed': 'false', disabled: true },
    icon('hand'), h('span', { class: 'label' }, 'Raise hand'));
  const leaveBtn = h('button', { type: 'button', id: 'leave-room', class: 'btn btn-danger btn-tool' },
    icon('leave'), h('span', { class: 'label' }, 'Leave'));

  const participantTotal = h('span', { id: 'participant-total', class: 'count-pill' }, '0');
  const participantList = h('ul', { id: 'participants', class: 'participant-list', 'aria-labelledby': 'participants-title' });

  const chatMessages = h('div', {
    id: 'chat-messages', class: 'chat-messages', role: 'log', 'aria-live': 'polite', 'aria-labelledby': 'chat-title', tabindex: '0',
  });
  const chatEmpty = h('p', { class: 'chat-empty muted', id: 'chat-empty' }, 'No messages yet. Say hello!');
  const newBelow = h('button', { type: 'button', id: 'chat-new-below', class: 'btn btn-small btn-primary chat-new-below', hidden: true }, 'New messages ↓');
  const chatInput = h('textarea', {
    id: 'chat-input', name: 'text', rows: 2, maxlength: MAX_CHAT_LENGTH, placeholder: 'Write a message…',
    'aria-label': 'Chat message', 'aria-describedby': 'chat-help', disabled: true, autocomplete: 'off',
  });
  const chatSend = h('button', { type: 'submit', id: 'chat-send', class: 'btn btn-primary', disabled: true, 'aria-label': 'Send message' },
    icon('send'), h('span', { class: 'label' }, 'Send'));
  const chatCounter = h('span', { id: 'chat-counter', class: 'chat-counter muted small', 'aria-live': 'off' });
  const chatForm = h('form', { id: 'chat-form', class: 'chat-form' },
    h('div', { class: 'chat-compose' }, chatInput, chatSend),
    h('div', { class: 'chat-help muted small' },
      h('span', { id: 'chat-help' }, 'Enter to send, Shift+Enter for a new line'), chatCounter));

  const root = h('section', { id: 'room', class: 'room-page', dataset: { roomId: String(roomId), state: 'entering' }, 'aria-labelledby': 'room-name' },
    h('header', { class: 'room-header' },
      h('div', { class: 'room-heading' }, title, kind, serverInfo),
      status),
    h('div', { class: 'room-layout' },
      h('div', { class: 'room-stage' },
        notices,
        ended,
        media,
        h('div', { class: 'room-toolbar', role: 'toolbar', 'aria-label': 'Room controls' },
          h('div', { class: 'toolbar-group' }, mediaView.controls),
          h('div', { class: 'toolbar-group' }, handBtn, leaveBtn))),
      h('aside', { class: 'room-side', 'aria-label': 'Participants and chat' },
        h('section', { class: 'panel side-panel participants-panel', id: 'participants-panel' },
          h('h2', { id: 'participants-title' }, icon('users'), ' Participants ', participantTotal),
          participantList),
        h('section', { class: 'panel side-panel chat-panel', id: 'chat-panel' },
          h('h2', { id: 'chat-title' }, icon('chat'), ' Chat'),
          h('div', { class: 'chat-scroll-wrap' }, chatMessages, newBelow),
          chatForm))));
  mount(container, root);

  // --- session ------------------------------------------------------------------------------
  let everConnected = false;
  let lastServerId = null;
  let retryTimer = null;
  let drainTimer = null;

  // Notices: transient ones fade after a while, keyed ones replace each other.
  function notice(message, level = 'info', { key = null, sticky = false, ms = 10000 } = {}) {
    if (key) notices.querySelector(`[data-key="${key}"]`)?.remove();
    const el = h('div', { class: ['notice', `notice-${level}`], dataset: key ? { key } : {} },
      h('span', { class: 'notice-text' }, message),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Dismiss notice', on: { click: () => el.remove() } }, icon('close')));
    notices.appendChild(el);
    while (notices.children.length > 5) notices.firstElementChild.remove();
    if (!sticky) setTimeout(() => el.remove(), ms);
    return el;
  }
  const clearNotice = (key) => notices.querySelector(`[data-key="${key}"]`)?.remove();

  function nameOf(who) {
    if (who && typeof who === 'object') return displayName(who);
    const p = who != null ? session.participants.get(who) : null;
    return p ? displayName(p) : 'A moderator';
  }

  function setState(state) {
    root.dataset.state = state;
    status.dataset.state = state;
    if (state !== 'reconnecting') {
      clearInterval(retryTimer);
      statusText.textContent = STATE_LABELS[state] || state;
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
      title.textContent = r.name || 'Room';
      document.title = `${r.name} · Convene`;
      kind.textContent = KIND_LABELS[r.kind] || r.kind || '';
      kind.hidden = !r.kind;
      root.dataset.kind = r.kind || '';
    }
    if (session.server && session.server.name) {
      serverInfo.textContent = `on ${session.server.name}`;
      serverInfo.hidden = false;
    }
  }

  function updateHand() {
    const raised = !!(session.you && session.you.hand_raised);
    handBtn.setAttribute('aria-pressed', String(raised));
    handBtn.classList.toggle('is-active', raised);
    handBtn.querySelector('.label').textContent = raised ? 'Lower hand' : 'Raise hand';
  }

  function updateParticipants() {
    const list = session.sortedParticipants();
    participantTotal.textContent = String(list.length);
    const cap = session.room && session.room.capacity;
    participantTotal.title = cap ? `${list.length} of ${cap}` : `${list.length}`;
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
          title: 'Remove participant',
          message: `Remove ${name} from the room? They can enter again unless their access is withdrawn.`,
          confirmLabel: 'Remove',
        });
        if (!ok) return;
        sent = session.kick(p.id);
        break;
      }
      case 'grant_moderator': sent = session.grantModerator(p.id); break;
      case 'revoke_moderator': sent = session.revokeModerator(p.id); break;
      case 'ask_mute':
        sent = session.askMute(p.id);
        if (sent) notice(`${name} was asked to mute their microphone.`, 'info', { ms: 5000 });
        break;
      case 'lower_hand': sent = session.lowerHand(p.id); break;
      case 'mute':
        sent = session.mute(p.id);
        if (sent) notice(`${name}’s microphone was turned off.`, 'info', { ms: 5000 });
        break;
      case 'grant_presenter': sent = session.grantPresenter(p.id); break;
      case 'revoke_presenter': sent = session.revokePresenter(p.id); break;
      default: return;
    }
    if (!sent) notice('Not connected to the room: the action was not sent.', 'warn');
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
    chatCounter.textContent = len > MAX_CHAT_LENGTH - 200 ? `${len} / ${MAX_CHAT_LENGTH}` : '';
  }

  function sendChat() {
    const text = chatInput.value;
    if (!text.trim()) return;
    if (text.length > MAX_CHAT_LENGTH) {
      notice(`A message can have at most ${MAX_CHAT_LENGTH} characters.`, 'warn');
      return;
    }
    if (session.sendChat(text)) {
      chatInput.value = '';
      updateSendButton();
    } else {
      notice('Not connected: your message was not sent. It is still in the box.', 'warn', { key: 'chat-unsent' });
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

  // --- controls -----------------------------------------------------------------------------
  handBtn.addEventListener('click', () => {
    const raised = !(session.you && session.you.hand_raised);
    if (!session.setHand(raised)) notice('Not connected to the room.', 'warn');
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
      }, 'Enter again'));
    }
    buttons.push(h('a', { href: '/rooms', class: 'btn btn-secondary', id: 'back-to-rooms', 'data-link': true }, 'Back to rooms'));
    mount(ended,
      h('h2', { id: 'room-ended-title' }, heading || 'You are not in the room'),
      h('p', { id: 'room-ended-message' }, message),
      h('div', { class: 'button-row' }, buttons));
    notices.replaceChildren();
    media.hidden = true;
    ended.hidden = false;
    // Nobody is shown as present once we are out.
    participantList.replaceChildren(h('li', { class: 'participant-placeholder muted' }, 'Not connected.'));
    participantTotal.textContent = '–';
    (ended.querySelector('button, a') || ended).focus?.();
  }

  function hideEnded() {
    ended.hidden = true;
    media.hidden = false;
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
      text.textContent = s > 0
        ? `This server is being drained; you will be moved to another server in ${s} s.`
        : 'This server is being drained; moving you to another server now…';
    };
    tick();
    drainTimer = setInterval(() => {
      tick();
      if (!el.isConnected) stopDrainNotice();
    }, 1000);
  }

  on('state', ({ state }) => {
    setState(state);
    if (state !== 'open') stopDrainNotice();
  });
  on('welcome', ({ server }) => {
    hideEnded();
    clearNotice('connection');
    stopDrainNotice();
    const moved = everConnected && server && lastServerId != null && String(server.id) !== String(lastServerId);
    if (moved || (!everConnected && movedHere)) {
      notice(`Reconnected to the room, now on ${(server && server.name) || 'another server'}.`, 'success', { key: 'connection', ms: 6000 });
    } else if (everConnected) notice('Reconnected to the room.', 'success', { key: 'connection', ms: 4000 });
    everConnected = true;
    if (server) lastServerId = server.id;
    if (restoreMedia) {
      mediaView.restore(restoreMedia);
      restoreMedia = '';
    }
    updateRoomInfo();
  });
  on('draining', ({ until }) => showDrainNotice(until));
  on('participants', updateParticipants);
  on('history', renderAllMessages);
  on('chat', ({ message }) => appendMessage(message));
  on('hand', ({ participant, raised }) => {
    if (!participant) return;
    const isYou = session.you && participant.id === session.you.id;
    if (raised && !isYou && session.isModerator) notice(`${displayName(participant)} raised their hand.`, 'info', { ms: 6000 });
    if (!raised && isYou) notice('Your hand was lowered.', 'info', { ms: 4000 });
  });
  on('moderator', ({ participant, moderator, by, you }) => {
    if (you) {
      notice(moderator ? `${nameOf(by)} made you a moderator.` : 'You are no longer a moderator.', 'info');
    } else if (participant && session.isModerator) {
      notice(`${displayName(participant)} ${moderator ? 'is now a moderator' : 'is no longer a moderator'}.`, 'info', { ms: 5000 });
    }
  });
  on('mute_requested', ({ by }) => {
    notice(`${nameOf(by)} asks you to mute your microphone.`, 'warn', { key: 'mute', sticky: true });
  });
  on('room', () => {
    updateRoomInfo();
    updateParticipants();
    notice('The room settings were updated.', 'info', { key: 'room-updated' });
  });
  on('left', ({ participant, reason }) => {
    if (participant && reason === 'kicked' && session.isModerator) {
      notice(`${displayName(participant)} ${LEFT_REASONS.kicked}.`, 'info', { ms: 6000 });
    }
  });
  on('server_error', ({ message, code, handled }) => {
    if (!handled) notice(message || `The server refused the request (${code}).`, 'error');
  });
  on('active_speaker', ({ id }) => markSpeaker(participantList, id));
  on('presenter', ({ participant, presenter, you }) => {
    // For us, the media view says what changes (publish_rights follows).
    if (you) return;
    if (participant && session.isModerator) {
      notice(`${displayName(participant)} ${presenter ? 'is now a presenter' : 'is no longer a presenter'}.`, 'info', { ms: 5000 });
    }
  });
  on('redirecting', ({ server, failover }) => {
    const name = server && server.name ? server.name : null;
    statusText.textContent = failover
      ? `This server is not answering. Moving to ${name || 'another server'}…`
      : `Moving to ${name || 'the room’s server'}…`;
  });
  on('retry', ({ attempt, delay, message }) => {
    notice(message, 'warn', { key: 'connection', sticky: true });
    clearInterval(retryTimer);
    const until = Date.now() + delay;
    const tick = () => {
      const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      statusText.textContent = s > 0 ? `Reconnecting in ${s} s (attempt ${attempt})…` : `Reconnecting (attempt ${attempt})…`;
    };
    tick();
    retryTimer = setInterval(tick, 500);
    retryBtn.hidden = delay < 1500;
  });
  on('ended', (detail) => showEnded(detail));
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
    notice('The entry link from the other server was refused (it expired or was already used). Entering again…', 'warn', { ms: 8000 });
  }
  session.start();
  participantList.append(h('li', { class: 'participant-placeholder muted' }, avatar(''), 'Connecting…'));

  return () => {
    clearInterval(retryTimer);
    clearInterval(drainTimer);
    session.stop();
    mediaView.destroy();
  };
}
