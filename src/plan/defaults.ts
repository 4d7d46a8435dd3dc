/**
 * The target chunk bounds when none are given (docs/engine-rules.md §2), in a module of their own (no imports) so that
 * the CLI's option declarations (src/cli/commands.ts) and the library's runSync() show and use them without loading
 * the planner.
 */
export const DEFAULT_CHUNK = { entries: 1000, bytes: 8 * 1024 * 1024 } as const;
