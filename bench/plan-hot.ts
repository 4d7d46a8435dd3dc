// The hot path in-process, with tinybench: the same in-memory synthetic feed (half of it skipped by the digest)
// through bare saxes (xmlns on), through FeedReader alone, and through FeedReader + Planner + TextSink into a
// discarding stream (what `plan > /dev/null` does, minus file I/O and start-up). Same 64 KiB byte chunks and one
// streaming TextDecoder in every task.
//
// Usage: node bench/plan-hot.ts [--mb 8] [--time 3000] [--json]
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { SaxesParser } from 'saxes';
import { Bench } from 'tinybench';
import { feedOptionsForSize, pageTexts } from '../src/gen/synthetic-feed.ts';
import { targetDigestFor } from '../src/gen/target-digest.ts';
import { Planner } from '../src/plan/planner.ts';
import { StreamChunkTarget } from '../src/plan/targets.ts';
import { FeedReader } from '../src/xml/feed-reader.ts';
import type { FeedHandler } from '../src/xml/feed-types.ts';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '8' },
    time: { type: 'string', default: '3000' },
    json: { type: 'boolean', default: false },
  },
});

const CHUNK = 64 * 1024;

function feed(mb: number): { chunks: Buffer[]; bytes: number; planner: () => Planner } {
  const o = feedOptionsForSize(mb, 1000);
  const all = Buffer.from([...pageTexts(o, 0)].join(''), 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0; i < all.length; i += CHUNK) chunks.push(all.subarray(i, i + CHUNK));
  const target = targetDigestFor(o, 0.5).digest;
  const sink = new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });
  return {
    chunks,
    bytes: all.length,
    planner: () => new Planner({ target, out: new StreamChunkTarget(sink), singleFeed: true, chunkEntries: Infinity, chunkBytes: Infinity }),
  };
}

const f = feed(Number(values.mb));
const NOOP: FeedHandler = { head() {}, entry() {}, end() {} };

const bench = new Bench({ time: Number(values.time), iterations: 5, warmupTime: 500, warmupIterations: 2 });
bench
  .add('saxes bare (xmlns)', () => {
    const p = new SaxesParser({ xmlns: true });
    let n = 0;
    p.on('opentag', () => {
      n++;
    });
    const d = new TextDecoder('utf-8', { fatal: true });
    for (const c of f.chunks) p.write(d.decode(c, { stream: true }));
    p.close();
    if (n === 0) throw new Error('nothing parsed');
  })
  .add('FeedReader (no-op handler)', () => {
    const r = new FeedReader(NOOP);
    for (const c of f.chunks) r.push(c);
    r.end();
  })
  .add('FeedReader + Planner + TextSink', async () => {
    const planner = f.planner();
    planner.beginPage('mem');
    const r = new FeedReader(planner);
    for (const c of f.chunks) r.push(c);
    r.end();
    const s = await planner.finish();
    if (s.skipped === 0 || s.forwarded === 0) throw new Error('the feed must be half skipped');
  });

await bench.run();

const mbps: Record<string, number> = {};
const rows: string[] = [];
for (const t of bench.tasks) {
  const r = t.result;
  if (r.state !== 'completed') {
    process.stderr.write(`${t.name}: ${r.state}${r.state === 'errored' ? ` ${r.error.message}` : ''}\n`);
    process.exit(1);
  }
  const m = f.bytes / 1e6 / (r.latency.mean / 1000);
  mbps[t.name] = m;
  rows.push(`${t.name.padEnd(34)} ${m.toFixed(1).padStart(7)} MB/s  ±${r.latency.rme.toFixed(1)}%  (${r.latency.samplesCount} samples of ${(f.bytes / 1e6).toFixed(1)} MB)`);
}
const saxes = mbps['saxes bare (xmlns)']!;
const reader = mbps['FeedReader (no-op handler)']!;
const plan = mbps['FeedReader + Planner + TextSink']!;
if (!values.json) process.stdout.write(`${rows.join('\n')}\nratio plan/saxes ${(plan / saxes).toFixed(2)}, reader/saxes ${(reader / saxes).toFixed(2)}\n`);
else process.stderr.write(`[bench hot] ${rows.join('\n[bench hot] ')}\n`);
process.stdout.write(`${JSON.stringify({ bench: 'plan-hot', mb: +(f.bytes / 1e6).toFixed(1), saxesMBps: +saxes.toFixed(1), readerMBps: +reader.toFixed(1), planMBps: +plan.toFixed(1) })}\n`);
