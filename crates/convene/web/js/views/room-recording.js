// The live side of room recordings (issue 11) on the room page: the red "Recording" indicator in the room header
// (everyone; from `welcome.recording` and `recording` frames, with the time since it started), the notice for someone
// entering a room that is being recorded (shown before the device check's camera and microphone are published: see
// room.js), and the Record / Stop recording button for those who may record (`welcome.you.can_record`). The state
// itself is js/recording.js (LiveRecording); the list of recordings is views/room-recordings.js.
//
// Hooks: [data-testid="recording-indicator"] (only while recording), [data-testid="record-toggle"][data-state]
// (idle | recording; aria-busy while a call is under way), [data-testid="recording-notice"].
import { h, icon } from '../dom.js';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { LiveRecording, mayRecord, toggleView, formatClock, recordingSince } from '../recording.js';

/** The red dot (decorative). */
export function recordingDot(extra = '') {
  return h('span', { class: ['recording-dot', extra], 'aria-hidden': 'true' });
}

/**
 * The notice "This meeting is being recorded", for the device check and the room. current: LiveRecording's current
 * (or {started_at, started_by}). onDismiss: adds a close button.
 */
export function recordingNotice(current, { onDismiss = null, id = null } = {}) {
  const since = recordingSince(current);
  return h('div', { id, class: 'recording-notice', role: 'alert', dataset: { testid: 'recording-notice' } },
    recordingDot('recording-dot-large'),
    h('div', { class: 'recording-notice-text' },
      h('strong', { class: 'recording-notice-title' }, t('recording.notice_title')),
      h('span', { class: 'recording-notice-detail' }, [since, t('recording.notice_text')].filter(Boolean).join(' '))),
    onDismiss ? h('button', {
      type: 'button', class: 'icon-btn', 'aria-label': t('recording.notice_dismiss'), title: t('recording.notice_dismiss'),
      on: { click: onDismiss },
    }, icon('close')) : null);
}

/**
 * @param {object} o
 * @param {import('../protocol.js').RoomSession} o.session
 * @param {string|number} o.roomId
 * @param {(message: string, level?: string, opts?: object) => void} o.notice
 * @param {() => void} [o.onChange]  a frame or an answer about a recording came, or we entered again (the panel reloads)
 */
