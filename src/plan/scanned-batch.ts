import type { PageDecls } from '../xml/feed-writer.ts';
import { NO_DECLS } from '../xml/entry-record.ts';
import type { ScannedEntries } from '../xml/piece-scanner.ts';
import type { Decider } from './decide.ts';
import { SKIP } from './endpoint-ticks.ts';
import { Kind, type SegmentBatch, type SegmentJob } from './segment.ts';

/**
 * The batch of a piece the fast scanner read (xml/piece-scanner.ts): exactly what SegmentCollector makes of the same
 * piece read by the saxes reader, with each forwarded entry copied from the input bytes instead of being decoded and
 * encoded again: its UTF-8 is the source's, with forwardText's namespace re-declarations inserted after its qname.
 */
export function scannedBatch(job: SegmentJob, e: ScannedEntries, decider: Decider): SegmentBatch {
  const resume = job.resume!;
  const bytes = job.bytes;
  const n = e.count;
  const ins = new Insertions(resume.decls);
  const kinds = new Array<number>(n);
  let size = 0;
  let forwarded = 0;
  const found = decider.decideAll(e.endpoint, e.tick, n, bytes, e.endpointAt);
  for (let k = 0; k < n; k++) {
    if (found[k] === SKIP) {
      kinds[k] = Kind.Skip;
    } else {
      kinds[k] = Kind.Forward;
      size += e.end[k]! - e.start[k]! + ins.for(e.own[k]!).length + 1;
      forwarded++;
    }
  }
  const out = Buffer.allocUnsafeSlow(size);
  const lens = new Array<number>(forwarded);
  const eps: string[] = job.endpoints ? new Array<string>(forwarded) : [];
  let off = 0;
  let f = 0;
  for (let k = 0; k < n; k++) {
    if (kinds[k] !== Kind.Forward) continue;
    const start = e.start[k]!;
    const cut = start + e.nameEnd[k]!;
    const end = e.end[k]!;
    const at = off;
    out.set(bytes.subarray(start, cut), off);
    off += cut - start;
    const add = ins.for(e.own[k]!);
    if (add.length > 0) {
      out.set(add, off);
      off += add.length;
    }
    out.set(bytes.subarray(cut, end), off);
    off += end - cut;
    out[off++] = 10;
    lens[f] = off - at;
    if (job.endpoints) eps[f] = e.endpoint[k]!;
    f++;
  }
  return {
    head: undefined, kinds, out, lens, invalid: [], eps, epsFrom: job.endpoints ? 0 : forwarded, links: [],
    line: e.line, column: e.column, state: 'clean',
    resume: e.firstName === undefined ? undefined : { primer: resume.primer, primerColumns: resume.primerColumns, entryName: e.firstName, bindings: resume.bindings },
    error: undefined,
  };
}

const EMPTY = Buffer.alloc(0);

/** What forwardText inserts after an entry's qname, as UTF-8, by the prefixes the entry declares itself. */
class Insertions {
  private readonly decls: PageDecls;
  private readonly all: Buffer;
  private readonly byOwn = new Map<string, Buffer>();

  constructor(decls: PageDecls) {
    this.decls = decls;
    let s = '';
    for (const [, decl] of decls) s += decl;
    this.all = s === '' ? EMPTY : Buffer.from(s, 'utf8');
  }

  for(own: readonly string[]): Buffer {
    if (own === NO_DECLS || own.length === 0) return this.all;
    const key = own.join(' ');
    let b = this.byOwn.get(key);
    if (b === undefined) {
      let s = '';
      for (const [prefix, decl] of this.decls) if (!own.includes(prefix)) s += decl;
      b = s === '' ? EMPTY : Buffer.from(s, 'utf8');
      this.byOwn.set(key, b);
    }
    return b;
  }
}
