// The media part of the room page: the video grid (#video-grid), remote audio, the microphone / camera / screen
// buttons with the device choice, and the messages about publishing rights and devices. It renders what the
// MediaEngine of js/media.js reports and sends the person's choices back to it.
import { h, icon } from '../dom.js';
import { displayName } from '../protocol.js';
import { MediaEngine } from '../media.js';
import { gridLayout, layerFor, rightsMessage } from '../media-parts.js';
import { avatar } from './room-parts.js';

// Toggle buttons (aria-pressed): a constant name, the icon and the colour follow the state; the tooltip says
// what a click does.
const BUTTONS = {
  microphone: { id: 'toggle-mic', text: 'Microphone', on: 'Turn the microphone off', off: 'Turn the microphone on', iconOn: 'mic', iconOff: 'mic_off' },
  camera: { id: 'toggle-camera', text: 'Camera', on: 'Turn the camera off', off: 'Turn the camera on', iconOn: 'video', iconOff: 'video_off' },
  screen: { id: 'toggle-screen', text: 'Share screen', on: 'Stop sharing your screen', off: 'Share your screen, a window or a tab', iconOn: 'screen_off', iconOff: 'screen' },
};
const INTERVIEW_PUBLISHERS = 2;

/**
 * Builds the media section and its toolbar controls.
 * @param {object} opts
 * @param {import('../protocol.js').RoomSession} opts.session
 * @param {(message: string, level?: string, opts?: object) => void} opts.notice  a room notice
 * @param {(who: any) => string} opts.nameOf  a participant (object or id) → a name
 * @returns {{engine: MediaEngine, section: HTMLElement, controls: HTMLElement[], render: () => void, destroy: () => void}}
 */
