import { Outcomes } from './outcomes.ts';

/** Live figures of one pass: progress reads them, the report copies them. Counters only, no per-entry data. */
export interface PassStats {
  kind: string;
  phase: 'starting' | 'digest' | 'selecting' | 'transferring' | 'finishing' | 'done' | 'failed';
  startedMs: number;
  endedMs: number | undefined;
  /** Entries read from the source, and what the planner decided. */
  read: number;
  forwarded: number;
  skipped: number;
  invalid: number;
  /** Source page bytes received; chunk bytes acknowledged by the target. */
  bytesIn: number;
  bytesOut: number;
  pages: number;
  chunksSent: number;
  /** Entries the target has answered for. */
  entriesAcked: number;
  /** opensearch:totalResults of page 1, if the source gave it (for an ETA). */
  totalResults: number | undefined;
  /** The latest tracking progress (0..100) of the current operation. */
  trackingProgress: number | undefined;
  resumedPages: number;
  splits: number;
  outcomes: Outcomes;
}

export function newPassStats(kind: string): PassStats {
  return {
    kind, phase: 'starting', startedMs: Date.now(), endedMs: undefined, read: 0, forwarded: 0, skipped: 0, invalid: 0,
    bytesIn: 0, bytesOut: 0, pages: 0, chunksSent: 0, entriesAcked: 0, totalResults: undefined, trackingProgress: undefined,
    resumedPages: 0, splits: 0, outcomes: new Outcomes(),
  };
}
