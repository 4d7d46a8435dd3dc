import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NS } from '../../src/protocol/namespaces.ts';
import { isSdataError } from '../../src/protocol/errors.ts';
import { compactResult, ResultRenderer, resultEntryXml, stateXml } from '../../src/provider/sync/result-entry.ts';
import { FlatEntryReader, flatNames, type EntryFields, type FlatLimits } from '../../src/xml/flat-result-entry.ts';
import { resultEntryPattern } from '../../src/xml/result-entry-pattern.ts';
import type { ResultEntry, ResultTail } from '../../src/xml/result-types.ts';
import { ResultScanner } from '../../src/xml/result-scanner.ts';
import { prng } from '../helpers/feeds.ts';
import { ResultReader } from '../helpers/result-reader.ts';

// ResultScanner reads plain result entries in one tight pass (src/xml/flat-result-entry.ts) and leaves every other
// shape to its general path. The saxes-based reader is the oracle of both; the pass itself must take the entries a
// target writes (else it is dead weight) and give up on each shape it does not read.

const ROOT = `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}" xmlns:sync="${NS.sync}" xmlns:h="${NS.http}" xmlns:o="urn:other">`;
const BINDINGS = new Map([['xml', NS.xml], ['', NS.atom], ['sdata', NS.sdata], ['http', NS.http], ['sync', NS.sync], ['h', NS.http], ['o', 'urn:other']]);

function providerEntry(i: number, status = 201): string {
  const url = `http://localhost:8081/sdata/hub/crm/-/accounts('${i}')`;
  return resultEntryXml({
    id: url, title: `accounts ${i}`, status, method: status === 201 ? 'POST' : 'PUT', location: url, etag: 'a1b2c3', updated: '2026-12-05T14:31:16.743Z',
    stateXml: stateXml('http://localhost:8080/sdata/app/crm/-/accounts', `${5000 + i}`, '2026-12-05T14:31:16.743Z'),
  }).trimEnd();
}

/** Shapes of result entries: the first read by the pass, the rest each a reason to leave the entry to the general path. */
const PLAIN: string[] = [
  providerEntry(1),
  providerEntry(2, 200),
  '<entry>\n  <id> spaced </id >\n  <h:httpStatus>409</h:httpStatus><http:httpMessage/>\n  <http:httpMethod>put</http:httpMethod>\n</entry>',
  '<entry><id>x</id><http:httpStatus>200</http:httpStatus><http:httpStatus>not a number</http:httpStatus><o:httpStatus>1</o:httpStatus></entry>',
  '<entry><id>x</id><other a="1" b=\'&gt;/\'><deep><entry>inner</entry></deep></other><http:location>L</http:location></entry>',
  '<entry><id>x</id><httpStatus>7</httpStatus><sync:syncState><sync:endpoint>e</sync:endpoint></sync:syncState></entry>',
];
const LEFT: string[] = [
  '<entry><id>a &amp; b</id><http:httpStatus>200</http:httpStatus></entry>',
  '<entry><id><![CDATA[c]]></id><http:httpStatus>200</http:httpStatus></entry>',
  '<entry><id>x<!-- c --></id><http:httpStatus>200</http:httpStatus></entry>',
  '<entry><!-- c --><http:httpStatus>200</http:httpStatus></entry>',
  '<entry><?pi x?><http:httpStatus>200</http:httpStatus></entry>',
  '<entry><id>x<b>y</b></id><http:httpStatus>200</http:httpStatus></entry>',
  `<entry xmlns:x="${NS.http}"><x:httpStatus>200</x:httpStatus></entry>`,
  `<entry><http:httpStatus xmlns:http="urn:not-http">200</http:httpStatus></entry>`,
  '<entry><http:httpStatus>500</http:httpStatus><sdata:diagnosis><sdata:message>m</sdata:message></sdata:diagnosis></entry>',
  '<entry><http:httpStatus>200</http:httpStatus><sdata:payload><a xmlns:sdata="http://schemas.sage.com/sdata/2008/1" sdata:uuid="u"/></sdata:payload></entry>',
  `<entry><id>x</id><other ${Array.from({ length: 60 }, (_, k) => `a${k}="1"`).join(' ')}/><http:httpStatus>200</http:httpStatus></entry>`,
];
const BROKEN: string[] = [
  '<entry><id>x</idd><http:httpStatus>200</http:httpStatus></entry>',
  '<entry><id>x</id><zz:httpStatus>200</zz:httpStatus></entry>',
  '<entry><id>x</id><http:httpStatus>200</http:httpStatus>',
];

