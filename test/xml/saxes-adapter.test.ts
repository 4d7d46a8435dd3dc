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
  attributeCount, createParser, dropPendingText, drive, inTag, inTextState, openElements, pending, restartParser, SAXES_VERSION, setLimitHandlers,
  setTagHandlers, setTextHandler, UriMatch, type NsParser,
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

  it('handler fields: textHandler, cdataHandler, openTagHandler, closeTagHandler, openTagStartHandler, attributeHandler exist on every parser, in one order', () => {
    const a = createParser('a') as unknown as Record<string, unknown>;
    const b = createParser() as unknown as Record<string, unknown>;
    for (const f of ['textHandler', 'cdataHandler', 'openTagHandler', 'closeTagHandler', 'openTagStartHandler', 'attributeHandler']) {
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

  it('openTagStartHandler/attributeHandler and attribList: a start tag\'s name before its attributes, then each attribute, counted', () => {
    const p = createParser('f');
    const got: string[] = [];
    setLimitHandlers(p, (t) => got.push(`<${t.name} open=${openElements(p)}`), (a) => got.push(`${a.name}=${a.value} n=${attributeCount(p)}`));
    written(p, '<a x="1"><b y="2" xmlns:q="urn:q" q:z="3"/></a>').close();
    assert.deepEqual(got, ['<a open=0', 'x=1 n=1', '<b open=1', 'y=2 n=1', 'xmlns:q=urn:q n=2', 'q:z=3 n=3'],
      moved('fields openTagStartHandler/attributeHandler/attribList', 'no longer carry the opentagstart and attribute events this way'));
    // Restarted, the parser keeps them (like the others).
    restartParser(p);
    got.length = 0;
    written(p, '<c w="4"/>').close();
    assert.deepEqual(got, ['<c open=0', 'w=4 n=1'], moved('method _init()', 'drops the limit handlers'));
  });

  it('text, name, entity, piTarget, entityReturnState and the state numbers: what is being accumulated, between writes', () => {
    const at = (...chunks: string[]) => pending(written(createParser('f'), ...chunks));
    const value = at('<a b="', 'x'.repeat(1000));
    assert.equal(value.attributeValue, true, moved('state 40 (S_ATTRIB_VALUE_QUOTED)', 'is not where a quoted value is read'));
    assert.equal(value.text, 1000, moved('field text', 'does not hold the attribute value read so far'));
    const withRef = at('<a b="xx&amp;', 'yy&am');
    assert.equal(withRef.attributeValue, true, moved('field entityReturnState', 'does not say the reference is in an attribute value'));
    assert.equal(withRef.text, 5, moved('field text', 'does not hold the value before the reference'));
    assert.deepEqual([at(`<${'n'.repeat(500)}`).name, at(`<${'n'.repeat(500)}`).nameOf], [500, 'element'], moved('field name / state 34', 'do not hold an element name being read'));
    assert.deepEqual([at(`<a ${'n'.repeat(500)}`).name, at(`<a ${'n'.repeat(500)}`).nameOf], [500, 'attribute'], moved('field name / state 37', 'do not hold an attribute name being read'));
    assert.deepEqual([at(`<a></${'n'.repeat(500)}`).name, at(`<a></${'n'.repeat(500)}`).nameOf], [500, 'end tag'], moved('field name / state 43', 'do not hold an end tag name being read'));
    assert.deepEqual([at(`<a>&${'e'.repeat(500)}`).name, at(`<a>&${'e'.repeat(500)}`).nameOf], [500, 'entity reference'], moved('field entity', 'does not hold a reference being read'));
    assert.deepEqual([at(`<a><?${'t'.repeat(500)}`).name, at(`<a><?${'t'.repeat(500)}`).nameOf], [500, 'processing-instruction target'], moved('field piTarget', 'does not hold a PI target being read'));
    assert.equal(at('<!DOCTYPE a [').doctype, true, moved('states 2..12', 'are not the DOCTYPE'));
    assert.equal(at('<a><!-- x').doctype, false);
    assert.equal(at('<a>').text, 0, 'no text kept without a text handler');
    for (const [doc, want] of [['<a b="1"', true], ['<a></a', true], ['<a', true], ['<a>text', false], ['<a><!-- c', false], ['<a><![CDATA[x', false]] as const) {
      assert.equal(inTag(written(createParser('f'), doc)), want, moved('states 34..44', `are not exactly "inside a tag" after '${doc}'`));
    }
  });

  it('dropPendingText: comments, CDATA sections and PIs read on, well-formedness checks and all, without their text', () => {
    for (const [open, fill, close] of [['<!--', 'c', '-->'], ['<![CDATA[', 'c', ']]>'], ['<?pi ', 'p', '?>']] as const) {
      const p = createParser('f');
      written(p, `<a>${open}`, fill.repeat(5000));
      assert.equal(pending(p).text > 1000, true, moved('field text', `does not hold the ${open} being read`));
      dropPendingText(p);
      assert.ok(pending(p).text <= 1, moved('field text', `is not what ${open} keeps`));
      assert.doesNotThrow(() => written(p, fill.repeat(10), close, '<b/></a>').close(), moved('field text', `is needed to read ${open} on`));
      // Not ended, it is still an error.
      const q = written(createParser('f'), `<a>${open}`, fill.repeat(5000));
      dropPendingText(q);
      assert.throws(() => written(q, fill).close(), Error, `${open}: saxes still refuses one that does not end`);
    }
    // The checks saxes makes inside a comment do not depend on its text.
    const c = written(createParser('f'), '<a><!-- a ', 'b'.repeat(100));
    dropPendingText(c);
    assert.throws(() => written(c, ' -- b --></a>').close(), Error, 'saxes still refuses -- in a comment');
    // Elsewhere, nothing is dropped: an attribute value stays whole.
    const v = written(createParser('f'), '<a b="', 'x'.repeat(100));
    dropPendingText(v);
    assert.equal(pending(v).text, 100);
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
    const INTERNALS = /\b(_init|textHandler|cdataHandler|openTagHandler|closeTagHandler|openTagStartHandler|attributeHandler|attribList|entityReturnState|piTarget|stateTable|S_TEXT)\b|\.tags\.length|\.state === 13/;
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
