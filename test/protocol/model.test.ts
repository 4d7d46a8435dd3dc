import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareTicks, parseTick, tickLess, nextTick, maxTick } from '../../src/protocol/ticks.ts';
import { isNormalEndpoint, normalizeEndpoint } from '../../src/protocol/endpoint.ts';
import { digestEntryFor, emptyDigest, ownString, sameDigest, serializeDigest, serializeDigestEntry, setDigestEntry, digestKey, type Digest } from '../../src/protocol/digest.ts';
import { NS } from '../../src/protocol/namespaces.ts';
import { parseDigestDocument } from '../../src/xml/digest-document.ts';
import { DIGEST_ENTRY_5_2, EP } from '../helpers/spec-examples.ts';

test('ticks compare exactly beyond 2^53', () => {
  const a = '9007199254740992'; // 2^53
  const b = '9007199254740993'; // 2^53 + 1: equal to a as a float
  assert.equal(Number(a), Number(b));
  assert.ok(tickLess(a, b));
  assert.ok(compareTicks(b, a) > 0);
  assert.equal(compareTicks('123456789012345678901234567890', '123456789012345678901234567890'), 0);
  assert.ok(tickLess('99', '100'));
  assert.equal(nextTick(b), '9007199254740994');
  assert.equal(maxTick('10', '9'), '10');
});

test('parseTick accepts non-negative integers only and canonicalises', () => {
  assert.equal(parseTick(' 007 '), '7');
  assert.equal(parseTick('0'), '0');
  assert.equal(parseTick('+5'), '5');
  for (const bad of ['-1', '1.5', '', 'x', '1e3', '0x10', ' - 3']) assert.equal(parseTick(bad), undefined, bad);
});

test('endpoint normalisation: scheme/host case, trailing slash, query, fragment; path case kept', () => {
  assert.equal(normalizeEndpoint('HTTP://WWW.Example.COM/sdata/App/c/-/accounts/?x=1#f'), 'http://www.example.com/sdata/App/c/-/accounts');
  assert.equal(normalizeEndpoint('http://h/a'), normalizeEndpoint('http://H/a/'));
  assert.notEqual(normalizeEndpoint('http://h/A'), normalizeEndpoint('http://h/a'));
});

test('isNormalEndpoint says true only where normalizeEndpoint changes nothing (the shortcut the decider takes)', () => {
  const spellings = [
    'http://h/a', 'http://H/a', 'HTTP://h/a', 'http://h/A', 'http://h/a/', 'http://h/a?x=1', 'http://h/a#f', ' http://h/a', 'http://h/a ',
    'http://h', 'http://h/', 'https://www.example.com/sdata/App/c/-/accounts', 'https://www.Example.com/sdata/app', 'urn:x:y', '',
    'http://h/a\u00e9', '\u00e9http://h/a', 'http://h:8080/a/b/c', 'http://h/a//', 'mailto:X@h',
  ];
  for (const raw of spellings) {
    if (isNormalEndpoint(raw)) assert.equal(normalizeEndpoint(raw), raw, raw);
  }
  assert.equal(isNormalEndpoint('https://www.example.com/sdata/App/c/-/accounts'), true, 'the common case takes the shortcut');
  assert.equal(isNormalEndpoint('http://H/a'), false);
});

test('a digest endpoint written as CDATA is its text, as in a feed head', () => {
  const d = parseDigestDocument(`<digest xmlns="${NS.sync}"><origin>http://x/a</origin><digestEntry><endpoint><![CDATA[http://x/a]]></endpoint>` +
    '<tick>7</tick><stamp>2008-10-30T17:22:50Z</stamp><conflictPriority>1</conflictPriority></digestEntry></digest>');
  assert.equal(d.entries.get('http://x/a')?.tick, '7');
});

