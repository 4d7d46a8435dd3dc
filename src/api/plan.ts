/**
 * `sdata-sync/plan`: the per-entry decision against a target digest (docs/engine-rules.md §1), the planner that
 * turns source entries into bounded target chunks (§2), where chunks go (files, a stream), and the functions that
 * stream a source document through a reader into a planner, on one thread or two. See docs/library.md.
 */
export { Decider, type Decision } from '../plan/decide.ts';
export { Planner, type ChunkTarget, type ChunkWriter, type InvalidEntry, type PlannerOptions, type PlanStats } from '../plan/planner.ts';
export { chunkFileName, DirChunkTarget, StreamChunkTarget } from '../plan/targets.ts';
export { planPage } from '../plan/pipeline.ts';
export { SegmentedPlan, type SegmentedOptions } from '../plan/parallel.ts';
