import type { Diagnosis } from '../protocol/diagnosis.ts';
import type { ResultEntry } from '../xml/result-types.ts';

export type Outcome = 'created' | 'updated' | 'deleted' | 'ignored' | 'conflictsTargetWon' | 'failed';

export interface OutcomeCounts {
  created: number;
  updated: number;
  deleted: number;
  ignored: number;
  /** Conflicts the target resolved in its own favour (docs/protocol.md §3.7): processed, target version kept. */
  conflictsTargetWon: number;
  failed: number;
}

export interface FailedEntry {
  chunk: number;
  /** Position in the chunk, 0-based. */
  index: number;
  atomId: string | undefined;
  uuid: string | undefined;
  status: number | undefined;
  message: string | undefined;
  diagnoses: Diagnosis[];
}

export const zeroCounts = (): OutcomeCounts => ({ created: 0, updated: 0, deleted: 0, ignored: 0, conflictsTargetWon: 0, failed: 0 });

export function addCounts(into: OutcomeCounts, from: OutcomeCounts): void {
  into.created += from.created;
  into.updated += from.updated;
  into.deleted += from.deleted;
  into.ignored += from.ignored;
  into.conflictsTargetWon += from.conflictsTargetWon;
  into.failed += from.failed;
}

const TARGET_WON = /target.?win|target.?won|conflict.*target/i;

/**
 * What the target did with one entry (docs/protocol.md §2.6, §3.5, §3.7): every 2xx is success (docs/protocol.md A33) and `http:httpMethod`
 * names the operation actually applied, so a success without one changed nothing: ignored (R1/R3), unless its
 * diagnosis says the target won a conflict (the code SyncConflictTargetWins), which the spec gives no
 * status of its own. A 410 to a delete is success: nothing left to delete.
 */
export function classify(e: ResultEntry): Outcome {
  const s = e.status;
  if (s === undefined) return 'failed';
  if (s === 410) return 'ignored';
  if (s < 200 || s >= 300) return 'failed';
  for (const d of e.diagnoses) {
    const code = d.applicationCode ?? '';
    if (TARGET_WON.test(code)) return 'conflictsTargetWon';
  }
  switch (e.method) {
    case 'POST': return 'created';
    case 'PUT': return 'updated';
    case 'DELETE': return 'deleted';
    case undefined: return s === 201 ? 'created' : 'ignored';
    default: return 'ignored';
  }
}

/** Outcome counters plus the first failures in full (bounded: a million failures must not fill memory). */
export class Outcomes {
  readonly counts: OutcomeCounts = zeroCounts();
  readonly failures: FailedEntry[] = [];
  failuresNotKept = 0;
  /** Result entries whose position had no input entry, or input entries with no result (5.3: same count). */
  countMismatches = 0;
  private readonly keep: number;

  constructor(keepFailures = 100) {
    this.keep = keepFailures;
  }

  add(e: ResultEntry, chunk: number): Outcome {
    const o = classify(e);
    this.counts[o]++;
    if (o === 'failed') {
      if (this.failures.length < this.keep) {
        this.failures.push({ chunk, index: e.index, atomId: e.atomId, uuid: e.uuid, status: e.status, message: e.message, diagnoses: e.diagnoses });
      } else this.failuresNotKept++;
    }
    return o;
  }

  merge(o: Outcomes): void {
    addCounts(this.counts, o.counts);
    for (const f of o.failures) {
      if (this.failures.length < this.keep) this.failures.push(f);
      else this.failuresNotKept++;
    }
    this.failuresNotKept += o.failuresNotKept;
    this.countMismatches += o.countMismatches;
  }

  get processed(): number {
    const c = this.counts;
    return c.created + c.updated + c.deleted + c.ignored + c.conflictsTargetWon + c.failed;
  }
}
