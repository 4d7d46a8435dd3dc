import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { SdataError } from '../../protocol/errors.ts';
import { HttpProblem } from './http-io.ts';
import { DEFAULT_SCRYPT, hashPassword, parsePasswordHash, verifyPassword, type PasswordHash } from './password-hash.ts';

/**
 * Who may use the provider (issue 13). When any credential is configured, every URL needs one:
 *
 * - Bearer tokens (`SDATA_SERVE_TOKEN`, comma-separated): compared as SHA-256 digests with `timingSafeEqual`
 *   against every configured token (equal lengths, no early exit).
 * - Basic users (`SDATA_SERVE_USERS_FILE`, `user:scrypt$…` lines, password-hash.ts): an unknown user costs the same
 *   scrypt as a known one, so timing does not tell which exists.
 *
 * Anything else gets `401` with a `WWW-Authenticate` challenge per scheme configured and the same message, whatever
 * was wrong. scrypt is slow on purpose (54–290 ms measured, 16 MiB), and an engine's pass sends thousands of requests with
 * one header: a verified header is remembered (keyed by its SHA-256, never the header) for `cacheSeconds`, at most
 * CACHE_MAX of them, and concurrent requests with the same unverified header wait for one verification. Verifications
 * run one at a time, so a flood of wrong passwords costs one thread's time and 16 MiB, not the thread pool.
 *
 * A request is then done on behalf of a principal: a stable id that is never the secret (`user:NAME`, or
 * `token:` + 16 hex digits of an scrypt of the token), stored with the async contexts it creates (async-context.ts).
 * Credentials are never logged: nothing here writes anything.
 */

export interface AuthConfig {
  /** Bearer tokens. */
  tokens?: readonly string[];
  /** Basic users: name → password hash text (password-hash.ts). */
  users?: ReadonlyMap<string, string>;
  /** How long a verified Basic credential is trusted without scrypt (default 60). */
  cacheSeconds?: number;
  /** The realm of the challenges (default "sdata-sync"). */
  realm?: string;
}

/** The principal of requests when no credential is configured. */
export const ANONYMOUS = '';

