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

/**
 * What one client may cost the server (limits.ts explains each). 32 concurrent requests: on the 2-core machine the
 * provider thread does the work of one at a time (SQLite is synchronous); the rest are waiting for their bodies or
 * their readers. An engine pass keeps 2–8 requests open, so 32 serves several engines at once, and the per-request
 * memory (a ~256 KiB transaction group, a page being written) stays far below the 200 MiB budget.
 */
/** scrypt cost of `hash-password` (password-hash.ts): 16 MiB and 50-300 ms per verification on the 2-core machine. */
export const SCRYPT_DEFAULT_N = 2 ** 14;

export const LIMIT_DEFAULTS = {
  maxConcurrent: 32,
  maxHeaderBytes: 16 * 1024,
  maxUrlBytes: 8 * 1024,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 60_000,
} as const;
