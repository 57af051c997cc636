// Translations: one catalogue per language (js/i18n/en.js, js/i18n/de.js, plus the files of single areas such as
// js/i18n/en-recordings.js, merged here), `t(key, params)` to look a string up.
//
// A catalogue maps flat keys ('room.leave') to strings with {placeholders}, or to plural forms
// ({one: '…', other: '…'}, chosen by params.count with Intl.PluralRules). English is complete by definition and
// the fallback for a key another catalogue lacks (a Node test keeps the catalogues in step and checks that every
// key the sources look up exists).
//
// The language: the account's (GET /api/v1/me `language`, when the server has one), else the one chosen in this
// browser (localStorage `convene.language`), else the first of the browser's languages we have, else English.
// No DOM: tests load this module in Node.
import enMain from './i18n/en.js';
import deMain from './i18n/de.js';
import enRecordings from './i18n/en-recordings.js';
import deRecordings from './i18n/de-recordings.js';

// A language's catalogue: its main file and the files of one area each (kept apart so that no file grows too long).
const en = { ...enMain, ...enRecordings };
const de = { ...deMain, ...deRecordings };

/** The languages the UI speaks, by their own names (a picker shows them untranslated). */
export const LANGUAGES = Object.freeze([
  Object.freeze({ code: 'en', name: 'English' }),
  Object.freeze({ code: 'de', name: 'Deutsch' }),
]);

const CATALOGUES = { en, de };
const STORAGE_KEY = 'convene.language';

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** The supported language for a tag ('de-AT' → 'de'), or null. */
export function supported(tag) {
  if (typeof tag !== 'string' || !tag) return null;
  const lower = tag.trim().toLowerCase();
  if (CATALOGUES[lower]) return lower;
  const primary = lower.split(/[-_]/)[0];
  return CATALOGUES[primary] ? primary : null;
}

/**
 * The language to use: the account's, else the stored choice, else the first supported of the browser's
 * languages, else 'en'.
 */
export function pickLanguage({ account = null, stored = null, browser = [] } = {}) {
  for (const tag of [account, stored, ...(Array.isArray(browser) ? browser : [browser])]) {
    const code = supported(tag);
    if (code) return code;
  }
  return 'en';
}

function browserLanguages() {
  const nav = globalThis.navigator;
  if (!nav) return [];
  if (Array.isArray(nav.languages) && nav.languages.length) return [...nav.languages];
  return nav.language ? [nav.language] : [];
}

let current = pickLanguage({ stored: storage()?.getItem(STORAGE_KEY), browser: browserLanguages() });
let accountLanguage = null;
const listeners = new Set();

/** The language in use ('en', 'de'); also the locale for Intl formatting. */
export function language() {
  return current;
}

/** The language chosen in this browser (localStorage), or null. */
export function storedLanguage() {
  return supported(storage()?.getItem(STORAGE_KEY));
}

/**
 * Switches the language. remember: keep the choice in this browser. Listeners (onLanguageChange) are told
 * when it changes.
 */
export function setLanguage(code, { remember = false } = {}) {
  const next = supported(code);
  if (!next) return current;
  if (remember) {
    try {
      storage()?.setItem(STORAGE_KEY, next);
    } catch {
      // storage denied: the choice lasts for this page
    }
  }
  if (next !== current) {
    current = next;
    for (const fn of listeners) fn(current);
  }
  return current;
}

/**
 * The account's language (from /api/v1/me; null or '' when it has none): preferred over the browser's choice.
 * Without one, the stored choice or the browser's languages decide again.
 */
export function setAccountLanguage(code) {
  accountLanguage = supported(code);
  return setLanguage(pickLanguage({ account: accountLanguage, stored: storedLanguage(), browser: browserLanguages() }));
}

export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

const pluralRules = new Map();
function pluralForm(lang, count) {
  let rules = pluralRules.get(lang);
  if (!rules) {
    rules = new Intl.PluralRules(lang);
    pluralRules.set(lang, rules);
  }
  return rules.select(count);
}

const warned = new Set();

/** The raw entry of a key in a language (string, plural object, or undefined). */
export function entry(key, lang = current) {
  return CATALOGUES[lang]?.[key];
}

/**
 * The string of `key` in the current language, with {name} placeholders filled from params. A plural entry
 * picks its form by params.count. An unknown key is returned as it is (and logged once).
 */
export function t(key, params = {}) {
  let v = CATALOGUES[current]?.[key];
  if (v === undefined) v = en[key];
  if (v === undefined) {
    if (!warned.has(key)) {
      warned.add(key);
      globalThis.console?.warn?.(`convene: no translation for ${key}`);
    }
    return key;
  }
  if (typeof v === 'object' && v) {
    const n = Number(params.count);
    v = v[pluralForm(current, Number.isFinite(n) ? n : 0)] ?? v.other ?? '';
  }
  return String(v).replace(/\{(\w+)\}/g, (m, name) => (params[name] === undefined || params[name] === null ? m : String(params[name])));
}

/** The catalogues, for tests. */
export const catalogues = CATALOGUES;
