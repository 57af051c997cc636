// The device check before entering a room (#device-check): camera preview, microphone level, the choice of
// camera, microphone and speaker (remembered in this browser, js/devices.js), whether to enter with the
// microphone and the camera on, and a clear way in without them (permission refused, no device, no https).
//
// Hooks: #device-check[data-state] (asking | ready | partial | denied | missing | unsupported), video#device-check-video
// ([data-live] when it shows the camera), #device-check-level[data-level] (0–100), selects #device-check-camera,
// #device-check-mic, #device-check-speaker, switches #device-check-mic-toggle / #device-check-camera-toggle
// (aria-pressed), #device-check-message, #device-check-retry, #device-check-test-sound, #device-check-join,
// #device-check-join-without; [data-testid="recording-notice"] when the room is being recorded (setRecording).
import { h, icon } from '../dom.js';
import { t } from '../i18n.js';
import { describeMediaError, mediaErrorKind } from '../media-parts.js';
import {
  listDevices, chooseDevice, storedDevice, storeDevice, storedJoin, storeJoin, speakerSupported, applySpeaker,
  LevelMeter, testToneWav,
} from '../devices.js';
import { recordingNotice } from './room-recording.js';

const LABELS = ['microphone', 'camera'];

function constraintsFor(label, deviceId, exact) {
  const device = deviceId ? { deviceId: exact ? { exact: deviceId } : { ideal: deviceId } } : {};
  if (label === 'microphone') return { ...device, echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  return { ...device, width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24, max: 30 } };
}

/**
 * Renders the device check into container.
 * @param {HTMLElement} container
 * @param {object} opts
 * @param {string} [opts.roomName]
 * @param {(choice: {microphone: boolean, camera: boolean, tracks: {microphone: MediaStreamTrack|null, camera: MediaStreamTrack|null}}) => void} opts.onJoin
 *        the tracks are handed over (the caller stops them when it does not use them)
 * @returns {{setRoomName: (name: string) => void, setRecording: (rec: object|null) => void, destroy: () => void}}
 */