function doc(entries: string[]): Buffer {
  return Buffer.from(`<?xml version="1.0" encoding="utf-8"?>\n${ROOT}<id>r</id>\n${entries.join('\n')}\n</feed>\n`);
}

function read(make: (f: (e: ResultEntry) => void) => { push(b: Uint8Array): void; end(): ResultTail }, bytes: Buffer, step: number): unknown {
  const entries: ResultEntry[] = [];
  const r = make((e) => entries.push(e));
  try {
    for (let i = 0; i < bytes.length; i += step) r.push(bytes.subarray(i, i + step));
    return { entries, tail: r.end() };
  } catch (e) {
    return isSdataError(e) ? { error: e.code } : e;
  }
}

function fields(x: string): EntryFields | undefined {
  const r = new FlatEntryReader({ maxDepth: 256, plainTag: 341, maxText: 1 << 20 });
  const s = `${x}\n`;
  r.begin(s);
  const e: EntryFields = { atomId: undefined, status: undefined, message: undefined, method: undefined, location: undefined };
  const end = r.read(0, flatNames(BINDINGS), e);
  if (end < 0) return undefined;
  assert.equal(end, x.length, 'the pass ends right after the entry');
  return e;
}

describe('plain result entries (ResultScanner fast path)', () => {
  it('reads the entries a target writes, and each plain shape', () => {
    assert.deepEqual(fields(PLAIN[0]!), {
      atomId: "http://localhost:8081/sdata/hub/crm/-/accounts('1')", status: 201, message: 'Created', method: 'POST',
      location: "http://localhost:8081/sdata/hub/crm/-/accounts('1')",
    });
    for (const x of PLAIN) assert.ok(fields(x), `left to the general path: ${x}`);
    // A later status that is not a number does not undo an earlier one; a prefix bound elsewhere is another element.
    assert.equal(fields(PLAIN[3]!)!.status, 200);
    assert.equal(fields(PLAIN[2]!)!.method, 'PUT');
  });

  it('leaves every other shape to the general path', () => {
    for (const x of [...LEFT, ...BROKEN]) assert.equal(fields(x), undefined, `read by the pass: ${x}`);
    // Cut anywhere, an entry is not the pass's to read.
    const x = PLAIN[0]!;
    for (let cut = 1; cut < x.length; cut++) {
      const r = new FlatEntryReader({ maxDepth: 256, plainTag: 341, maxText: 1 << 20 });
      r.begin(x.slice(0, cut));
      assert.equal(r.read(0, flatNames(BINDINGS), { atomId: undefined, status: undefined, message: undefined, method: undefined, location: undefined }), -1, `cut at ${cut}`);
    }
    // Depth and field-size limits are the general path's to report.
    const shallow = new FlatEntryReader({ maxDepth: 3, plainTag: 341, maxText: 1 << 20 });
    shallow.begin(PLAIN[4]!);
    assert.equal(shallow.read(0, flatNames(BINDINGS), { atomId: undefined, status: undefined, message: undefined, method: undefined, location: undefined }), -1);
    const short = new FlatEntryReader({ maxDepth: 256, plainTag: 341, maxText: 3 });
    short.begin(PLAIN[0]!);
    assert.equal(short.read(0, flatNames(BINDINGS), { atomId: undefined, status: undefined, message: undefined, method: undefined, location: undefined }), -1);
  });

  it('gives what saxes gives on random mixes of every shape, in several chunkings', () => {
    const rand = prng(5);
    const shapes = [...PLAIN, ...LEFT];
    for (let k = 0; k < 40; k++) {
      const entries: string[] = [];
      const n = 1 + Math.floor(rand() * 30);
      for (let i = 0; i < n; i++) entries.push(rand() < 0.5 ? providerEntry(i, rand() < 0.5 ? 201 : 200) : shapes[Math.floor(rand() * shapes.length)]!);
      const bytes = doc(entries);
      const want = read((f) => new ResultReader(f), bytes, bytes.length);
      for (const step of [bytes.length, 65536, 4096, 1 + Math.floor(rand() * 300), 7]) {
        assert.deepEqual(read((f) => new ResultScanner(f), bytes, step), want, `mix ${k}, step ${step}`);
      }
    }
  });

  it('refuses a broken entry where it breaks, whatever the chunking', () => {
    for (const x of BROKEN) {
      const bytes = doc([providerEntry(1), x, providerEntry(2)]);
      const saxes = read((f) => new ResultReader(f), bytes, bytes.length);
      assert.ok(saxes && typeof saxes === 'object' && 'error' in saxes, `saxes accepts ${x}`);
      let message: string | undefined;
      for (const step of [bytes.length, 5]) {
        try {
          const r = new ResultScanner(() => undefined, { source: 'R' });
          for (let i = 0; i < bytes.length; i += step) r.push(bytes.subarray(i, i + step));
          r.end();
          assert.fail(`accepted: ${x}`);
        } catch (e) {
          assert.ok(isSdataError(e), String(e));
          if (message === undefined) message = e.message;
          else assert.equal(e.message, message, 'the same error whatever the chunking');
        }
      }
      // The entry never closed is found where the document ends; the others where they break.
      assert.match(message!, x.endsWith('</entry>') ? /^R:4:\d+: / : /^R:6:1: /, x);
    }
  });
});

