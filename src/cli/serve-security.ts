import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { parseTokens, parseUsersFile, type AuthConfig } from '../provider/http/auth.ts';
import type { Limits } from '../provider/http/limits.ts';
import type { ProviderOptions } from '../provider/http/server.ts';
import { SdataError } from '../protocol/errors.ts';
import { parseCount, parseSize } from './common.ts';

/**
 * `serve`'s authentication, TLS and limits, from its flags and environment. Everything is read and checked here,
 * before the provider thread starts, so that a bad file or setting stops `serve` with a clear message and its exit
 * code (2 for a setting, 4 for a file that cannot be read); the provider thread gets the parsed result.
 */

export const SECURITY_OPTIONS = {
  insecure: { type: 'boolean' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'max-concurrent': { type: 'string' },
  'max-header-bytes': { type: 'string' },
  'max-url-bytes': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
} as const;

export const SECURITY_HELP = `
Security (see README "Running the provider on a network"):
  Authentication is on when SDATA_SERVE_TOKEN (Bearer tokens, comma-separated, ≥ 16 characters each) or
  SDATA_SERVE_USERS_FILE (a file of 'user:hash' lines from 'sdata-sync hash-password') is set: every URL then
  needs credentials (401 otherwise).
  --insecure             allow a non-loopback --host without authentication (refused otherwise)
  --tls-cert FILE        HTTPS: certificate chain (PEM); needs --tls-key
  --tls-key FILE         HTTPS: private key (PEM)
  --max-concurrent N     requests in progress at once; more get 503 + Retry-After (default 32)
  --max-header-bytes N   request line and headers (default 16KiB; 431 beyond)
  --max-url-bytes N      request URL (default 8KiB; 414 beyond)
  --headers-timeout S    seconds for a request's headers to arrive (default 20)
  --request-timeout S    seconds for a whole request, body included (default 300)
  --idle-timeout S       seconds a connection may stay silent mid-request or mid-response (default 60)
`;

type Values = { [K in keyof typeof SECURITY_OPTIONS]?: (typeof SECURITY_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** The ProviderOptions these flags and variables give. */
export function securityOptions(v: Values, env: NodeJS.ProcessEnv = process.env): Pick<ProviderOptions, 'auth' | 'insecure' | 'tls' | 'limits'> {
  const out: Pick<ProviderOptions, 'auth' | 'insecure' | 'tls' | 'limits'> = { auth: authFromEnv(env), limits: limitsFrom(v) };
  if (v.insecure) out.insecure = true;
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) {
    throw new SdataError('SDATA_E_USAGE', '--tls-cert and --tls-key go together: give both, or neither for plain HTTP');
  }
  if (v['tls-cert'] !== undefined && v['tls-key'] !== undefined) {
    // As text: the options cross to the provider thread, where a Buffer would arrive as a bare Uint8Array.
    const cert = readFile(v['tls-cert'], '--tls-cert').toString('utf8');
    const key = readFile(v['tls-key'], '--tls-key').toString('utf8');
    try {
      createSecureContext({ cert, key });
    } catch (e) {
      throw new SdataError('SDATA_E_USAGE', `--tls-cert ${v['tls-cert']} / --tls-key ${v['tls-key']}: not a usable certificate and private key (PEM): ${(e as Error).message}`);
    }
    out.tls = { cert, key };
  }
  return out;
}

function authFromEnv(env: NodeJS.ProcessEnv): AuthConfig {
  const auth: AuthConfig = { tokens: parseTokens(env['SDATA_SERVE_TOKEN']) };
  const file = env['SDATA_SERVE_USERS_FILE'];
  if (file !== undefined && file !== '') {
    const users = parseUsersFile(readFile(file, 'SDATA_SERVE_USERS_FILE').toString('utf8'), file);
    if (users.size === 0) throw new SdataError('SDATA_E_USAGE', `SDATA_SERVE_USERS_FILE ${file}: no user in it (lines are 'user:hash' from 'sdata-sync hash-password')`);
    auth.users = users;
  }
  return auth;
}

function limitsFrom(v: Values): Partial<Limits> {
  const l: Partial<Limits> = {};
  const seconds = (k: 'headers-timeout' | 'request-timeout' | 'idle-timeout'): number | undefined => (v[k] === undefined ? undefined : parseCount(v[k], `--${k}`) * 1000);
  if (v['max-concurrent'] !== undefined) l.maxConcurrent = parseCount(v['max-concurrent'], '--max-concurrent');
  if (v['max-header-bytes'] !== undefined) l.maxHeaderBytes = parseSize(v['max-header-bytes'], '--max-header-bytes');
  if (v['max-url-bytes'] !== undefined) l.maxUrlBytes = parseSize(v['max-url-bytes'], '--max-url-bytes');
  const h = seconds('headers-timeout');
  if (h !== undefined) l.headersTimeoutMs = h;
  const r = seconds('request-timeout');
  if (r !== undefined) l.requestTimeoutMs = r;
  const i = seconds('idle-timeout');
  if (i !== undefined) l.idleTimeoutMs = i;
  return l;
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SdataError('SDATA_E_IO', `${what} ${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { source: path, cause: e });
  }
}

/** What `serve` says on stderr about its security at start-up: schemes and counts, never a secret. */
export function securitySummary(o: Pick<ProviderOptions, 'auth' | 'insecure' | 'tls'>): string {
  const schemes = [
    ...((o.auth?.tokens?.length ?? 0) > 0 ? [`Bearer (${o.auth!.tokens!.length} token${o.auth!.tokens!.length === 1 ? '' : 's'})`] : []),
    ...((o.auth?.users?.size ?? 0) > 0 ? [`Basic (${o.auth!.users!.size} user${o.auth!.users!.size === 1 ? '' : 's'})`] : []),
  ];
  return `authentication: ${schemes.length > 0 ? schemes.join(', ') : o.insecure ? 'none (--insecure)' : 'none (loopback only)'}; ${o.tls ? 'TLS' : 'plain HTTP'}`;
}
