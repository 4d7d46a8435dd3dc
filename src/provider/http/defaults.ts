/**
 * What the server does when its options do not say (ProviderOptions in server.ts). A module without imports, so
 * that the CLI's option declarations (src/cli/commands.ts) show these values without loading the server.
 */
export const PROVIDER_DEFAULTS = {
  host: '127.0.0.1',
  pageSize: 1000,
  maxPageSize: 10_000,
  contextTtlMs: 10 * 60_000,
  maxBodyBytes: 64 * 1024 * 1024,
  pollingMillis: 100,
} as const;
