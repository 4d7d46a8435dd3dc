import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { SCRYPT_DEFAULT_N } from './defaults.ts';

/**
 * Password hashes of the provider's users file (`SDATA_SERVE_USERS_FILE`, made by `sdata-sync hash-password`), in a
 * self-describing format:
 *
 *     scrypt$N$r$p$SALT$HASH        e.g. scrypt$16384$8$1$3q2+7w…==$mN0f…=
 *
 * N (CPU/memory cost, a power of two), r (block size), p (parallelism) are decimal; SALT (16 random bytes) and
 * HASH (the 32-byte scrypt output) are standard base64 with padding. A line of the file is `user:hash`.
 *
 * The default cost, N=2^14 r=8 p=1, is Node's own scrypt default: 16 MiB of memory and 54 ms of one CPU at best on
 * the 2-core development VM, up to 290 ms while other work loads it (test/provider/auth.test.ts prints it). The provider
 * verifies one password at a time (auth.ts) and caches successes, so a pass's thousands of requests pay it once.
 */

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export interface PasswordHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: SCRYPT_DEFAULT_N, r: 8, p: 1 };

const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Bounds a users file may ask for: above them one verification would take seconds or gigabytes. */
const MAX_N = 2 ** 20;
const MAX_MEM = 256 * 1024 * 1024;

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** scrypt needs 128·N·r bytes (plus a little); node refuses anything above `maxmem`, 32 MiB by default. */
const maxmem = (x: ScryptParams): number => 128 * x.N * x.r * x.p + 1024 * 1024;

export function formatPasswordHash(h: PasswordHash): string {
  return `scrypt$${h.N}$${h.r}$${h.p}$${h.salt.toString('base64')}$${h.hash.toString('base64')}`;
}

export function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): string {
  const salt = randomBytes(SALT_BYTES);
  const hash = scryptSync(password.normalize('NFC'), salt, KEY_BYTES, { ...params, maxmem: maxmem(params) });
  return formatPasswordHash({ ...params, salt, hash });
}

/** Parses a hash; the error message says what is wrong with it, never its content. */
export function parsePasswordHash(text: string): PasswordHash {
  const parts = text.trim().split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') throw new Error("not an scrypt hash (expected scrypt$N$r$p$salt$hash; make one with 'sdata-sync hash-password')");
  const [N, r, p] = parts.slice(1, 4).map((s) => (/^\d{1,8}$/.test(s) ? Number(s) : NaN)) as [number, number, number];
  if (!(N >= 2 && N <= MAX_N && (N & (N - 1)) === 0)) throw new Error(`scrypt N must be a power of two up to ${MAX_N}`);
  if (!(r >= 1 && p >= 1) || 128 * N * r * p > MAX_MEM) throw new Error(`scrypt r and p must be ≥ 1, and 128·N·r·p at most ${MAX_MEM} bytes`);
  const [salt, hash] = parts.slice(4).map((s) => (B64.test(s) ? Buffer.from(s, 'base64') : undefined));
  if (!salt || salt.length < 8) throw new Error('the salt is not base64 of at least 8 bytes');
  if (!hash || hash.length < 16) throw new Error('the hash is not base64 of at least 16 bytes');
  return { N, r, p, salt, hash };
}

/** Whether `password` matches; scrypt runs on libuv's thread pool, the comparison in constant time. */
export function verifyPassword(password: string, h: PasswordHash): Promise<boolean> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), h.salt, h.hash.length, { N: h.N, r: h.r, p: h.p, maxmem: maxmem(h) }, (err, key) => {
      if (err) reject(err);
      else resolve(timingSafeEqual(key, h.hash));
    });
  });
}
