import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { Decider } from '../../src/plan/decide.ts';
import { SegmentReaders, type SegmentJob } from '../../src/plan/segment.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import type { FeedHandler, ResumePoint } from '../../src/xml/feed-types.ts';
import { pageDecls } from '../../src/xml/feed-writer.ts';
import { resolveLimits } from '../../src/xml/limits.ts';
import { PieceScanner } from '../../src/xml/piece-scanner.ts';
import { generatedFeed, page } from '../helpers/feeds.ts';

// What the scanner keeps between pieces (PieceScanner.release): it lives as long as its thread, so whatever it holds of
// a piece after the piece is used outlives young collections, and V8 promotes the piece with it.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A generated feed cut after its first entry: where the first piece resumes, and the bytes of the entries after it. */
function feedAfterFirstEntry(count: number): { resume: ResumePoint; rest: string } {
  const { text } = generatedFeed(count, 7);
  const firstEnd = text.indexOf('</entry>') + '</entry>'.length;
  const ignore: FeedHandler = { head() {}, entry() {}, end() {} };
  const r = new FeedReader(ignore);
  r.pushText(text.slice(0, firstEnd));
  const resume = r.resumePoint;
  assert.ok(resume, 'a resume point after the first entry');
  const lastEnd = text.lastIndexOf('</entry>') + '</entry>'.length;
  return { resume, rest: text.slice(firstEnd, lastEnd) };
}

/** Whether `make()`'s buffer is gone after `use` had it and a full collection ran. */
async function collectedAfter(make: () => Buffer, use: (b: Buffer) => void): Promise<boolean> {
  let b: Buffer | undefined = make();
  const ref = new WeakRef(b);
  use(b);
  b = undefined;
  // A WeakRef's target is kept until the job that made it ends.
  await turn();
  gc();
  return ref.deref() === undefined;
}

describe('PieceScanner.release', () => {
  const { resume, rest } = feedAfterFirstEntry(40);
  const limits = resolveLimits({});

  it('lets go of the piece: nothing of it is left in out, and its bytes can be collected', async () => {
    const scanner = new PieceScanner(limits, 1 << 24);
    const kept = await collectedAfter(() => Buffer.from(rest), (b) => assert.equal(scanner.scan(b, resume), undefined));
    assert.equal(kept, false, 'without release the scanner still holds the piece (the check can fail)');
    assert.ok(scanner.out.count > 30);
    const released = await collectedAfter(() => Buffer.from(rest), (b) => {
      assert.equal(scanner.scan(b, resume), undefined);
      scanner.release();
    });
    assert.equal(released, true);
    assert.deepEqual([scanner.out.count, scanner.out.endpoint.length, scanner.out.tick.length, scanner.out.own.length, scanner.out.firstName], [0, 0, 0, 0, undefined]);
  });

  it('reads the next piece exactly as a fresh scanner does', () => {
    const used = new PieceScanner(limits, 1 << 24);
    assert.equal(used.scan(Buffer.from(rest), resume), undefined);
    used.release();
    const fresh = new PieceScanner(limits, 1 << 24);
    const piece = Buffer.from(rest);
    assert.equal(used.scan(piece, resume), undefined);
    assert.equal(fresh.scan(piece, resume), undefined);
    assert.deepEqual(used.out, fresh.out);
    assert.ok(used.out.endpoint.length > 30);
  });

  it('is called by segmented planning once a scanned piece is decided', async () => {
    const readers = new SegmentReaders(new Decider(undefined));
    const job = (bytes: Buffer): SegmentJob => ({
      source: 'piece', bytes, byteOffset: 0, resume: { ...resume, decls: pageDecls(resume.bindings) }, final: false,
      maxEntryBytes: 1 << 24, endpoints: false, limits,
    });
    let scanned = false;
    const gone = await collectedAfter(() => Buffer.from(rest), (b) => {
      const batch = readers.scanned(job(b));
      scanned = batch?.scanned === true;
    });
    assert.equal(scanned, true, 'the piece was read by the scanner');
    assert.equal(gone, true);
  });
});

describe('PieceScanner.out.endpointAt', () => {
  it("is where an endpoint's bytes are exactly its characters, and -1 where they are not", () => {
    // As written in the feed → as read; `plain`: its bytes in the piece are its characters.
    const cases: Array<[written: string, read: string, plain: boolean]> = [
      ['http://a.example/sdata/app/c/-/accounts', 'http://a.example/sdata/app/c/-/accounts', true],
      ['  http://b.example/x \n\t', 'http://b.example/x', true],
      // Line ends are normalised in the text (CR LF → LF): not what the bytes say, even where trimming drops them.
      ['\r\n http://c.example/x', 'http://c.example/x', false],
      ['http://d.example/x?a=1&amp;b=2', 'http://d.example/x?a=1&b=2', false],
      ['http://d.example/&#120;', 'http://d.example/x', false],
      ['http://hôte.example/x', 'http://hôte.example/x', false],
      ['<![CDATA[http://e.example/x]]>', 'http://e.example/x', false],
      ['http://f.example/<!-- c -->x', 'http://f.example/x', false],
    ];
    const entries = [{ endpoint: 'http://first.example/x', tick: 1 }, ...cases.map(([written], i) => ({ endpoint: written, tick: i + 2 }))];
    const text = page({ entries });
    const firstEnd = text.indexOf('</entry>') + '</entry>'.length;
    const r = new FeedReader({ head() {}, entry() {}, end() {} });
    r.pushText(text.slice(0, firstEnd));
    const bytes = Buffer.from(text.slice(firstEnd, text.lastIndexOf('</entry>') + '</entry>'.length));
    const scanner = new PieceScanner(resolveLimits({}), 1 << 24);
    const why = scanner.scan(bytes, r.resumePoint!);
    if (why !== undefined) assert.fail(`scanner refused: ${why}`);
    const o = scanner.out;
    assert.equal(o.count, cases.length);
    for (const [k, [written, read, plain]] of cases.entries()) {
      assert.equal(o.endpoint[k], read, written);
      const at = o.endpointAt[k]!;
      assert.equal(at >= 0, plain, `${written}: at ${at}`);
      if (plain) assert.equal(bytes.toString('latin1', at, at + read.length), read, written);
    }
  });
});
