import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NS, OUTPUT_ROOT_DECLS } from '../../src/protocol/namespaces.ts';
import { resultEntryXml, stateXml } from '../../src/provider/sync/result-entry.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import { forwardText, pageDecls } from '../../src/xml/feed-writer.ts';
import type { EntryRecord } from '../../src/xml/feed-types.ts';
import type { ResultTail } from '../../src/xml/result-types.ts';
import { ResultScanner } from '../../src/xml/result-scanner.ts';

// `push` writes the target's result entries to stdout. Where the result scanner says every entry of a page can be
// copied (ResultTail.copies), push copies the text at the spans it gives from the spooled page instead of parsing the
// page again with saxes. The oracle: what the saxes feed reader and forwardText make of the same page.

function providerEntry(i: number, title = `accounts ${i}`): string {
  const url = `http://localhost:8081/sdata/hub/crm/-/accounts('${i}')`;
  return resultEntryXml({
    id: url, title, status: 201, method: 'POST', location: url, etag: 'a1b2c3', updated: '2026-12-05T14:31:16.743Z',
    stateXml: stateXml('http://localhost:8080/sdata/app/crm/-/accounts', `${5000 + i}`, '2026-12-05T14:31:16.743Z'),
  });
}

function page(entries: string[], root = `<feed${OUTPUT_ROOT_DECLS}>`, prolog = '<?xml version="1.0" encoding="utf-8"?>\n'): string {
  return `${prolog}${root}<id>http://h/$syncTarget('x')</id><title>results</title>\n${entries.join('')}<link rel="next" href="http://h/n"/>\n</feed>\n`;
}

function scan(bytes: Buffer, step: number): ResultTail {
  const s = new ResultScanner(() => undefined, { copies: true });
  for (let i = 0; i < bytes.length; i += step) s.push(bytes.subarray(i, i + step));
  return s.end();
}

/** What push wrote before: every entry as the saxes reader reads it, with the re-declarations forwardText inserts. */
function saxesForwarded(bytes: Buffer): string[] {
  const out: string[] = [];
  let decls = pageDecls({});
  const pending: EntryRecord[] = [];
  const r = new FeedReader({ head: (h) => void (decls = pageDecls(h.bindings)), entry: (rec) => pending.push(rec), end: () => undefined },
    { source: 'page', requireSyncHead: false, maxEntryBytes: 1 << 30 });
  r.push(bytes);
  r.end();
  for (const rec of pending) out.push(forwardText(rec, decls));
  return out;
}

/** The text at the spans, from the document decoded as push decodes its spool file. */
function copied(bytes: Buffer, spans: readonly number[]): string[] {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  const out: string[] = [];
  for (let k = 0; k < spans.length; k += 2) out.push(text.slice(spans[k], spans[k + 1]));
  return out;
}

describe('result pages whose entries push copies from the spooled page', () => {
  const entries = Array.from({ length: 40 }, (_, i) => providerEntry(i, i % 7 === 3 ? `é ${i} 😀 café` : `accounts ${i}`));
  const docs: Record<string, string> = {
    'our provider': page(entries),
    'with a byte order mark': `\ufeff${page(entries)}`,
    'non-ASCII before the root': page(entries, `<feed${OUTPUT_ROOT_DECLS}>`, '<?xml version="1.0" encoding="utf-8"?>\n<!-- ünïcödé -->\n'),
  };
  for (const [name, doc] of Object.entries(docs)) {
    it(`${name}: the spans hold exactly what saxes reads, however the page is cut into chunks of an entry or more`, () => {
      const bytes = Buffer.from(doc);
      const want = saxesForwarded(bytes);
      assert.equal(want.length, entries.length);
      // An entry is ~600 bytes: chunks of twice that or more cut entries, each of which waits once for the rest.
      for (const step of [1300, 2000, 4096, 65536, bytes.length]) {
        const tail = scan(bytes, step);
        assert.ok(tail.copies, `step ${step}: copies offered`);
        assert.equal(pageDecls(tail.copies.bindings).length, 0, 'the root declares what our result feed declares');
        assert.deepEqual(copied(bytes, tail.copies.spans), want, `step ${step}`);
      }
      // An entry that comes a few bytes at a time waits once, then is read element by element: no copies, the page is
      // parsed again (and is never read from an entry's start again for every few bytes).
      for (const step of [1, 7, 64]) assert.equal(scan(bytes, step).copies, undefined, `step ${step}`);
    });
  }

  it('offers no copies when an entry needs more than copying, or is not one our provider writes', () => {
    const odd: Record<string, string> = {
      'a control character in a title (not XML; the pattern takes it)': providerEntry(1, 'a\u0001b'),
      '`]]>` in text': providerEntry(1, 'a ]]> b'),
      'a reference': providerEntry(1, 'A &amp; B'),
      'a comment': providerEntry(1).replace('<title>', '<title><!-- c -->'),
      'a diagnosis': providerEntry(1).replace('</entry>', '<sdata:diagnosis><sdata:severity>info</sdata:severity><sdata:message>m</sdata:message></sdata:diagnosis></entry>'),
      'white space between elements': providerEntry(1).replace('<title>', '\n  <title>'),
    };
    for (const [what, entry] of Object.entries(odd)) {
      const bytes = Buffer.from(page([providerEntry(0), entry, providerEntry(2)]));
      for (const step of [5, bytes.length]) assert.equal(scan(bytes, step).copies, undefined, `${what}, step ${step}`);
    }
    // Copies are only reported when asked for.
    const plain = Buffer.from(page([providerEntry(0)]));
    const s = new ResultScanner(() => undefined);
    s.push(plain);
    assert.equal(s.end().copies, undefined);
  });

  it('reports the root\'s own bindings, so that push sees a page whose entries would need re-declarations', () => {
    // Our provider's entries, under a root that binds one prefix otherwise than our result feed's root does.
    const root = `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}" xmlns:http="${NS.http}" xmlns:opensearch="urn:elsewhere">`;
    const bytes = Buffer.from(page([providerEntry(0), providerEntry(1)], root));
    const tail = scan(bytes, 4096);
    assert.ok(tail.copies);
    assert.equal(tail.copies.bindings['opensearch'], 'urn:elsewhere');
    assert.equal(tail.copies.bindings['xml'], undefined);
    // Push parses such a page again: each entry then carries the declaration (as saxes and forwardText write it).
    assert.deepEqual(pageDecls(tail.copies.bindings), [['opensearch', ' xmlns:opensearch="urn:elsewhere"']]);
    assert.match(saxesForwarded(bytes)[0]!, /^<entry xmlns:opensearch="urn:elsewhere">/);
  });
});