export function createRecordingView({ session, roomId, notice, onChange = () => {} }) {
  const live = new LiveRecording();
  let pending = null; // 'start' | 'stop' while a call is under way
  let allowedOverride = null; // after a `moderator` frame about us: the new right (welcome resets it)
  let ticker = null;
  let entered = false; // the first welcome of this page came
  let announced = null; // the id of the recording the entering notice was shown for (also once dismissed)
  const offs = [];

  const elapsed = h('span', { class: 'recording-elapsed', role: 'timer', 'aria-live': 'off' }, '0:00');
  const indicator = h('span', { id: 'recording-indicator', class: 'recording-indicator', hidden: true, dataset: { testid: 'recording-indicator' } },
    recordingDot(), h('span', { class: 'recording-label' }, t('recording.indicator')), elapsed);
  // Screen readers hear the start and the stop (the clock itself is not read out every second).
  const announcer = h('span', { id: 'recording-announce', class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  const label = h('span', { class: 'label' }, t('recording.start'));
  const toggle = h('button', {
    type: 'button', id: 'record-toggle', class: 'btn btn-secondary btn-tool record-toggle', hidden: true, disabled: true,
    dataset: { testid: 'record-toggle', state: 'idle' },
  }, recordingDot('recording-dot-button'), label);
  // Where the entering notice goes (room.js puts it above the stage).
  const noticeSlot = h('div', { class: 'recording-notice-slot' });

  const allowed = () => (allowedOverride ?? mayRecord(session.you));

  function tick() {
    elapsed.textContent = formatClock(live.elapsed());
  }

  function render() {
    const active = live.active;
    indicator.hidden = !active || session.state === 'ended';
    indicator.title = active ? recordingSince(live.current) : '';
    clearInterval(ticker);
    ticker = null;
    if (active) {
      tick();
      ticker = setInterval(tick, 1000);
    }
    const v = toggleView(active, pending);
    toggle.hidden = !allowed();
    toggle.disabled = v.busy || session.state !== 'open';
    toggle.dataset.state = v.state;
    toggle.classList.toggle('is-recording', active);
    if (v.busy) toggle.setAttribute('aria-busy', 'true');
    else toggle.removeAttribute('aria-busy');
    label.textContent = v.label;
    toggle.title = v.title;
  }

  function showEnteringNotice() {
    announced = live.current?.id ?? null;
    const el = recordingNotice(live.current, { onDismiss: () => hideEnteringNotice() });
    noticeSlot.replaceChildren(el);
  }
  function hideEnteringNotice() {
    const focused = noticeSlot.contains(document.activeElement);
    noticeSlot.replaceChildren();
    if (focused && !toggle.hidden && !toggle.disabled) toggle.focus();
  }

  function changed(change, { by = '' } = {}) {
    if (change === 'started') {
      announcer.textContent = by ? t('recording.started_by_announce', { name: by }) : t('recording.started_announce');
      notice(by ? t('recording.started_by_announce', { name: by }) : t('recording.started_announce'), 'warn', { key: 'recording', ms: 8000 });
    } else if (change === 'stopped') {
      announcer.textContent = t('recording.stopped_announce');
      notice(t('recording.stopped_announce'), 'info', { key: 'recording', ms: 6000 });
      hideEnteringNotice();
    }
    render();
  }

  const listen = (type, fn) => {
    const handler = (ev) => fn(ev.detail || {});
    session.addEventListener(type, handler);
    offs.push(() => session.removeEventListener(type, handler));
  };

  // The welcome carries the recording running now: someone entering is told at once, before publishing.
  listen('welcome', () => {
    allowedOverride = null;
    const first = !entered;
    entered = true;
    const change = live.welcome(session.recording);
    if (live.active && (first || String(live.current.id) !== String(announced))) {
      if (first) announcer.textContent = t('recording.notice_title');
      showEnteringNotice();
    }
    if (!live.active) hideEnteringNotice();
    if (!first && change) changed(change, { by: live.current?.startedBy || '' });
    else render();
    if (!first) onChange();
  });
  listen('recording', (f) => {
    const change = live.frame(f);
    changed(change, { by: live.current?.startedBy || '' });
    onChange();
  });
  listen('moderator', ({ you, moderator }) => {
    if (!you) return;
    allowedOverride = !!moderator;
    render();
  });
  listen('state', render);

  async function start() {
    pending = 'start';
    render();
    try {
      const rec = await api.startRecording(roomId);
      const change = live.answer(rec);
      if (change) changed(change, { by: live.current?.startedBy || '' });
      onChange();
    } catch (err) {
      notice(err.message || t('recording.start_failed'), 'error', { key: 'recording-error' });
    } finally {
      pending = null;
      render();
    }
  }

  async function stop() {
    const id = live.current?.id;
    if (id == null) return;
    pending = 'stop';
    render();
    try {
      const rec = await api.stopRecording(id);
      const change = live.answer(rec && typeof rec === 'object' ? rec : { id, status: 'processing' });
      if (change) changed(change);
      onChange();
    } catch (err) {
      notice(err.message || t('recording.stop_failed'), 'error', { key: 'recording-error' });
    } finally {
      pending = null;
      render();
    }
  }

  toggle.addEventListener('click', () => {
    if (pending) return;
    if (live.active) stop();
    else start();
  });

  render();

  return {
    indicator,
    announcer,
    toggle,
    noticeSlot,
    live,
    get active() {
      return live.active;
    },
    render,
    destroy() {
      clearInterval(ticker);
      for (const off of offs) off();
    },
  };
}
