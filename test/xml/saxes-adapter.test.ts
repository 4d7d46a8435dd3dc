// The guard on saxes' internals: src/xml/saxes-adapter.ts relies on a few of them (see its header), which a saxes
// upgrade may move without notice. Each test names the internal it checks, so a failure says what moved and where
// to look (lib/saxes.js of the new version). The last test makes sure no other module reaches into saxes.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { SdataError } from '../../src/protocol/errors.ts';
import {
  createParser, drive, inTextState, openElements, restartParser, SAXES_VERSION, setTagHandlers, setTextHandler, UriMatch, type NsParser,
} from '../../src/xml/saxes-adapter.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const moved = (internal: string, what: string): string =>
  `saxes internal ${internal} ${what} (saxes ${SAXES_VERSION} is pinned; src/xml/saxes-adapter.ts relies on it)`;

function written(p: NsParser, ...chunks: string[]): NsParser {
  for (const c of chunks) p.write(c);
  return p;
}

describe('saxes internals the adapter relies on', () => {
  it('the installed saxes is the pinned version', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.equal(pkg.dependencies['saxes'], SAXES_VERSION, 'package.json must pin saxes exactly to the version the adapter was checked against');
    const installed = createRequire(import.meta.url)('saxes/package.json') as { version: string };
    assert.equal(installed.version, SAXES_VERSION, `installed saxes is ${installed.version}: re-check every internal in saxes-adapter.ts, then SAXES_VERSION`);
  });

  it('handler fields: textHandler, cdataHandler, openTagHandler, closeTagHandler exist on every parser, in one order', () => {
    const a = createParser('a') as unknown as Record<string, unknown>;
    const b = createParser() as unknown as Record<string, unknown>;
    for (const f of ['textHandler', 'cdataHandler', 'openTagHandler', 'closeTagHandler']) {
      assert.ok(Object.hasOwn(a, f), moved(`field ${f}`, 'is not created by off()'));
    }
    // One hidden class for all our parsers: same own keys, same order (see createParser).
    assert.deepEqual(Object.keys(a), Object.keys(b), moved('handler fields', 'are laid out differently per parser'));
  });

  it('textHandler/cdataHandler: setting them is what on("text")/on("cdata") does, and clearing them stops the events', () => {
    const p = createParser('f');
    const got: string[] = [];
    setTextHandler(p, (t) => got.push(t));
    written(p, '<a>x&amp;y<![CDATA[<z>]]>');
    setTextHandler(p, undefined);
    written(p, 'not seen<![CDATA[nor this]]></a>');
    p.close();
    assert.deepEqual(got, ['x&y', '<z>'], moved('fields textHandler/cdataHandler', 'no longer carry the text and cdata events'));
  });

  it('openTagHandler/closeTagHandler: setting them is what on("opentag")/on("closetag") does, per element', () => {
    const p = createParser('f');
    const got: string[] = [];
    const open = (t: SaxesTagNS): void => {
      got.push(`<${t.name}`);
    };
    const close = (t: SaxesTagNS): void => {
      got.push(`</${t.name}`);
      if (t.name === 'b') setTagHandlers(p, open, close);
    };
    setTagHandlers(p, open, close);
    written(p, '<a><b>');
    setTagHandlers(p, undefined, close);
    written(p, '<c/></b><d/></a>');
    p.close();
    assert.deepEqual(got, ['<a', '<b', '</c', '</b', '<d', '</d', '</a'], moved('fields openTagHandler/closeTagHandler', 'no longer carry the tag events'));
  });

  it('tags: the open elements, the closed one already popped when the close handler runs', () => {
    const p = createParser('f');
    const depths: number[] = [];
    setTagHandlers(p, () => depths.push(openElements(p)), () => depths.push(-openElements(p)));
    written(p, '<a><b><c/></b></a>').close();
    // Open handlers run before the push (0, 1, 2), close handlers after the pop.
    assert.deepEqual(depths, [0, 1, 2, -2, -1, -0], moved('field tags', 'no longer counts the open elements this way'));
  });

  it('_init(): resets position, open elements and document state, and keeps the handlers', () => {
    const p = createParser('f');
    let opened = 0;
    setTagHandlers(p, () => opened++, undefined);
    assert.equal(typeof (p as unknown as { _init?: unknown })._init, 'function', moved('method _init()', 'is gone'));
    written(p, '<?xml version="1.0"?>\n<a>\n<b x="1');
    restartParser(p);
    assert.equal(p.line, 1, moved('method _init()', 'does not reset the line'));
    assert.equal(p.column, 0, moved('method _init()', 'does not reset the column'));
    assert.equal(openElements(p), 0, moved('method _init()', 'does not empty the open elements'));
    // A whole new document, XML declaration included, reads without error: the state is a document's start.
    assert.doesNotThrow(() => written(p, '<?xml version="1.0"?><z><y/></z>').close(), moved('method _init()', 'leaves the parser mid-document'));
    assert.equal(opened, 3, moved('method _init()', 'drops the handlers'));
  });

  it('state 13 (S_TEXT): the parser stands between markup exactly then', () => {
    const stateIs = (...chunks: string[]): boolean => inTextState(written(createParser('f'), ...chunks));
    assert.equal((new SaxesParser() as unknown as { stateTable: unknown[]; sText: unknown }).stateTable[13],
      (SaxesParser.prototype as unknown as Record<string, unknown>)['sText'], moved('state 13', 'is no longer S_TEXT (sText)'));
    for (const doc of ['<a>', '<a><b/>', '<a><b></b>', '<a>text', '<a><!-- c -->', '<a><?pi x?>', '<a><![CDATA[x]]>', '<?xml version="1.0"?>']) {
      assert.equal(stateIs(doc), true, moved('field state', `is not 13 (S_TEXT) after '${doc}'`));
    }
    for (const doc of ['', '<a><b', '<a></b', '<a>&am', '<a><!-- c', '<a><![CDATA[x', '<a b="']) {
      assert.equal(stateIs(doc), false, moved('field state', `is 13 (S_TEXT) inside markup, after '${doc}'`));
    }
  });

  it('errors: without an error handler saxes throws "fileName:line:column: message", which drive() unwraps', () => {
    const p = createParser('in.xml');
    let bare = '';
    assert.throws(() => drive(p, '<a>&bogus;</a>', 'in.xml', (m, cause) => {
      bare = m;
      return new SdataError('SDATA_E_MALFORMED', m, { cause });
    }), (e: unknown) => e instanceof SdataError && e.code === 'SDATA_E_MALFORMED');
    assert.equal(bare, 'undefined entity.', moved('error format', 'changed: drive() no longer finds the bare message'));
    // Errors our own handlers throw pass through unchanged.
    const q = createParser('in.xml');
    q.on('opentag', () => {
      throw new RangeError('ours');
    });
    assert.throws(() => drive(q, '<a/>', 'in.xml', () => new Error('not this')), RangeError);
  });

  it('namespace URIs: one string object per scope, so UriMatch compares pointers after the first match', () => {
    const uris: string[] = [];
    const p = createParser('f');
    setTagHandlers(p, (t) => uris.push(t.uri), undefined);
    written(p, `<a xmlns="${'urn:' + 'x'}"><b/><c/></a>`).close();
    const m = new UriMatch('urn:x');
    assert.ok(uris.every((u) => m.is(u)));
    assert.equal(new UriMatch('urn:x').is('urn:y'), false);
    // No namespace is no match, before and after a match.
    const fresh = new UriMatch('urn:x');
    assert.equal(fresh.is(''), false);
    assert.equal(m.is(''), false);
  });
});

describe('nothing but the adapter touches saxes internals', () => {
  it('no other file in src/, test/, bench/ or scripts/ names them', () => {
    const INTERNALS = /\b(_init|textHandler|cdataHandler|openTagHandler|closeTagHandler|stateTable|S_TEXT)\b|\.tags\.length|\.state === 13/;
    const self = relative(ROOT, fileURLToPath(import.meta.url));
    const hits: string[] = [];
    const walk = (dir: string): void => {
      for (const d of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const path = join(dir, d.name);
        if (d.isDirectory()) walk(path);
        else if (d.name.endsWith('.ts') && path !== 'src/xml/saxes-adapter.ts' && path !== self) {
          readFileSync(join(ROOT, path), 'utf8').split('\n').forEach((line, i) => {
            if (INTERNALS.test(line)) hits.push(`${path}:${i + 1}: ${line.trim()}`);
          });
        }
      }
    };
    for (const dir of ['src', 'test', 'bench', 'scripts']) walk(dir);
    assert.deepEqual(hits, [], 'use the functions of src/xml/saxes-adapter.ts instead');
  });
});
