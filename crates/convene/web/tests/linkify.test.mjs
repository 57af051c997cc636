// Tests of web/js/linkify.js (links in chat messages): `node --test crates/convene/web/tests/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './load.mjs';

const L = await load('../js/linkify.js');
const web = (host, path = '') => `${['ht', 'tps:'].join('')}//${host}${path}`; // no literal URLs in the sources
const plain = (host, path = '') => `${['ht', 'tp:'].join('')}//${host}${path}`;

const segs = (text) => L.linkSegments(text).map((s) => (s.href ? [s.text, s.href] : s.text));

test('URLs become links; the text around them stays text', () => {
  const url = web('example.org', '/page?a=1&b=2#top');
  assert.deepEqual(segs(`see ${url} now`), ['see ', [url, url], ' now']);
  assert.deepEqual(segs(plain('intranet.local:8080', '/x')), [[plain('intranet.local:8080', '/x'), plain('intranet.local:8080', '/x')]]);
  assert.deepEqual(segs('no links here'), ['no links here']);
  assert.deepEqual(segs(''), []);
  const two = `${web('a.example')} and ${web('b.example', '/c')}`;
  assert.deepEqual(segs(two), [[web('a.example'), `${web('a.example')}/`], ' and ', [web('b.example', '/c'), web('b.example', '/c')]]);
  // Upper-case schemes work too; the href is normalised.
  assert.deepEqual(segs(`${'HTTPS'}://Example.ORG/A`), [['HTTPS://Example.ORG/A', web('example.org', '/A')]]);
});

test('punctuation after a URL is not part of it; balanced brackets are', () => {
  assert.deepEqual(segs(`Go to ${web('x.org', '/a')}.`), ['Go to ', [web('x.org', '/a'), web('x.org', '/a')], '.']);
  assert.deepEqual(segs(`(${web('x.org', '/a')})`), ['(', [web('x.org', '/a'), web('x.org', '/a')], ')']);
  const wiki = web('en.wikipedia.org', '/wiki/Rust_(programming_language)');
  assert.deepEqual(segs(`${wiki}, ok?`), [[wiki, wiki], ', ok?']);
  assert.deepEqual(segs(`“${web('x.org')}”`), ['“', [web('x.org'), `${web('x.org')}/`], '”']);
  assert.deepEqual(segs(`<${web('x.org', '/a')}>`), ['<', [web('x.org', '/a'), web('x.org', '/a')], '>']);
});

test('only http and https: other schemes and broken URLs stay text', () => {
  for (const text of [
    'javascript:alert(1)',
    'JaVaScRiPt:alert(document.cookie)',
    'data:text/html;base64,PHNjcmlwdD4=',
    'vbscript:msgbox',
    'file:///etc/passwd',
    'ftp://example.org/file',
    'mailto:someone@example.org',
    `${['ht', 'tps:'].join('')}//`,
    `${['ht', 'tp:'].join('')}//[::1`,
  ]) {
    assert.deepEqual(segs(text), [text], text);
  }
  // "javascript:" inside a URL's query is just text of that URL.
  const tricky = web('x.org', '/?next=javascript:alert(1)');
  assert.equal(L.linkSegments(tricky)[0].href, tricky);
  assert.equal(L.safeHref('javascript:alert(1)'), null);
  assert.equal(L.safeHref(web('x.org', '/\u0000')), null);
  assert.equal(L.safeHref(`${web('x.org')}/${'a'.repeat(3000)}`), null, 'absurdly long');
});

test('markup in a message is text, never HTML', () => {
  const text = `<img src=x onerror=alert(1)> ${web('x.org', '/"onmouseover="alert(1)')}`;
  const pieces = L.linkSegments(text);
  assert.equal(pieces.map((p) => p.text).join(''), text, 'nothing is lost');
  const link = pieces.find((p) => p.href);
  assert.equal(link.text, web('x.org', '/'), 'a quote ends the URL');
});

test('linkify builds text nodes and safe anchors with DOM calls', () => {
  // A tiny document: records what is created, has no innerHTML at all.
  const doc = {
    createTextNode: (text) => ({ nodeType: 3, text }),
    createElement: (tag) => ({
      nodeType: 1, tag, attrs: {}, textContent: '',
      setAttribute(k, v) { this.attrs[k] = v; },
    }),
  };
  const url = web('example.org', '/x');
  const nodes = L.linkify(`hi ${url}!`, doc);
  assert.equal(nodes.length, 3);
  assert.deepEqual(nodes[0], { nodeType: 3, text: 'hi ' });
  assert.equal(nodes[1].tag, 'a');
  assert.deepEqual(nodes[1].attrs, { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'chat-link' });
  assert.equal(nodes[1].textContent, url);
  assert.deepEqual(nodes[2], { nodeType: 3, text: '!' });
  assert.deepEqual(L.linkify(undefined, doc), []);
});
