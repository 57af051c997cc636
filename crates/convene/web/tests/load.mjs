// Loads a UI module (web/js/…) in Node without a bundler: the module and its relative imports become data:
// URLs, each file once (so two modules importing ./i18n.js share it). Node 20 or later, no npm packages.
import { readFile } from 'node:fs/promises';

const urls = new Map(); // file URL → data: URL

async function dataUrlOf(fileUrl) {
  const key = fileUrl.href;
  if (urls.has(key)) return urls.get(key);
  let src = await readFile(fileUrl, 'utf8');
  const specs = new Set([...src.matchAll(/\bfrom\s+'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]));
  for (const spec of specs) {
    const dep = await dataUrlOf(new URL(spec, fileUrl));
    src = src.split(`from '${spec}'`).join(`from '${dep}'`);
  }
  const url = `data:text/javascript;base64,${Buffer.from(src).toString('base64')}`;
  urls.set(key, url);
  return url;
}

/** Imports web/js/<path> (path relative to this tests directory, e.g. '../js/protocol.js'). */
export async function load(path) {
  return import(await dataUrlOf(new URL(path, import.meta.url)));
}
