import { Readable } from 'node:stream';
import { emptyDigest, setDigestEntry, type Digest } from '../../src/protocol/digest.ts';
import { planPage } from '../../src/plan/pipeline.ts';
import { Planner, type ChunkFrame, type ChunkTarget, type ChunkWriter, type InvalidEntry, type PlanStats } from '../../src/plan/planner.ts';
import type { XmlLimits } from '../../src/xml/limits.ts';

/** A chunk without our head's `<updated>` (the wall clock), for comparing two runs' output. */
export const withoutClock = (chunk: string): string => chunk.replace(/<updated>[^<]*<\/updated>/, '');

/** Collects chunks in memory (tests only: real targets stream). */
export class MemoryChunkTarget implements ChunkTarget {
  readonly chunks: string[] = [];
  readonly finals: boolean[] = [];
  open(n: number): ChunkWriter {
    this.chunks[n - 1] = '';
    return {
      write: (s: string) => {
        this.chunks[n - 1] += s;
        return true;
      },
      needsDrain: false,
      drained: async () => {},
    };
  }
  async close(n: number, final: boolean, frame: ChunkFrame | undefined): Promise<void> {
    this.finals[n - 1] = final;
    const head = frame!.head.map((p) => (typeof p === 'string' ? p : Buffer.from(p).toString('utf8'))).join('');
    this.chunks[n - 1] = head + this.chunks[n - 1]! + frame!.tail;
  }
}

/** What the comparison tests give planning (one-pass, segmented, the engine's page stream). */
export interface PlanOpts {
  target?: Digest;
  chunkEntries?: number;
  chunkBytes?: number;
  strict?: boolean;
  maxEntryBytes?: number;
  limits?: Partial<XmlLimits>;
}

/** What they compare: chunks (without the clock), which were final, counts, invalid entries, the first error. */
export interface PlanOutcome {
  chunks: string[];
  finals: boolean[];
  stats: unknown;
  invalid: InvalidEntry[];
  error: string | undefined;
}

/** The endpoint of the comparison tests' hand-written entries, and a target that knows it at tick 20. */
export const TEST_EP = 'http://a.example/sdata/app/c/-/accounts';
export const TARGET_AT_20: Digest = (() => {
  const d = emptyDigest('http://b.example/sdata/app/c/-/accounts');
  setDigestEntry(d, { endpoint: TEST_EP, tick: '20', stamp: '2020-01-01T00:00:00Z', conflictPriority: 5 });
  return d;
})();

export interface PlanResult {
  chunks: string[];
  finals: boolean[];
  stats: PlanStats;
  invalid: InvalidEntry[];
}

export async function planPages(
  pages: Array<string | Uint8Array | Readable>,
  opts: PlanOpts & { singleFeed?: boolean } = {},
): Promise<PlanResult> {
  const out = new MemoryChunkTarget();
  const invalid: InvalidEntry[] = [];
  const planner = new Planner({ ...opts, out, onInvalid: (e) => invalid.push(e) });
  let i = 0;
  for (const p of pages) {
    const stream = p instanceof Readable ? p : Readable.from([typeof p === 'string' ? Buffer.from(p) : p]);
    await planPage(stream, planner, { source: `page${++i}`, maxEntryBytes: opts.maxEntryBytes, limits: opts.limits });
  }
  const stats = await planner.finish();
  return { chunks: out.chunks, finals: out.finals, stats, invalid };
}