test('the 4.2 digest, from the 5.2 $syncDigest entry', () => {
  const d = parseDigestDocument(DIGEST_ENTRY_5_2, '5.2');
  assert.equal(d.origin, EP.myApp1);
  assert.equal(d.entries.size, 3);
  assert.deepEqual(digestEntryFor(d, EP.myApp1), { endpoint: EP.myApp1, tick: '5', stamp: '2008-10-30T14:52:03.281Z', conflictPriority: 2 });
  assert.equal(digestEntryFor(d, EP.myApp2)?.tick, '11');
  assert.equal(digestEntryFor(d, EP.myApp2)?.conflictPriority, 1);
  assert.equal(digestEntryFor(d, EP.sageApp3)?.tick, '8');
  assert.equal(digestEntryFor(d, EP.sageApp3.toUpperCase().replace('HTTP://WWW.EXAMPLE.COM', 'http://www.example.com'))?.tick, undefined,
    'path case is significant');
});

test('a digest round-trips through both of its serialisations', () => {
  const d = parseDigestDocument(DIGEST_ENTRY_5_2);
  const bare = parseDigestDocument(`<?xml version="1.0"?>${serializeDigest(d, '')}`);
  const entry = parseDigestDocument(serializeDigestEntry(d, 'http://x/$syncDigest'));
  assert.equal(digestKey(bare), digestKey(d));
  assert.equal(digestKey(entry), digestKey(d));
});

test('bad digests are refused with a clear message', () => {
  assert.throws(() => parseDigestDocument('<entry xmlns="http://www.w3.org/2005/Atom"/>', 'd.xml'), /d\.xml.*no sync:digest/);
  assert.throws(() => parseDigestDocument(DIGEST_ENTRY_5_2.replace('<tick>11</tick>', '<tick>-11</tick>'), 'd.xml'),
    (e: Error & { code?: string }) => e.code === 'SDATA_E_TICK' && /-11/.test(e.message));
  assert.throws(() => parseDigestDocument('<x>', 'd.xml'), (e: Error & { code?: string }) => e.code === 'SDATA_E_MALFORMED');
  assert.throws(() => parseDigestDocument('<!DOCTYPE x [<!ENTITY a "b">]><x/>', 'd.xml'), /DOCTYPE/);
});

test('sameDigest says what comparing digestKeys says, whatever the order of the entries', () => {
  const make = (entries: Array<[string, string, number, string]>, origin?: string): Digest => {
    const d = emptyDigest(origin);
    for (const [endpoint, tick, conflictPriority, stamp] of entries) setDigestEntry(d, { endpoint, tick, stamp, conflictPriority });
    return d;
  };
  const base: Array<[string, string, number, string]> = [['http://a/x', '5', 3, 's1'], ['http://b/y', '7', 5, 's2'], ['http://c/z', '9', 1, '']];
  const variants: Array<Digest | undefined> = [
    undefined,
    emptyDigest(),
    make(base),
    make([...base].reverse()),
    make(base.map(([e, t, p, s]) => [`${e.replace('http://', 'HTTP://')}/`, t, p, s])), // other spellings, same endpoints
    make(base, 'http://a/x'),
    make(base.slice(1)),
    make(base.map(([e, t, p, s], i) => [e, i === 1 ? '8' : t, p, s])),
    make(base.map(([e, t, p, s], i) => [e, t, i === 2 ? 2 : p, s])),
    make(base.map(([e, t, p, s], i) => [e, t, p, i === 0 ? 's9' : s])),
    make([...base.slice(0, 2), ['http://d/z', '9', 1, '']]),
  ];
  for (const a of variants) {
    for (const b of variants) assert.equal(sameDigest(a, b), digestKey(a) === digestKey(b), `${digestKey(a)} / ${digestKey(b)}`);
  }
  assert.ok(sameDigest(variants[2], variants[3]) && sameDigest(variants[2], variants[4]), 'order and spelling of the endpoints do not matter');
});

test('ownString: the same text', () => {
  for (const s of ['', 'short', 'http://www.example.com/sdata/app1/myContract/-/accounts'.slice(3), ' spaced  ', 'é😀 x'.repeat(5)]) assert.equal(ownString(s), s);
});
