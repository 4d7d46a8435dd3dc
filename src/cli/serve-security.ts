import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { parseTokens, parseUsersFile, type AuthConfig } from '../provider/http/auth.ts';
import type { Limits } from '../provider/http/limits.ts';
import type { ProviderOptions } from '../provider/http/server.ts';
import { fileError, SdataError } from '../protocol/errors.ts';
import type { COMMANDS, Input } from './commands.ts';

/**
 * `serve`'s authentication, TLS and limits, from its flags and environment. Everything is read and checked here,
 * before the provider thread starts, so that a bad file or setting stops `serve` with a clear message and its exit
 * code (2 for a setting, 4 for a file that cannot be read); the provider thread gets the parsed result.
 */

type Values = Pick<Input<typeof COMMANDS.serve>['values'], 'insecure' | 'tlsCert' | 'tlsKey' | 'maxConcurrent' | 'maxHeaderBytes' | 'maxUrlBytes' | 'headersTimeout' | 'requestTimeout' | 'idleTimeout'>;

/** The ProviderOptions these flags and variables give. */
export function securityOptions(v: Values, env: NodeJS.ProcessEnv = process.env): Pick<ProviderOptions, 'auth' | 'insecure' | 'tls' | 'httpLimits'> {
  const out: Pick<ProviderOptions, 'auth' | 'insecure' | 'tls' | 'httpLimits'> = { auth: authFromEnv(env), httpLimits: httpLimitsFrom(v) };
  if (v.insecure) out.insecure = true;
  if ((v.tlsCert === undefined) !== (v.tlsKey === undefined)) {
    throw new SdataError('SDATA_E_USAGE', '--tls-cert and --tls-key go together: give both, or neither for plain HTTP');
  }
  if (v.tlsCert !== undefined && v.tlsKey !== undefined) {
    // As text: the options cross to the provider thread, where a Buffer would arrive as a bare Uint8Array.
    const cert = readFile(v.tlsCert, '--tls-cert').toString('utf8');
    const key = readFile(v.tlsKey, '--tls-key').toString('utf8');
    try {
      createSecureContext({ cert, key });
    } catch (e) {
      throw new SdataError('SDATA_E_USAGE', `--tls-cert ${v.tlsCert} / --tls-key ${v.tlsKey}: not a usable certificate and private key (PEM): ${(e as Error).message}`);
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

function httpLimitsFrom(v: Values): Partial<Limits> {
  return {
    maxConcurrent: v.maxConcurrent, maxHeaderBytes: v.maxHeaderBytes, maxUrlBytes: v.maxUrlBytes,
    headersTimeoutMs: v.headersTimeout, requestTimeoutMs: v.requestTimeout, idleTimeoutMs: v.idleTimeout,
  };
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw fileError(`${what} ${path}`, 'read', e, { source: path });
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