export function createMediaView({ session, notice, nameOf }) {
  const engine = new MediaEngine({ session });

  // --- skeleton -----------------------------------------------------------------------------
  const grid = h('div', { id: 'video-grid', class: 'video-grid', dataset: { layout: '1', tiles: '0' } });
  const emptyText = h('p', { class: 'media-empty-text' });
  const empty = h('div', { class: 'media-empty' }, icon('video', 'icon icon-xl'), emptyText);
  const rights = h('p', { id: 'media-rights', class: 'media-rights', hidden: true });
  const errorText = h('span', { class: 'media-error-text' });
  const error = h('div', { id: 'media-error', class: 'media-error', role: 'alert', hidden: true },
    errorText,
    h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Dismiss', on: { click: () => clearError() } }, icon('close')));
  const enableAudio = h('button', { type: 'button', id: 'enable-audio', class: 'btn btn-primary btn-small', hidden: true },
    icon('volume'), 'Turn on sound');
  const audioBox = h('div', { id: 'remote-audio', hidden: true });
  const section = h('section', { id: 'media', class: 'media-stage', 'aria-label': 'Audio and video' },
    h('div', { class: 'video-area' }, grid, empty), h('div', { class: 'media-messages' }, rights, error, enableAudio), audioBox);

  const buttons = {};
  for (const [label, b] of Object.entries(BUTTONS)) {
    buttons[label] = h('button', {
      type: 'button', id: b.id, class: 'btn btn-secondary btn-tool btn-media', 'aria-pressed': 'false', disabled: true,
      dataset: { media: label }, on: { click: () => toggle(label) },
    }, icon(b.iconOff), h('span', { class: 'label' }, b.text));
  }
  const selects = {
    microphone: h('select', { id: 'select-mic', 'aria-label': 'Microphone', on: { change: (ev) => engine.selectDevice('microphone', ev.target.value) } }),
    camera: h('select', { id: 'select-camera', 'aria-label': 'Camera', on: { change: (ev) => engine.selectDevice('camera', ev.target.value) } }),
  };
  const devices = h('details', { id: 'device-menu', class: 'device-menu' },
    h('summary', { class: 'btn btn-secondary btn-tool btn-devices', title: 'Choose the microphone and the camera' },
      icon('sliders'), h('span', { class: 'sr-only' }, 'Devices')),
    h('div', { class: 'device-panel', role: 'group', 'aria-label': 'Devices' },
      h('label', { for: 'select-mic' }, icon('mic'), ' Microphone'), selects.microphone,
      h('label', { for: 'select-camera' }, icon('video'), ' Camera'), selects.camera,
      h('p', { class: 'muted small device-hint', hidden: true }, 'Device names appear once the browser has allowed the microphone or the camera.')));
  devices.addEventListener('toggle', () => {
    if (devices.open) fillDevices();
  });
  const closeDevices = (ev) => {
    if (devices.open && (ev.type === 'pointerdown' ? !devices.contains(ev.target) : ev.key === 'Escape')) {
      devices.open = false;
      if (ev.type === 'keydown') devices.querySelector('summary').focus();
    }
  };
  // No screen capture on most phones: no button.
  buttons.screen.hidden = !navigator.mediaDevices?.getDisplayMedia && !!navigator.mediaDevices;
  const controls = [buttons.microphone, buttons.camera, buttons.screen, devices];

  // --- rendering ----------------------------------------------------------------------------
  const tiles = new Map(); // key → element
  const audios = new Map(); // mid → <audio>
  const streams = new WeakMap(); // remote track → MediaStream
  let errorTimer = null;
  let refused = null; // the room kind whose rules refused our last offer (interview): message until we publish

  const streamOf = (track) => {
    let s = streams.get(track);
    if (!s) {
      s = new MediaStream([track]);
      streams.set(track, s);
    }
    return s;
  };

  function showError(message, { sticky = true } = {}) {
    errorText.textContent = message;
    error.hidden = false;
    clearTimeout(errorTimer);
    if (!sticky) errorTimer = setTimeout(clearError, 10000);
  }

  function clearError() {
    clearTimeout(errorTimer);
    error.hidden = true;
    errorText.textContent = '';
  }

  async function toggle(label) {
    const turningOn = !engine.isOn(label);
    if (turningOn) clearError();
    const ok = await engine.toggle(label);
    if (ok && turningOn) {
      refused = null;
      fillDevices();
    }
    render();
  }

  /** What the grid shows: one tile per participant who sends something, a tile per screen share, and us. */
  function wantedTiles() {
    const you = session.you;
    const remote = engine.remoteByParticipant();
    const out = [];
    for (const p of session.sortedParticipants()) {
      if (you && p.id === you.id) continue;
      const m = p.media || {};
      const r = remote.get(String(p.id)) || {};
      if (m.screen) out.push({ key: `${p.id}:screen`, p, label: 'screen', track: r.screen || null, mic: !!m.microphone });
      if (m.camera || m.microphone) out.push({ key: `${p.id}:camera`, p, label: 'camera', track: m.camera ? r.camera || null : null, mic: !!m.microphone });
    }
    if (you && (engine.canPublish || engine.isOn('microphone') || engine.isOn('camera'))) {
      out.push({ key: 'self:camera', p: you, label: 'camera', self: true, stream: engine.localStream('camera'), mic: engine.isOn('microphone') });
    }
    if (you && engine.isOn('screen')) out.push({ key: 'self:screen', p: you, label: 'screen', self: true, stream: engine.localStream('screen'), mic: false });
    // Screens first (the first is the large one), then the others, us last.
    out.sort((a, b) => (a.label === 'screen' ? 0 : 1) - (b.label === 'screen' ? 0 : 1) || (a.self ? 1 : 0) - (b.self ? 1 : 0));
    return out;
  }

  function makeTile(t) {
    const name = t.self ? 'You' : displayName(t.p);
    const placeholder = h('div', { class: 'tile-placeholder' }, avatar(displayName(t.p)));
    const mic = h('span', { class: 'tile-mic', role: 'img' });
    const caption = h('div', { class: 'tile-caption' }, mic,
      h('span', { class: 'tile-name' }, t.label === 'screen' ? `${name === 'You' ? 'Your' : `${name}’s`} screen` : name));
    const el = h('div', {
      class: ['video-tile', t.label === 'screen' ? 'screen-tile' : null, t.self ? 'self-tile' : null],
      dataset: { key: t.key, label: t.label },
    }, placeholder, caption);
    el.addEventListener('dblclick', () => {
      if (document.fullscreenElement) document.exitFullscreen?.().catch(() => {});
      else el.requestFullscreen?.().catch(() => {});
    });
    return el;
  }

  function updateTile(el, t, index, main, layout, speaker) {
    const login = t.p.user?.login || '';
    el.dataset.participantId = String(t.p.id);
    el.dataset.login = login;
    if (t.self) el.dataset.self = 'true';
    el.style.order = String(index);
    el.classList.toggle('is-main', main);
    el.classList.toggle('speaking', t.label === 'camera' && speaker != null && String(speaker) === String(t.p.id) && t.mic);
    const mic = el.querySelector('.tile-mic');
    if (t.label === 'camera' && mic.dataset.on !== String(t.mic)) {
      mic.dataset.on = String(t.mic);
      mic.replaceChildren(icon(t.mic ? 'mic' : 'mic_off'));
      mic.setAttribute('aria-label', t.mic ? 'Microphone on' : 'Microphone off');
    }
    const stream = t.self ? t.stream : t.track ? streamOf(t.track) : null;
    let video = el.querySelector('video');
    if (stream) {
      if (!video) {
        video = h('video', { autoplay: true, playsinline: true, 'aria-label': `Video of ${displayName(t.p)}` });
        video.muted = true; // sound plays through the audio elements
        el.prepend(video);
      }
      if (video.srcObject !== stream) {
        video.srcObject = stream;
        video.play?.().catch(() => {});
      }
      el.classList.add('has-video');
    } else {
      if (video) {
        video.srcObject = null;
        video.remove();
      }
      el.classList.remove('has-video');
    }
    if (!t.self && t.label === 'camera' && t.track) engine.setLayer(t.p.id, layerFor(layout, { main }));
  }

  function renderGrid() {
    const wanted = wantedTiles();
    const screens = wanted.filter((t) => t.label === 'screen').length;
    const { layout, columns, rows } = gridLayout(wanted.length, screens);
    grid.dataset.layout = layout;
    grid.dataset.tiles = String(wanted.length);
    grid.style.setProperty('--cols', String(columns));
    grid.style.setProperty('--rows', String(rows || 1));
    section.dataset.tiles = String(wanted.length);
    const keys = new Set(wanted.map((t) => t.key));
    for (const [key, el] of tiles) {
      if (!keys.has(key)) {
        el.querySelector('video')?.remove();
        el.remove();
        tiles.delete(key);
      }
    }
    wanted.forEach((t, i) => {
      let el = tiles.get(t.key);
      if (!el) {
        el = makeTile(t);
        tiles.set(t.key, el);
        grid.appendChild(el); // never moved afterwards (a moved <video> pauses): CSS order sorts
      }
      updateTile(el, t, i, layout === 'screen' && i === 0, layout, session.speaker);
    });
    empty.hidden = wanted.length > 0;
    grid.hidden = wanted.length === 0;
    if (!wanted.length) {
      emptyText.textContent = !engine.available && session.media
        ? 'Audio and video are not available on this server.'
        : engine.canPublish
          ? 'Nobody is on camera yet. Turn on your microphone or camera to join in.'
          : 'Video and shared screens will appear here.';
    }
  }

  function renderAudio() {
    const wanted = new Map();
    for (const e of engine.remote()) if (e.kind === 'audio') wanted.set(e.mid, e.track);
    for (const [mid, el] of audios) {
      if (wanted.get(mid) !== el.srcObject?.getAudioTracks?.()[0]) {
        el.srcObject = null;
        el.remove();
        audios.delete(mid);
      }
    }
    for (const [mid, track] of wanted) {
      if (audios.has(mid)) continue;
      const el = h('audio', { autoplay: true, dataset: { mid } });
      el.srcObject = new MediaStream([track]);
      audioBox.appendChild(el);
      audios.set(mid, el);
      el.play?.().catch((err) => {
        // Autoplay refused (no click on this page yet): one click turns the sound on.
        if (err && err.name === 'NotAllowedError') enableAudio.hidden = false;
      });
    }
  }

  function renderButtons() {
    const open = session.state === 'open';
    const can = engine.canPublish;
    const why = !engine.available && session.media
      ? 'Audio and video are not available on this server.'
      : rightsMessage(session.room?.kind);
    for (const [label, b] of Object.entries(BUTTONS)) {
      const btn = buttons[label];
      const on = engine.isOn(label);
      const starting = engine.isStarting(label);
      btn.disabled = !open || starting || (!can && !on);
      btn.setAttribute('aria-pressed', String(on));
      btn.classList.toggle('is-on', on);
      btn.classList.toggle('is-off', !on && label === 'microphone' && can && open);
      btn.classList.toggle('is-busy', starting);
      btn.title = !open ? 'Not connected to the room' : !can && !on ? why : starting ? 'Starting…' : on ? b.on : b.off;
      if (btn.dataset.state !== String(on)) {
        btn.dataset.state = String(on);
        btn.querySelector('svg').replaceWith(icon(on ? b.iconOn : b.iconOff));
      }
    }
  }

  function renderRights() {
    let text = '';
    const you = session.you;
    if (session.state === 'open' && you) {
      if (!engine.available && session.media) text = 'Audio and video are not available on this server.';
      else if (!engine.canPublish) text = rightsMessage(session.room?.kind);
      else if (session.room?.kind === 'interview' && !engine.publishing) {
        const speaking = [...session.participants.values()]
          .filter((p) => p.id !== you.id && p.media && (p.media.microphone || p.media.camera || p.media.screen)).length;
        if (speaking < INTERVIEW_PUBLISHERS) refused = null; // a place is free: try again
        if (speaking >= INTERVIEW_PUBLISHERS || refused === 'interview') text = rightsMessage('interview');
      }
    }
    rights.textContent = text;
    rights.hidden = !text;
  }

  function render() {
    renderGrid();
    renderAudio();
    renderButtons();
    renderRights();
  }

  /** Refreshes the speaking highlight only (active_speaker comes often). */
  function renderSpeaker(id) {
    for (const el of tiles.values()) {
      const mine = id != null && el.dataset.participantId === String(id) && el.dataset.label === 'camera';
      const micOn = el.querySelector('.tile-mic')?.dataset.on === 'true';
      el.classList.toggle('speaking', mine && micOn);
    }
  }

  async function fillDevices() {
    const list = await engine.listDevices();
    for (const label of ['microphone', 'camera']) {
      const sel = selects[label];
      const current = engine.deviceId(label);
      const options = list[label].map((d) => h('option', { value: d.deviceId, selected: d.deviceId === current }, d.label));
      if (!options.length) options.push(h('option', { value: '' }, label === 'camera' ? 'No camera found' : 'No microphone found'));
      sel.replaceChildren(...options);
      sel.disabled = !list[label].length;
      if (current && list[label].some((d) => d.deviceId === current)) sel.value = current;
    }
    const unnamed = [...list.microphone, ...list.camera].some((d) => d.unnamed);
    devices.querySelector('.device-hint').hidden = !unnamed;
  }

  // --- events -------------------------------------------------------------------------------
  const offs = [];
  const listen = (target, type, fn) => {
    target.addEventListener(type, fn);
    offs.push(() => target.removeEventListener(type, fn));
  };
  listen(document, 'pointerdown', closeDevices);
  listen(document, 'keydown', closeDevices);
  listen(engine, 'change', render);
  listen(engine, 'remote', render);
  listen(engine, 'speaker', (ev) => renderSpeaker(ev.detail.id));
  listen(engine, 'error', (ev) => {
    const { message, code } = ev.detail;
    if (code === 'forbidden' && session.room?.kind === 'interview') refused = 'interview'; // #media-rights says why
    else showError(message, { sticky: code === 'NotAllowedError' || code === 'NotFoundError' });
    render();
  });
  listen(engine, 'muted', (ev) => {
    notice(`${nameOf(ev.detail.by)} turned your microphone off. Turn it on again when you want to speak.`, 'warn', { key: 'muted', ms: 12000 });
  });
  listen(engine, 'rights', (ev) => {
    const { can_publish: can } = ev.detail;
    const presenting = session.room?.kind === 'presentation' && !session.isModerator;
    const text = can
      ? `${presenting ? 'You are now a presenter: you' : 'You'} may speak and show video. Turn on your microphone or camera.`
      : `${presenting ? 'You are no longer a presenter: your' : 'You may no longer speak or show video here; your'} microphone and camera were turned off.`;
    notice(text, can ? 'success' : 'warn', { key: 'rights', ms: 8000 });
  });
  for (const type of ['participants', 'state', 'welcome', 'room']) listen(session, type, render);
  if (navigator.mediaDevices?.addEventListener) {
    const onDevices = () => {
      if (devices.open || engine.isOn('microphone') || engine.isOn('camera')) fillDevices();
    };
    listen(navigator.mediaDevices, 'devicechange', onDevices);
  }
  enableAudio.addEventListener('click', () => {
    enableAudio.hidden = true;
    for (const el of audios.values()) el.play?.().catch(() => {});
  });

  // The test hook (web/README.md): what the receiving connection decoded, and publishing against the rules.
  const hook = {
    stats: () => engine.stats(),
    forcePublish: () => engine.forcePublish(),
    engine,
  };
  window.conveneMedia = hook;

  render();

  return {
    engine,
    section,
    controls,
    render,
    /** What is on, as letters for the next page after a move to another node: m microphone, c camera. */
    carried: () => (engine.isOn('microphone') ? 'm' : '') + (engine.isOn('camera') ? 'c' : ''),
    /** Turns on again what was on before the move (screen sharing needs a click: not carried). */
    restore(letters) {
      if (!engine.canPublish) return;
      if (letters.includes('m')) engine.setOn('microphone', true);
      if (letters.includes('c')) engine.setOn('camera', true);
    },
    destroy() {
      for (const off of offs) off();
      engine.destroy();
      for (const el of audios.values()) el.srcObject = null;
      for (const el of tiles.values()) {
        const v = el.querySelector('video');
        if (v) v.srcObject = null;
      }
      if (window.conveneMedia === hook) delete window.conveneMedia;
    },
  };
}
