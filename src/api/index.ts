/**
 * `sdata-sync`: the reader, the planner and the engine (the subpaths ./reader, ./plan and ./engine in one), and the
 * errors they throw. The provider is `sdata-sync/provider` only: it loads node:sqlite. See docs/library.md.
 */
export * from './reader.ts';
export * from './plan.ts';
export * from './engine.ts';
export { ERROR_CODES, EXIT } from '../protocol/errors.ts';
