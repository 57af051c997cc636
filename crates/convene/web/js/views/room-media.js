// The media part of the room page: the video grid (#video-grid), remote audio, the microphone / camera / screen
// buttons with the device choice, and the messages about publishing rights and devices. It renders what the
// MediaEngine of js/media.js reports and sends the person's choices back to it.
import { h, icon } from '../dom.js';
import { displayName } from '../protocol.js';
import { MediaEngine } from '../media.js';
import { gridLayout, layerFor, rightsMessage } from '../media-parts.js';
import { avatar } from './room-parts.js';
import { t } from '../i18n.js';
import { listDevices, chooseDevice, storedDevice, storeDevice, speakerSupported, applySpeaker, LevelMeter } from '../devices.js';

// Toggle buttons (aria-pressed): a constant name, the icon and the colour follow the state; the tooltip says
// what a click does.
const BUTTONS = {
  microphone: { id: 'toggle-mic', text: () => t('media.button.mic'), on: () => t('media.button.mic_on'), off: () => t('media.button.mic_off'), iconOn: 'mic', iconOff: 'mic_off' },
  camera: { id: 'toggle-camera', text: () => t('media.button.camera'), on: () => t('media.button.camera_on'), off: () => t('media.button.camera_off'), iconOn: 'video', iconOff: 'video_off' },
  screen: { id: 'toggle-screen', text: () => t('media.button.screen'), on: () => t('media.button.screen_on'), off: () => t('media.button.screen_off'), iconOn: 'screen_off', iconOff: 'screen' },
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
    h('button', { type: 'button', class: 'icon-btn', 'aria-label': t('common.dismiss'), on: { click: () => clearError() } }, icon('close')));
  const enableAudio = h('button', { type: 'button', id: 'enable-audio', class: 'btn btn-primary btn-small', hidden: true },
    icon('volume'), t('media.enable_audio'));
  const audioBox = h('div', { id: 'remote-audio', hidden: true });
  const section = h('section', { id: 'media', class: 'media-stage', 'aria-label': t('media.section') },
    h('div', { class: 'video-area' }, grid, empty), h('div', { class: 'media-messages' }, rights, error, enableAudio), audioBox);

  const buttons = {};
  for (const [label, b] of Object.entries(BUTTONS)) {
    buttons[label] = h('button', {
      type: 'button', id: b.id, class: 'btn btn-secondary btn-tool btn-media', 'aria-pressed': 'false', disabled: true,
      dataset: { media: label }, on: { click: () => toggle(label) },
    }, icon(b.iconOff), h('span', { class: 'label' }, b.text()));
  }
  // Our own microphone level, inside the microphone button while it is on.
  const micLevel = h('span', { id: 'mic-level', class: 'mic-level', role: 'meter', 'aria-label': t('media.my_level'), 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0', dataset: { level: '0' }, hidden: true },
    h('span', { class: 'mic-level-fill' }));
  buttons.microphone.appendChild(micLevel);
  let meter = null;
  let meterTrack = null;

  const hasSpeakers = speakerSupported();
  let speakerId = storedDevice('speaker');
  const selects = {
    microphone: h('select', { id: 'select-mic', on: { change: (ev) => engine.selectDevice('microphone', ev.target.value) } }),
    camera: h('select', { id: 'select-camera', on: { change: (ev) => engine.selectDevice('camera', ev.target.value) } }),
    speaker: h('select', { id: 'select-speaker', on: { change: (ev) => setSpeaker(ev.target.value) } }),
  };
  const devicesLabel = t('media.devices_title');
  const devices = h('details', { id: 'device-menu', class: 'device-menu' },
    h('summary', { class: 'btn btn-secondary btn-tool btn-devices', title: devicesLabel, 'aria-label': devicesLabel },
      icon('sliders'), h('span', { class: 'label' }, t('media.devices'))),
    h('div', { class: 'device-panel', role: 'group', 'aria-label': t('media.devices') },
      h('label', { for: 'select-mic' }, icon('mic'), ` ${t('media.microphone')}`), selects.microphone,
      h('label', { for: 'select-camera' }, icon('video'), ` ${t('media.camera')}`), selects.camera,
      hasSpeakers ? [h('label', { for: 'select-speaker' }, icon('volume'), ` ${t('media.speaker')}`), selects.speaker] : null,
      h('p', { class: 'muted small device-hint', hidden: true }, t('media.device_names_hint'))));
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

  function makeTile(tile) {
    const name = displayName(tile.p);
    const placeholder = h('div', { class: 'tile-placeholder' }, avatar(name));
    const mic = h('span', { class: 'tile-mic', role: 'img' });
    const caption = h('div', { class: 'tile-caption' }, mic,
      h('span', { class: 'tile-name' }, tile.label === 'screen'
        ? (tile.self ? t('media.tile.your_screen') : t('media.tile.screen_of', { name }))
        : (tile.self ? t('media.tile.you') : name)));
    const el = h('div', {
      class: ['video-tile', tile.label === 'screen' ? 'screen-tile' : null, tile.self ? 'self-tile' : null],
      dataset: { key: tile.key, label: tile.label },
    }, placeholder, caption);
    el.addEventListener('dblclick', () => {
      if (document.fullscreenElement) document.exitFullscreen?.().catch(() => {});
      else el.requestFullscreen?.().catch(() => {});
    });
    return el;
  }

  function updateTile(el, tile, index, main, layout, speaker) {
    const login = tile.p.user?.login || '';
    el.dataset.participantId = String(tile.p.id);
    el.dataset.login = login;
    if (tile.self) el.dataset.self = 'true';
    el.style.order = String(index);
    el.classList.toggle('is-main', main);
    el.classList.toggle('speaking', tile.label === 'camera' && speaker != null && String(speaker) === String(tile.p.id) && tile.mic);
    const mic = el.querySelector('.tile-mic');
    if (tile.label === 'camera' && mic.dataset.on !== String(tile.mic)) {
      mic.dataset.on = String(tile.mic);
      mic.replaceChildren(icon(tile.mic ? 'mic' : 'mic_off'));
      mic.setAttribute('aria-label', tile.mic ? t('participant.mic_on') : t('participant.mic_off'));
    }
    const stream = tile.self ? tile.stream : tile.track ? streamOf(tile.track) : null;
    let video = el.querySelector('video');
    if (stream) {
      if (!video) {
        video = h('video', { autoplay: true, playsinline: true, 'aria-label': t('media.tile.video_of', { name: displayName(tile.p) }) });
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
    if (!tile.self && tile.label === 'camera' && tile.track) engine.setLayer(tile.p.id, layerFor(layout, { main }));
  }

  function renderGrid() {
    const wanted = wantedTiles();
    const screens = wanted.filter((tile) => tile.label === 'screen').length;
    const { layout, columns, rows } = gridLayout(wanted.length, screens);
    grid.dataset.layout = layout;
    grid.dataset.tiles = String(wanted.length);
    grid.style.setProperty('--cols', String(columns));
    grid.style.setProperty('--rows', String(rows || 1));
    section.dataset.tiles = String(wanted.length);
    const keys = new Set(wanted.map((tile) => tile.key));
    for (const [key, el] of tiles) {
      if (!keys.has(key)) {
        el.querySelector('video')?.remove();
        el.remove();
        tiles.delete(key);
      }
    }
    wanted.forEach((tile, i) => {
      let el = tiles.get(tile.key);
      if (!el) {
        el = makeTile(tile);
        tiles.set(tile.key, el);
        grid.appendChild(el); // never moved afterwards (a moved <video> pauses): CSS order sorts
      }
      updateTile(el, tile, i, layout === 'screen' && i === 0, layout, session.speaker);
    });
    empty.hidden = wanted.length > 0;
    grid.hidden = wanted.length === 0;
    if (!wanted.length) {
      emptyText.textContent = !engine.available && session.media
        ? t('media.unavailable')
        : engine.canPublish ? t('media.empty_can_publish') : t('media.empty');
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
      if (hasSpeakers && speakerId) applySpeaker(el, speakerId);
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
    const why = !engine.available && session.media ? t('media.unavailable') : rightsMessage(session.room?.kind);
    for (const [label, b] of Object.entries(BUTTONS)) {
      const btn = buttons[label];
      const on = engine.isOn(label);
      const starting = engine.isStarting(label);
      btn.disabled = !open || starting || (!can && !on);
      btn.setAttribute('aria-pressed', String(on));
      btn.classList.toggle('is-on', on);
      btn.classList.toggle('is-off', !on && label === 'microphone' && can && open);
      btn.classList.toggle('is-busy', starting);
      btn.title = !open ? t('room.not_connected') : !can && !on ? why : starting ? t('media.starting') : on ? b.on() : b.off();
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
      if (!engine.available && session.media) text = t('media.unavailable');
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
    renderLevel();
  }

  /** The level meter in the microphone button follows our microphone track. */
  function renderLevel() {
    const track = engine.local.microphone;
    if (track === meterTrack) return;
    meter?.stop();
    meter = null;
    meterTrack = track;
    micLevel.hidden = !track;
    if (!track) return;
    meter = new LevelMeter(track, (level) => {
      const pct = Math.round(level * 100);
      micLevel.dataset.level = String(pct);
      micLevel.setAttribute('aria-valuenow', String(pct));
      micLevel.style.setProperty('--level', String(level));
    });
  }

  async function setSpeaker(deviceId) {
    speakerId = deviceId || '';
    storeDevice('speaker', speakerId);
    await Promise.all([...audios.values()].map((el) => applySpeaker(el, speakerId)));
  }

  /** Refreshes the speaking highlight only (active_speaker comes often). */
  function renderSpeaker(id) {
    for (const el of tiles.values()) {
      const mine = id != null && el.dataset.participantId === String(id) && el.dataset.label === 'camera';
      const micOn = el.querySelector('.tile-mic')?.dataset.on === 'true';
      el.classList.toggle('speaking', mine && micOn);
    }
  }

  const NONE = {
    microphone: () => t('media.no_microphone'),
    camera: () => t('media.no_camera'),
    speaker: () => t('media.default_speaker'),
  };
  async function fillDevices() {
    const list = await listDevices(engine.mediaDevices);
    for (const label of hasSpeakers ? ['microphone', 'camera', 'speaker'] : ['microphone', 'camera']) {
      const sel = selects[label];
      const current = label === 'speaker' ? chooseDevice(list.speaker, speakerId) : engine.deviceId(label);
      const options = list[label].map((d) => h('option', { value: d.deviceId, selected: d.deviceId === current }, d.label));
      if (!options.length) options.push(h('option', { value: '' }, NONE[label]()));
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
    notice(t('media.muted_by', { name: nameOf(ev.detail.by) }), 'warn', { key: 'muted', ms: 12000 });
  });
  listen(engine, 'rights', (ev) => {
    const { can_publish: can } = ev.detail;
    const presenting = session.room?.kind === 'presentation' && !session.isModerator;
    const text = can
      ? (presenting ? t('media.rights.now_presenter') : t('media.rights.may_publish'))
      : (presenting ? t('media.rights.no_longer_presenter') : t('media.rights.may_not_publish'));
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
    /**
     * Turns on what was on before the move, or what the device check chose (screen sharing needs a click: not
     * carried). tracks: the device check's live tracks, used instead of asking for the devices again.
     */
    restore(letters, tracks = {}) {
      const want = { microphone: letters.includes('m'), camera: letters.includes('c') };
      for (const label of ['microphone', 'camera']) {
        const track = tracks[label] || null;
        if (want[label] && engine.canPublish) engine.setOn(label, true, { track });
        else track?.stop();
      }
    },
    destroy() {
      for (const off of offs) off();
      meter?.stop();
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