/** Tokens shorter than this are refused at start-up: a guessable token is no authentication. */
export const MIN_TOKEN_LENGTH = 16;
const CACHE_MAX = 1024;
const DEFAULT_CACHE_SECONDS = 60;
/** Fixed salt of token principal ids: they must be stable across restarts (contexts survive them). */
const PRINCIPAL_SALT = 'sdata-sync token principal';

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export class Authenticator {
  readonly required: boolean;
  /** The `WWW-Authenticate` value of a 401. */
  readonly challenge: string;
  /** scrypt verifications run and answers taken from the cache (tests, operators). */
  readonly stats = { verifications: 0, cacheHits: 0 };
  readonly #tokens: Array<{ digest: Buffer; principal: string }>;
  readonly #users: Map<string, PasswordHash>;
  readonly #dummy: PasswordHash | undefined;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { principal: string; expires: number }>();
  readonly #pending = new Map<string, Promise<string | undefined>>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(cfg: AuthConfig = {}, now: () => number = Date.now) {
    const tokens = cfg.tokens ?? [];
    for (const t of tokens) checkToken(t, 'a configured token');
    this.#tokens = tokens.map((t) => ({
      digest: sha256(t),
      principal: `token:${scryptSync(t, PRINCIPAL_SALT, 8, DEFAULT_SCRYPT).toString('hex')}`,
    }));
    this.#users = new Map();
    for (const [name, h] of cfg.users ?? []) {
      try {
        this.#users.set(name, parsePasswordHash(h));
      } catch (e) {
        throw new SdataError('SDATA_E_USAGE', `user '${name}': ${(e as Error).message}`);
      }
    }
    const first = this.#users.values().next().value;
    this.#dummy = first ? parsePasswordHash(hashPassword(randomBytes(16).toString('hex'), { N: first.N, r: first.r, p: first.p })) : undefined;
    this.required = this.#tokens.length > 0 || this.#users.size > 0;
    const realm = `realm="${(cfg.realm ?? 'sdata-sync').replace(/["\\]/g, '')}"`;
    this.challenge = [
      ...(this.#tokens.length > 0 ? [`Bearer ${realm}`] : []),
      ...(this.#users.size > 0 ? [`Basic ${realm}, charset="UTF-8"`] : []),
    ].join(', ');
    this.#ttlMs = (cfg.cacheSeconds ?? DEFAULT_CACHE_SECONDS) * 1000;
    this.#now = now;
  }

  /** The principal of a request, or a 401 problem. */
  async principal(authorization: string | undefined): Promise<string> {
    if (!this.required) return ANONYMOUS;
    const p = authorization === undefined ? undefined : await this.authenticate(authorization);
    if (p === undefined) throw this.unauthorized();
    return p;
  }

  unauthorized(): HttpProblem {
    return new HttpProblem(401, 'authentication required: this provider needs valid credentials on every request', 'ApplicationDiagnosis', { 'www-authenticate': this.challenge });
  }

  /** The principal an Authorization header value stands for, if it is valid. */
  authenticate(header: string): Promise<string | undefined> | string | undefined {
    const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(header);
    if (!m) return undefined;
    const scheme = m[1]!.toLowerCase();
    if (scheme === 'bearer') return this.#bearer(m[2]!);
    if (scheme === 'basic' && this.#users.size > 0) return this.#basic(header);
    return undefined;
  }

  #bearer(token: string): string | undefined {
    const d = sha256(token);
    let found: string | undefined;
    for (const t of this.#tokens) if (timingSafeEqual(d, t.digest)) found = t.principal;
    return found;
  }

  #basic(header: string): Promise<string | undefined> | string | undefined {
    const key = sha256(header.trim()).toString('base64');
    const now = this.#now();
    const hit = this.#cache.get(key);
    if (hit && hit.expires > now) {
      this.stats.cacheHits++;
      // Re-inserted: the Map's order is least recently used first.
      this.#cache.delete(key);
      this.#cache.set(key, hit);
      return hit.principal;
    }
    if (hit) this.#cache.delete(key);
    const pending = this.#pending.get(key);
    if (pending) return pending;
    const work = this.#verifyBasic(header).then((principal) => {
      if (principal !== undefined) {
        this.#cache.set(key, { principal, expires: this.#now() + this.#ttlMs });
        if (this.#cache.size > CACHE_MAX) this.#cache.delete(this.#cache.keys().next().value!);
      }
      return principal;
    }).finally(() => this.#pending.delete(key));
    this.#pending.set(key, work);
    return work;
  }

  async #verifyBasic(header: string): Promise<string | undefined> {
    const b64 = header.trim().split(/\s+/)[1] ?? '';
    const text = Buffer.from(b64, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    const name = colon < 0 ? '' : text.slice(0, colon);
    const password = colon < 0 ? '' : text.slice(colon + 1);
    const h = this.#users.get(name);
    // An unknown user is verified against a throw-away hash: the answer takes as long as for a known one.
    const ok = await this.#scrypt(password, h ?? this.#dummy!);
    return ok && h !== undefined && colon > 0 ? `user:${name}` : undefined;
  }

  /** One verification at a time (see the top of this file). */
  #scrypt(password: string, h: PasswordHash): Promise<boolean> {
    const run = this.#queue.then(() => {
      this.stats.verifications++;
      return verifyPassword(password, h);
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

/** A token as the server or the operator gave it: long enough, and something a header can carry. */
export function checkToken(t: string, what: string): void {
  if (t.length < MIN_TOKEN_LENGTH) throw new SdataError('SDATA_E_USAGE', `${what} is shorter than ${MIN_TOKEN_LENGTH} characters (make one with: openssl rand -base64 32)`);
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(t)) throw new SdataError('SDATA_E_USAGE', `${what} has characters a Bearer token cannot carry (RFC 6750: letters, digits, - . _ ~ + / and trailing =)`);
}

/** `SDATA_SERVE_TOKEN`: one token or several, comma-separated. */
export function parseTokens(value: string | undefined): string[] {
  const out = (value ?? '').split(',').map((t) => t.trim()).filter((t) => t !== '');
  out.forEach((t, i) => checkToken(t, `SDATA_SERVE_TOKEN: token ${i + 1}`));
  return out;
}

/**
 * A users file: one `user:hash` a line; `#` comments and blank lines are allowed. Errors name `source:line`, never
 * the line's content.
 */
export function parseUsersFile(text: string, source: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = `${source}:${i + 1}`;
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon).trim();
    if (name === '' || /[\s\p{Cc}]/u.test(name)) throw new SdataError('SDATA_E_USAGE', `${at}: expected user:hash (a user name without spaces, then the hash from 'sdata-sync hash-password')`);
    if (users.has(name)) throw new SdataError('SDATA_E_USAGE', `${at}: user '${name}' appears twice`);
    const hash = line.slice(colon + 1).trim();
    try {
      parsePasswordHash(hash);
    } catch (e) {
      throw new SdataError('SDATA_E_USAGE', `${at}: user '${name}': ${(e as Error).message}`);
    }
    users.set(name, hash);
  });
  return users;
}

const LOOPBACK6 = new BlockList();
LOOPBACK6.addAddress('::1', 'ipv6');
LOOPBACK6.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** 127.0.0.0/8, ::1 (and IPv4-mapped 127/8), `localhost`. Any other name may resolve to anything: not loopback. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIPv4(h)) return h.split('.')[0] === '127';
  if (isIPv6(h)) return LOOPBACK6.check(h, 'ipv6');
  return false;
}
