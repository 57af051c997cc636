// Tests of the translations (web/js/i18n.js, web/js/i18n/*.js): `node --test crates/convene/web/tests/`.
// The catalogues have the same keys, placeholders and plural forms, and every key the UI looks up — t('…') in
// the JavaScript sources, data-i18n in index.html — exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { load } from './load.mjs';

const I = await load('../js/i18n.js');
const { catalogues } = I;
const web = new URL('../', import.meta.url);

/** Every .js file under web/js (the catalogues too: they must not call t()). */
async function sources(dir = new URL('js/', web)) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const url = new URL(entry.name + (entry.isDirectory() ? '/' : ''), dir);
    if (entry.isDirectory()) out.push(...(await sources(url)));
    else if (entry.name.endsWith('.js')) out.push({ name: url.pathname.split('/web/')[1], text: await readFile(url, 'utf8') });
  }
  return out;
}

/** The source without comments (so that prose mentioning t('…') is not a call). */
function code(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

const placeholders = (v) => {
  const forms = typeof v === 'object' ? Object.values(v) : [v];
  return [...new Set(forms.flatMap((f) => [...String(f).matchAll(/\{(\w+)\}/g)].map((m) => m[1])))].sort();
};

test('English and German have the same keys', () => {
  const en = Object.keys(catalogues.en).sort();
  const de = Object.keys(catalogues.de).sort();
  assert.deepEqual(de.filter((k) => !catalogues.en[k]), [], 'German keys that English lacks');
  assert.deepEqual(en.filter((k) => !catalogues.de[k]), [], 'English keys that German lacks');
  assert.ok(en.length > 300, `a complete catalogue (${en.length} keys)`);
});

test('every entry is a non-empty string or plural forms, with the same placeholders in both languages', () => {
  for (const [lang, cat] of Object.entries(catalogues)) {
    for (const [key, v] of Object.entries(cat)) {
      if (typeof v === 'object') {
        assert.ok(v && typeof v.other === 'string' && v.other, `${lang} ${key}: plural forms need "other"`);
        for (const [form, s] of Object.entries(v)) {
          assert.ok(['zero', 'one', 'two', 'few', 'many', 'other'].includes(form), `${lang} ${key}: form ${form}`);
          assert.equal(typeof s, 'string', `${lang} ${key}.${form}`);
        }
      } else {
        assert.equal(typeof v, 'string', `${lang} ${key}`);
        assert.ok(v.trim(), `${lang} ${key} is empty`);
      }
    }
  }
  for (const key of Object.keys(catalogues.en)) {
    assert.deepEqual(placeholders(catalogues.de[key]), placeholders(catalogues.en[key]), `placeholders of ${key}`);
    assert.equal(typeof catalogues.de[key], typeof catalogues.en[key], `${key}: plural in one language only`);
  }
});

test('every key the sources look up exists, and t() is only called with literal keys', async () => {
  const files = await sources();
  const used = new Map(); // key → file
  const dynamic = [];
  for (const f of files) {
    const c = code(f.text);
    for (const m of c.matchAll(/(?<![\w.$])t\(\s*([^)\s])/g)) {
      const call = c.slice(m.index + 2, m.index + 40);
      // The definition of t, and the shell's data-i18n keys (checked below from index.html).
      if (m[1] !== "'" && f.name !== 'js/i18n.js' && !call.startsWith('el.dataset.i18n')) dynamic.push(`${f.name}: t(${call}`);
    }
    for (const m of c.matchAll(/(?<![\w.$])t\(\s*'([^']+)'/g)) used.set(m[1], f.name);
  }
  const html = await readFile(new URL('index.html', web), 'utf8');
  for (const m of html.matchAll(/data-i18n(?:-label)?="([^"]+)"/g)) used.set(m[1], 'index.html');
  assert.deepEqual(dynamic, [], 'calls of t() with a computed key cannot be checked');
  const missing = [...used].filter(([k]) => !(k in catalogues.en)).map(([k, f]) => `${k} (${f})`);
  assert.deepEqual(missing, [], 'keys used but not in the catalogues');
  assert.ok(used.size > 300, `the views use the catalogues (${used.size} keys)`);
});

test('t: placeholders, plurals, fallback to English and to the key', () => {
  I.setLanguage('en');
  assert.equal(I.t('room.on_server', { name: 'node-2' }), 'on node-2');
  assert.equal(I.t('rooms.people_in_room', { count: 1 }), 'person in the room');
  assert.equal(I.t('rooms.people_in_room', { count: 3 }), 'people in the room');
  assert.equal(I.t('room.count_of', { count: 2 }), '2 of {capacity}', 'a missing parameter stays visible');
  I.setLanguage('de');
  assert.equal(I.t('room.leave'), 'Verlassen');
  assert.equal(I.t('servers.n_rooms', { count: 1 }), '1 Raum');
  assert.equal(I.t('servers.n_rooms', { count: 2 }), '2 Räumen');
  const warn = console.warn;
  console.warn = () => {};
  try {
    assert.equal(I.t('no.such.key'), 'no.such.key');
  } finally {
    console.warn = warn;
  }
  I.setLanguage('en');
});

test('the language: account, then stored choice, then the browser, then English', () => {
  assert.equal(I.pickLanguage({ browser: ['de-AT', 'en'] }), 'de');
  assert.equal(I.pickLanguage({ browser: ['fr-FR', 'de'] }), 'de', 'the first language we have');
  assert.equal(I.pickLanguage({ browser: ['fr-FR', 'it'] }), 'en');
  assert.equal(I.pickLanguage({ stored: 'en', browser: ['de-DE'] }), 'en', 'a choice in this browser wins');
  assert.equal(I.pickLanguage({ account: 'de', stored: 'en', browser: ['en-GB'] }), 'de', 'the account wins');
  assert.equal(I.pickLanguage({ account: 'xx', stored: null, browser: [] }), 'en');
  assert.equal(I.supported('DE_ch'), 'de');
  assert.equal(I.supported(''), null);
  assert.deepEqual(I.LANGUAGES.map((l) => l.code), Object.keys(catalogues));
});

test('setLanguage tells listeners and remembers the choice when asked', () => {
  const store = new Map();
  globalThis.localStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)) };
  try {
    const seen = [];
    const off = I.onLanguageChange((l) => seen.push(l));
    I.setLanguage('de', { remember: true });
    I.setLanguage('de');
    I.setLanguage('fr'); // unknown: ignored
    assert.equal(I.language(), 'de');
    assert.equal(store.get('convene.language'), 'de');
    assert.equal(I.storedLanguage(), 'de');
    // An account language wins; without one, the stored choice applies again.
    assert.equal(I.setAccountLanguage('en'), 'en');
    assert.equal(I.setAccountLanguage(null), 'de');
    off();
    I.setLanguage('en');
    assert.deepEqual(seen, ['de', 'en', 'de']);
  } finally {
    delete globalThis.localStorage;
    I.setLanguage('en');
  }
});

test('protocol.js and media-parts.js speak the chosen language', async () => {
  const P = await load('../js/protocol.js');
  const M = await load('../js/media-parts.js');
  I.setLanguage('de');
  try {
    assert.equal(P.describeClose(4009, '').title, 'Der Raum ist voll');
    assert.match(M.rightsMessage('presentation'), /nur Moderatoren/);
    assert.match(M.describeMediaError({ name: 'NotAllowedError' }, 'camera'), /Kamera blockiert/);
    assert.equal(P.LEFT_REASONS.kicked, 'wurde von einem Moderator entfernt');
    // The server's English close reason is not mixed into German text.
    assert.equal(P.describeClose(4001, 'kicked by bob').message, 'Ein Moderator oder eine Administratorin hat Sie entfernt.');
  } finally {
    I.setLanguage('en');
  }
  assert.equal(P.describeClose(4001, 'kicked by bob').message, 'Kicked by bob.');
});
