/**
 * What a new store is when its options do not say (StoreOptions in store.ts). A module without imports, so that
 * the CLI's option declarations (src/cli/commands.ts) show these values without loading SQLite.
 */
export const STORE_DEFAULTS = {
  app: 'hub',
  contract: 'crm',
  dataset: '-',
  /** The kind a new store serves when none is named. */
  kind: 'accounts',
  /** conflictPriority of a new kind's own endpoint (docs/protocol.md A39). */
  priority: 5,
  /** SQLite page cache, MiB: part of the server's RSS; the OS page cache does the rest. */
  cacheMiB: 8,
} as const;
