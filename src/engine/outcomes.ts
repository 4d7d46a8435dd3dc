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
const APPLIED = new Set(['POST', 'PUT', 'DELETE']);

/**
 * What makes a result entry unreadable (docs/protocol.md §2.6, §5.5), or undefined when it says what happened:
 * - `http:httpStatus` is there and is an HTTP status (core 13.4, 13.6: every response entry carries one);
 * - a 2xx names the operation applied in `http:httpMethod` (POST, PUT, DELETE), or, when nothing was applied (R1/R3,
 *   a conflict the target won), leaves it out and gives its reason in a diagnosis (our provider: SyncIgnored,
 *   SyncConflictTargetWins). A 201 without a method is a creation (core 8.5's status for one). A 2xx with neither
 *   method nor diagnosis does not say whether the entry was applied, and another method is no sync operation.
 * Non-2xx results need no method: a failure or a 410 applied nothing.
 */
export function resultProblem(e: ResultEntry): string | undefined {
  const s = e.status;
  if (s === undefined) return 'no http:httpStatus with a status code: a result must say what happened to its entry (core 13.4, 13.6)';
  if (s < 100 || s > 599) return `http:httpStatus ${s} is not an HTTP status code`;
  if (s < 200 || s >= 300) return undefined;
  if (e.method === undefined) {
    return s === 201 || e.diagnoses.length > 0 ? undefined
      : `HTTP ${s} without http:httpMethod or a diagnosis: the target does not say whether it applied the entry (docs/protocol.md §2.6)`;
  }
  return APPLIED.has(e.method) ? undefined : `http:httpMethod ${e.method} is not an operation a sync target applies (POST, PUT, DELETE)`;
}

/**
 * What the target did with one entry (docs/protocol.md §2.6, §3.5, §3.7), for a result `resultProblem` accepts: every
 * 2xx is success (docs/protocol.md A33) and `http:httpMethod` names the operation actually applied. A success
 * without one changed nothing: ignored (R1/R3), unless its diagnosis says the target won a conflict (the code
 * SyncConflictTargetWins), which the spec gives no status of its own; a diagnosis SyncIgnored means ignored even
 * when a target names the operation it would have applied. A 410 to a delete is success: nothing left to delete.
 */
export function classify(e: ResultEntry): Outcome {
  const s = e.status;
  if (s === undefined) return 'failed';
  if (s === 410) return 'ignored';
  if (s < 200 || s >= 300) return 'failed';
  for (const d of e.diagnoses) {
    const code = d.applicationCode ?? '';
    if (TARGET_WON.test(code)) return 'conflictsTargetWon';
    if (code === 'SyncIgnored') return 'ignored';
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
  }

  get processed(): number {
    const c = this.counts;
    return c.created + c.updated + c.deleted + c.ignored + c.conflictsTargetWon + c.failed;
  }
}
