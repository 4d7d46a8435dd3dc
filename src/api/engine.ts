/**
 * `sdata-sync/engine`: a whole sync run between two SData providers over HTTP (`sdata-sync run` as a function),
 * with events, an async iterator and a result. See docs/library.md.
 */
export {
  runSync, SyncRun, type PassProgress, type SyncEndpoint, type SyncEvent, type SyncEvents, type SyncOptions, type SyncResult,
} from '../engine/run-sync.ts';
export type { Credentials } from '../http/auth.ts';
export type { Timeouts } from '../http/defaults.ts';
export type { LogLevel } from '../engine/log.ts';
export type { FailedEntry, OutcomeCounts } from '../engine/outcomes.ts';
export type { PassResult } from '../engine/pass.ts';
export type { PassReport } from '../engine/report.ts';
export type { PassStats } from '../engine/stats.ts';