/** What the flat pass reads of `x` under `lim`, with the whole-entry pattern or with the walk alone. */
function both(x: string, lim: FlatLimits = { maxDepth: 256, plainTag: 341, maxText: 1 << 20 }): [EntryFields | undefined, EntryFields | undefined] {
  const s = `${x}\n`;
  const one = (pattern: boolean): EntryFields | undefined => {
    const r = new FlatEntryReader(lim);
    r.begin(s);
    const names = flatNames(BINDINGS);
    const e: EntryFields = { atomId: undefined, status: undefined, message: undefined, method: undefined, location: undefined };
    const end = r.read(0, pattern ? names : { ...names, pattern: undefined }, e);
    return end < 0 ? undefined : (assert.equal(end, x.length), e);
  };
  return [one(true), one(false)];
}

/** The entries the provider's result pages carry (ResultRenderer), as a target writes them for applied entries. */
function rendered(i: number): string {
  const renderer = new ResultRenderer({
    store: { endpoint: () => ({ norm: 'http://localhost:8080/sdata/app/crm/-/accounts', xml: 'http://localhost:8080/sdata/app/crm/-/accounts' }) as never },
    kind: { selfUrl: 'http://localhost:8081/sdata/hub/crm/-/accounts', name: 'accounts' } as never,
    serving: 'http://localhost:8081/sdata/hub/crm/-/accounts', updated: '2026-12-05T14:31:16.743Z',
  });
  return renderer.render(compactResult(i % 3 === 0 ? 200 : 201, i % 3 === 0 ? 'PUT' : 'POST', i, 1, String(5000 + i), '2026-12-05T14:31:16.743Z')).trimEnd();
}

/** The spelling without the optional title, updated and message: what a terser target writes (bench/null-peers.ts). */
const TERSE: string[] = [
  '<entry><id>urn:e:1</id><http:httpStatus>201</http:httpStatus><http:httpMethod>POST</http:httpMethod></entry>',
  '<entry><id>urn:e:2</id><http:httpStatus>200</http:httpStatus></entry>',
  '<entry><id>urn:e:3</id><updated>2026-12-05T14:31:16.743Z</updated><http:httpStatus>200</http:httpStatus><http:httpMessage>OK</http:httpMessage></entry>',
  '<entry><id>urn:e:4</id><title>t</title><http:httpStatus>201</http:httpStatus><http:location>L</http:location><http:etag>e</http:etag></entry>',
  '<entry><id>urn:e:5</id><link rel="self" type="application/atom+xml; type=entry" href="h"/><http:httpStatus>204</http:httpStatus></entry>',
];