export function renderDeviceCheck(container, { roomName = '', onJoin, mediaDevices = globalThis.navigator?.mediaDevices }) {
  const md = mediaDevices;
  const tracks = { microphone: null, camera: null };
  const problems = { microphone: null, camera: null }; // null or an error kind (denied, missing, busy, …)
  const errors = { microphone: null, camera: null }; // the errors themselves, for the messages
  const want = { microphone: storedJoin('microphone', true), camera: storedJoin('camera', true) };
  const present = { microphone: true, camera: true, speaker: true };
  const listed = { microphone: [], camera: [] }; // device ids the browser lists
  const hasSpeakers = speakerSupported();
  let speakerId = storedDevice('speaker');
  let meter = null;
  let destroyed = false;
  let handedOver = false;
  let busy = 0; // device requests under way
  let started = false; // the first request (and its permission prompt) is over
  let pending = Promise.resolve(); // the latest device request
  let toneUrl = null;
  let tone = null;

  // --- skeleton -----------------------------------------------------------------------------
  const roomLine = h('p', { id: 'device-check-room', class: 'muted' });
  const video = h('video', { id: 'device-check-video', class: 'device-check-video', autoplay: true, playsinline: true, 'aria-label': t('check.preview') });
  video.muted = true;
  const placeholderText = h('span', { class: 'device-check-placeholder-text' });
  const placeholder = h('div', { class: 'device-check-placeholder' }, icon('video_off', 'icon icon-xl'), placeholderText);
  const levelFill = h('span', { class: 'level-fill' });
  const level = h('div', {
    id: 'device-check-level', class: 'level-meter', role: 'meter', 'aria-label': t('check.level'),
    'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0', dataset: { level: '0' },
  }, levelFill);
  const toggles = {
    microphone: h('button', { type: 'button', id: 'device-check-mic-toggle', class: 'btn btn-secondary device-toggle', dataset: { media: 'microphone' } }),
    camera: h('button', { type: 'button', id: 'device-check-camera-toggle', class: 'btn btn-secondary device-toggle', dataset: { media: 'camera' } }),
  };
  const selects = {
    camera: h('select', { id: 'device-check-camera', name: 'camera' }),
    microphone: h('select', { id: 'device-check-mic', name: 'microphone' }),
    speaker: h('select', { id: 'device-check-speaker', name: 'speaker' }),
  };
  const testSound = h('button', { type: 'button', id: 'device-check-test-sound', class: 'btn btn-secondary btn-small' }, icon('volume'), t('check.test_sound'));
  const message = h('div', { id: 'device-check-message', class: 'alert', role: 'status', hidden: true });
  const retry = h('button', { type: 'button', id: 'device-check-retry', class: 'btn btn-secondary btn-small', hidden: true }, icon('refresh'), t('check.retry'));
  const join = h('button', { type: 'button', id: 'device-check-join', class: 'btn btn-primary device-check-join' }, icon('enter'), h('span', { class: 'label' }, t('check.join')));
  const joinWithout = h('button', { type: 'button', id: 'device-check-join-without', class: 'btn btn-secondary' }, t('check.join_without'));
  const joinHint = h('p', { id: 'device-check-join-hint', class: 'muted small device-check-join-hint' });
  // "This meeting is being recorded": before anything is sent (the room page asks the server, setRecording).
  const recordingSlot = h('div', { id: 'device-check-recording', class: 'recording-notice-slot' });

  const field = (label, control, ...extra) => h('div', { class: 'field' }, h('label', { for: control.id }, label), control, ...extra);
  const root = h('section', { id: 'device-check', class: 'device-check panel', dataset: { state: 'asking' }, 'aria-labelledby': 'device-check-title' },
    h('header', { class: 'device-check-header' },
      h('h1', { id: 'device-check-title' }, t('check.title')),
      roomLine),
    recordingSlot,
    h('div', { class: 'device-check-body' },
      h('div', { class: 'device-check-stage' },
        h('div', { class: 'device-check-preview' }, video, placeholder),
        h('div', { class: 'device-check-toggles', role: 'group', 'aria-label': t('check.when_joining') }, toggles.microphone, toggles.camera)),
      h('div', { class: 'device-check-settings' },
        field(t('media.camera'), selects.camera),
        field(t('media.microphone'), selects.microphone, level),
        hasSpeakers
          ? field(t('media.speaker'), selects.speaker, h('div', { class: 'device-check-sound' }, testSound))
          : h('div', { class: 'field' }, h('span', { class: 'field-label' }, t('media.speaker')),
            h('p', { class: 'muted small' }, t('check.speaker_default')), h('div', { class: 'device-check-sound' }, testSound)),
        message,
        retry)),
    h('footer', { class: 'device-check-actions' },
      joinHint,
      h('div', { class: 'button-row' },
        join, joinWithout,
        h('a', { href: '/rooms', class: 'btn btn-ghost', id: 'device-check-back', 'data-link': true }, t('room.back_to_rooms')))));
  container.replaceChildren(root);

  function setRoomName(name) {
    roomLine.textContent = name ? t('check.before_room', { room: name }) : t('check.before');
  }
  setRoomName(roomName);

  let recordingId = null;
  /** The recording running in the room ({id, started_at, started_by}), or null. */
  function setRecording(rec) {
    if (destroyed) return;
    const id = rec ? String(rec.id ?? '') : null;
    if (id === recordingId) return;
    recordingId = id;
    recordingSlot.replaceChildren(...(rec ? [recordingNotice(rec)] : []));
  }

  // --- rendering ----------------------------------------------------------------------------
  function state() {
    if (!md?.getUserMedia) return 'unsupported';
    if (!started || (busy && !tracks.microphone && !tracks.camera)) return 'asking';
    if (!present.microphone && !present.camera) return 'missing';
    const wanted = LABELS.filter((l) => want[l] && present[l]);
    const failed = wanted.filter((l) => problems[l]);
    if (wanted.length && failed.length === wanted.length && failed.every((l) => problems[l] === 'denied')) return 'denied';
    if (failed.length) return 'partial';
    return 'ready';
  }

  function problemText() {
    const s = state();
    if (s === 'unsupported') return globalThis.isSecureContext === false ? t('check.insecure') : t('check.unsupported');
    if (s === 'missing') return t('check.missing');
    if (s === 'denied') return problems.microphone === 'denied' && problems.camera === 'denied' ? t('check.denied_both') : describeMediaError(errors.camera || errors.microphone, problems.camera ? 'camera' : 'microphone');
    const lines = [];
    for (const l of LABELS) {
      if (!present[l] && want[l]) lines.push(l === 'camera' ? t('check.no_camera') : t('check.no_microphone'));
      else if (want[l] && problems[l]) lines.push(describeMediaError(errors[l], l));
    }
    return lines.join(' ');
  }

  function render() {
    if (destroyed) return;
    const s = state();
    root.dataset.state = s;
    const text = problemText();
    message.textContent = text;
    message.hidden = !text;
    message.className = ['alert', s === 'denied' || s === 'unsupported' ? 'alert-error' : 'alert-warn'].join(' ');
    message.setAttribute('role', s === 'denied' || s === 'unsupported' ? 'alert' : 'status');
    retry.hidden = !(s === 'denied' || s === 'partial' || s === 'missing');

    // Preview.
    const cam = tracks.camera;
    if (cam) {
      if (video.srcObject?.getVideoTracks?.()[0] !== cam) {
        video.srcObject = new MediaStream([cam]);
        video.play?.().catch(() => {});
      }
      video.dataset.live = 'true';
    } else {
      if (video.srcObject) video.srcObject = null;
      delete video.dataset.live;
    }
    video.hidden = !cam;
    placeholder.hidden = !!cam;
    placeholderText.textContent = !present.camera || s === 'unsupported' ? t('check.no_camera_short')
      : !want.camera ? t('check.camera_is_off')
        : problems.camera ? t('check.camera_unavailable') : t('check.starting_camera');

    // Switches: what is turned on when entering.
    for (const l of LABELS) {
      const b = toggles[l];
      // A device that could not be started shows as off; a click asks for it again.
      const on = want[l] && present[l] && s !== 'unsupported' && !problems[l];
      const usable = present[l] && s !== 'unsupported';
      b.disabled = !usable;
      b.setAttribute('aria-pressed', String(on));
      b.classList.toggle('is-on', on);
      const name = l === 'camera' ? t('media.camera') : t('media.microphone');
      b.replaceChildren(icon(l === 'camera' ? (on ? 'video' : 'video_off') : (on ? 'mic' : 'mic_off')),
        h('span', { class: 'label' }, on ? t('check.on', { device: name }) : t('check.off', { device: name })));
      b.title = !usable ? (l === 'camera' ? t('check.no_camera') : t('check.no_microphone'))
        : on ? (l === 'camera' ? t('check.camera_toggle_off') : t('check.mic_toggle_off'))
          : (l === 'camera' ? t('check.camera_toggle_on') : t('check.mic_toggle_on'));
    }
    const micOn = want.microphone && !!tracks.microphone;
    const camOn = want.camera && !!tracks.camera;
    joinHint.textContent = micOn && camOn ? t('check.join_with_both')
      : micOn ? t('check.join_with_mic') : camOn ? t('check.join_with_camera') : t('check.join_with_none');
    level.classList.toggle('is-idle', !tracks.microphone);
    testSound.disabled = s === 'unsupported' && !hasSpeakers;
  }

  function setLevel(value) {
    const pct = Math.round(value * 100);
    level.dataset.level = String(pct);
    level.setAttribute('aria-valuenow', String(pct));
    levelFill.style.width = `${pct}%`;
  }

  function restartMeter() {
    meter?.stop();
    meter = null;
    if (tracks.microphone) meter = new LevelMeter(tracks.microphone, setLevel);
    else setLevel(0);
  }

  async function fillLists() {
    const list = await listDevices(md);
    if (destroyed) return;
    present.microphone = list.present.microphone;
    present.camera = list.present.camera;
    present.speaker = list.present.speaker;
    for (const l of LABELS) listed[l] = list[l].map((d) => d.deviceId);
    // Without permission browsers list a device without its name: say so rather than "none found".
    const none = {
      camera: present.camera ? t('check.device_after_permission') : t('media.no_camera'),
      microphone: present.microphone ? t('check.device_after_permission') : t('media.no_microphone'),
      speaker: t('media.default_speaker'),
    };
    for (const label of ['camera', 'microphone', 'speaker']) {
      const sel = selects[label];
      const inUse = LABELS.includes(label) ? tracks[label]?.getSettings?.().deviceId : null;
      const current = inUse || chooseDevice(list[label], label === 'speaker' ? speakerId : storedDevice(label));
      const options = list[label].map((d) => h('option', { value: d.deviceId, selected: d.deviceId === current }, d.label));
      if (!options.length) options.push(h('option', { value: '' }, none[label]));
      sel.replaceChildren(...options);
      sel.disabled = !list[label].length;
      if (current) sel.value = current;
    }
  }

  // --- devices ------------------------------------------------------------------------------
  function stopTrack(label) {
    const track = tracks[label];
    tracks[label] = null;
    track?.stop();
  }

  function adopt(label, track) {
    // Left, or switched off while the browser was still asking.
    if (destroyed || !want[label]) {
      track.stop();
      return;
    }
    stopTrack(label);
    tracks[label] = track;
    problems[label] = null;
    errors[label] = null;
    track.addEventListener('ended', () => {
      if (tracks[label] === track) {
        tracks[label] = null;
        if (label === 'microphone') restartMeter();
        render();
      }
    });
  }

  /** Asks for the devices of `labels` (one request, so one permission prompt), then for each alone on failure. */
  function acquire(labels, opts) {
    const run = pending.then(() => acquireNow(labels, opts));
    pending = run.catch(() => {});
    return run;
  }

  async function acquireNow(labels, { exact = false, replace = false } = {}) {
    if (destroyed) return;
    // Some systems open one camera at a time: release the old one before asking for another.
    if (replace) for (const l of labels) stopTrack(l);
    const wanted = labels.filter((l) => present[l] && !tracks[l]);
    if (!wanted.length || !md?.getUserMedia) return;
    busy += 1;
    render();
    // The remembered device: exactly that one while the browser lists it (after permission it lists ids),
    // else as a preference (before permission, or when it is gone: another one is fine).
    const exactly = (l) => exact || listed[l].includes(storedDevice(l));
    const request = (ls) => md.getUserMedia({
      audio: ls.includes('microphone') ? constraintsFor('microphone', storedDevice('microphone'), exactly('microphone')) : false,
      video: ls.includes('camera') ? constraintsFor('camera', storedDevice('camera'), exactly('camera')) : false,
    });
    const fail = (l, err) => {
      problems[l] = mediaErrorKind(err);
      errors[l] = err;
    };
    try {
      const stream = await request(wanted);
      for (const l of wanted) {
        const track = l === 'microphone' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
        if (track) adopt(l, track);
        else fail(l, Object.assign(new Error('no track'), { name: 'NotFoundError' }));
      }
    } catch (err) {
      if (mediaErrorKind(err) === 'denied' || wanted.length === 1) {
        for (const l of wanted) fail(l, err);
      } else {
        // One of them is missing or busy: find out which.
        for (const l of wanted) {
          try {
            const stream = await request([l]);
            const track = l === 'microphone' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
            if (track) adopt(l, track);
          } catch (err2) {
            fail(l, err2);
          }
        }
      }
    } finally {
      busy -= 1;
    }
    if (destroyed) return;
    if (wanted.includes('microphone')) restartMeter();
    await fillLists(); // names appear once allowed
    render();
  }

  async function start() {
    try {
      await fillLists();
      if (destroyed || !md?.getUserMedia) return;
      await acquire(LABELS.filter((l) => want[l]));
    } finally {
      started = true;
      render();
    }
  }

  // --- events -------------------------------------------------------------------------------
  for (const l of LABELS) {
    toggles[l].addEventListener('click', async () => {
      if (want[l] && problems[l]) {
        problems[l] = null;
        errors[l] = null;
        await acquire([l]);
        render();
        return;
      }
      want[l] = !want[l];
      storeJoin(l, want[l]);
      if (want[l]) {
        problems[l] = null;
        await acquire([l]);
      } else {
        stopTrack(l);
        if (l === 'microphone') restartMeter();
      }
      render();
    });
    selects[l].addEventListener('change', async () => {
      storeDevice(l, selects[l].value);
      if (!want[l]) return;
      await acquire([l], { exact: true, replace: true });
    });
  }
  selects.speaker.addEventListener('change', () => {
    speakerId = selects.speaker.value;
    storeDevice('speaker', speakerId);
    if (tone) applySpeaker(tone, speakerId);
  });
  testSound.addEventListener('click', async () => {
    if (!tone) {
      toneUrl = URL.createObjectURL(testToneWav());
      tone = h('audio', { src: toneUrl, preload: 'auto' });
    }
    if (hasSpeakers) await applySpeaker(tone, speakerId);
    tone.currentTime = 0;
    tone.play?.().catch(() => {});
  });
  retry.addEventListener('click', async () => {
    for (const l of LABELS) {
      problems[l] = null;
      errors[l] = null;
    }
    await fillLists();
    await acquire(LABELS.filter((l) => want[l] && !tracks[l]));
    render();
  });

  async function finish(withMedia) {
    if (destroyed || joining) return;
    joining = true;
    join.disabled = true;
    joinWithout.disabled = true;
    // Entering with media while the browser still asks for permission: wait for the answer.
    if (withMedia) await pending;
    if (destroyed) return;
    const choice = {
      microphone: withMedia && want.microphone && !!tracks.microphone,
      camera: withMedia && want.camera && !!tracks.camera,
      tracks: { microphone: null, camera: null },
    };
    for (const l of LABELS) {
      if (choice[l]) choice.tracks[l] = tracks[l];
      else tracks[l]?.stop();
      tracks[l] = null;
    }
    handedOver = true;
    destroy();
    onJoin(choice);
  }
  let joining = false;
  join.addEventListener('click', () => finish(true));
  joinWithout.addEventListener('click', () => finish(false));

  const onDeviceChange = () => fillLists().then(render);
  md?.addEventListener?.('devicechange', onDeviceChange);

  function destroy() {
    if (destroyed) return;
    destroyed = true;
    md?.removeEventListener?.('devicechange', onDeviceChange);
    meter?.stop();
    meter = null;
    if (!handedOver) for (const l of LABELS) stopTrack(l);
    video.srcObject = null;
    if (tone) tone.pause?.();
    if (toneUrl) URL.revokeObjectURL(toneUrl);
  }

  render();
  start().catch((err) => {
    console.error(err);
    render();
  });
  join.focus({ preventScroll: true });

  return { setRoomName, setRecording, destroy };
}
