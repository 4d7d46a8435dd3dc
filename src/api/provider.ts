/**
 * `sdata-sync/provider`: the reference SData sync provider on a SQLite store (`sdata-sync serve` as a function),
 * in the calling thread, and the password hashes of its Basic authentication. Needs node:sqlite. See
 * docs/library.md.
 */
export { startProvider, type ProviderOptions, type RunningProvider } from '../provider/http/server.ts';
export type { AuthConfig } from '../provider/http/auth.ts';
export type { Limits } from '../provider/http/limits.ts';
export type { Health, KindHealth } from '../provider/handlers/admin.ts';
export type { Checksum } from '../provider/store/admin.ts';
export { hashPassword } from '../provider/http/password-hash.ts';