describe('the entry a target writes, read whole (result-entry-pattern.ts)', () => {
  it('matches what the provider writes, and nothing of it cut short', () => {
    const re = resultEntryPattern(BINDINGS)!.re;
    for (const x of [providerEntry(1), providerEntry(2, 200), rendered(1), rendered(3), PLAIN[1]!, ...TERSE]) {
      re.lastIndex = 0;
      assert.ok(re.exec(x) !== null && re.lastIndex === x.length, `not matched whole: ${x}`);
      for (let cut = 1; cut < x.length; cut++) {
        re.lastIndex = 0;
        assert.equal(re.exec(x.slice(0, cut)), null, `matched cut at ${cut}`);
      }
    }
    assert.deepEqual(both(rendered(3))[0], {
      atomId: "http://localhost:8081/sdata/hub/crm/-/accounts('3')", status: 200, message: 'OK', method: 'PUT', location: undefined,
    });
    assert.deepEqual(both(TERSE[0]!)[0], { atomId: 'urn:e:1', status: 201, message: undefined, method: 'POST', location: undefined });
  });

  it('reads what the walk reads, of every shape, and leaves what the walk leaves', () => {
    for (const x of [...PLAIN, ...LEFT, ...BROKEN, ...TERSE, rendered(1), rendered(3), providerEntry(7)]) {
      const [whole, walked] = both(x);
      assert.deepEqual(whole, walked, x);
    }
  });

  it('reads a page of entries our provider writes whole, whatever the chunking, and a page of another spelling by the walk', () => {
    const ours = doc(Array.from({ length: 600 }, (_, i) => rendered(i)));
    const terse = doc(Array.from({ length: 600 }, (_, i) => TERSE[i % TERSE.length]!));
    const theirs = doc(Array.from({ length: 600 }, (_, i) => `<entry>\n <id>${i}</id>\n <http:httpStatus>201</http:httpStatus>\n</entry>`));
    for (const step of [ours.length, 65536, 4096, 7]) {
      const count = (bytes: Buffer): [number, number] => {
        let n = 0;
        const r = new ResultScanner(() => n++);
        for (let i = 0; i < bytes.length; i += step) r.push(bytes.subarray(i, i + step));
        r.end();
        return [n, r.entriesReadWhole];
      };
      const [n, whole] = count(ours);
      assert.equal(n, 600);
      // An entry a chunk cuts is read once more text has come; a cut is not taken for another spelling.
      assert.ok(whole >= 600 - Math.ceil(ours.length / step) - 1, `step ${step}: ${whole} of 600 read whole`);
      const [t, tw] = count(terse);
      assert.ok(t === 600 && tw >= 600 - Math.ceil(terse.length / step) - 1, `step ${step}: ${tw} of 600 terse entries read whole`);
      assert.deepEqual(count(theirs), [600, 0]);
    }
  });

  it('leaves to the walk what a limit would stop: a long link tag, a long entry, a shallow depth, short tags', () => {
    const long = resultEntryXml({ id: 'i', status: 201, location: `http://h/${'x'.repeat(400)}`, updated: 'u' }).trimEnd();
    assert.deepEqual(both(long), [undefined, undefined]);
    for (const lim of [{ maxDepth: 3, plainTag: 341, maxText: 1 << 20 }, { maxDepth: 256, plainTag: 341, maxText: 100 }, { maxDepth: 256, plainTag: 12, maxText: 1 << 20 }]) {
      const [whole, walked] = both(rendered(1), lim);
      assert.deepEqual(whole, walked, JSON.stringify(lim));
    }
  });
});
