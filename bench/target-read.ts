// How the target reads a posted page, in-process: the same generated sync feed (src/gen: ~1.2 KB entries, CDATA,
// entities, CJK, emoji) in 64 KiB chunks through the FeedReader (saxes) and through the ScannedFeedReader (the byte
// scanner, docs/decisions/0025-target-piece-scanner.md), each into a handler that only counts; rounds alternate, and
// the figure is CPU time (user + system) per entry, median over the rounds. Reading only: no store, no HTTP.
//
// Usage: node bench/target-read.ts [--entries 5000] [--rounds 8]
import { parseArgs } from 'node:util';
import { pageTexts, resolveFeedOptions } from '../src/gen/synthetic-feed.ts';
import { FeedReader } from '../src/xml/feed-reader.ts';
import type { FeedHandler } from '../src/xml/feed-types.ts';
import { ScannedFeedReader } from '../src/xml/scanned-feed-reader.ts';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '8' } } });
const entries = Number(values.entries);
const rounds = Number(values.rounds);
const bytes = Buffer.from([...pageTexts(resolveFeedOptions({ count: entries, seed: 3 }), 0)].join(''));
const chunks: Buffer[] = [];
for (let i = 0; i < bytes.length; i += 65536) chunks.push(bytes.subarray(i, i + 65536));

let seen = 0;
const handler: FeedHandler = { head() {}, entry() { seen++; }, end() {} };

/** CPU µs per entry of reading the feed 4 times with a new reader each time. */
function round(make: () => { push(b: Uint8Array): void; end(): void }): number {
  seen = 0;
  const t = process.cpuUsage();
  for (let k = 0; k < 4; k++) {
    const r = make();
    for (const c of chunks) r.push(c);
    r.end();
  }
  const u = process.cpuUsage(t);
  if (seen !== 4 * entries) throw new Error(`read ${seen} entries, expected ${4 * entries}`);
  return (u.user + u.system) / (4 * entries);
}

const saxes: number[] = [];
const scanned: number[] = [];
for (let i = 0; i < rounds; i++) {
  // The first round of each warms the code up; alternate which goes first.
  if (i % 2 === 0) {
    saxes.push(round(() => new FeedReader(handler)));
    scanned.push(round(() => new ScannedFeedReader(handler)));
  } else {
    scanned.push(round(() => new ScannedFeedReader(handler)));
    saxes.push(round(() => new FeedReader(handler)));
  }
}
const median = (a: number[]): number => a.slice(1).sort((x, y) => x - y)[(a.length - 1) >> 1]!;
const f = (n: number): string => n.toFixed(2);
console.log(`${entries} entries of ${Math.round(bytes.length / entries)} bytes; CPU µs per entry, median of rounds 2–${rounds}:`);
console.log(`  FeedReader (saxes)   ${f(median(saxes))}   (${saxes.map(f).join(' ')})`);
console.log(`  ScannedFeedReader    ${f(median(scanned))}   (${scanned.map(f).join(' ')})   ratio ${f(median(scanned) / median(saxes))}`);
