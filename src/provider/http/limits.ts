import type { IncomingMessage, Server, ServerOptions } from 'node:http';
import { LIMIT_DEFAULTS } from './defaults.ts';
import { HttpProblem } from './http-io.ts';

/**
 * What one client may cost the server (issue 13). node:http gives the timeouts and the header bound; the rest is
 * checked here before any work, and the body size as bytes arrive (http-io.ts `bodyChunks`):
 *
 * - `maxConcurrent` requests in progress; beyond it `503` + `Retry-After` (the engine's retry loop honours it).
 *   A request holds its slot until its response is finished, so a slow body or a slow reader holds one too.
 * - `maxHeaderBytes`: request line and headers together (node's `maxHeaderSize`; node answers `431` itself).
 * - `maxUrlBytes`: a longer request target gets `414`. Our longest URLs are `next` links with a cursor, well under
 *   a kilobyte.
 * - `headersTimeoutMs`: the whole header block must arrive within it (slowloris); node answers `408`.
 * - `requestTimeoutMs`: the whole request, body included (a 64 MiB page at 1 MB/s takes ~70 s); node answers `408`.
 * - `idleTimeoutMs`: a connection on which nothing moves for this long (a body that stalls, a response nobody reads)
 *   is closed.
 */
export interface Limits {
  maxConcurrent: number;
  maxHeaderBytes: number;
  maxUrlBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = LIMIT_DEFAULTS;

/** The node:http / node:https server options for these limits. */
export function serverOptions(l: Limits): ServerOptions {
  return {
    maxHeaderSize: l.maxHeaderBytes,
    headersTimeout: Math.min(l.headersTimeoutMs, l.requestTimeoutMs),
    requestTimeout: l.requestTimeoutMs,
    // node checks the two timeouts above on this interval (default 30 s): make it fine enough to honour them.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(l.headersTimeoutMs / 4))),
  };
}

/** What a server object takes after it exists: the idle timeout (a 'timeout' without listener destroys the socket). */
export function applyIdleTimeout(server: Server, l: Limits): void {
  server.setTimeout(l.idleTimeoutMs);
}

/** Checks made before any work on a request: the URL length, and a declared body above `maxBodyBytes`. */
export function checkRequest(req: IncomingMessage, l: Limits, maxBodyBytes: number): void {
  const target = req.url ?? '/';
  if (Buffer.byteLength(target, 'latin1') > l.maxUrlBytes) {
    throw new HttpProblem(414, `the request URL is longer than this provider's limit of ${l.maxUrlBytes} bytes`, 'BadUrlSyntax');
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBodyBytes) {
    throw new HttpProblem(413, `request body of ${declared} bytes exceeds this provider's limit of ${maxBodyBytes} bytes (--max-body)`, 'ApplicationDiagnosis', { connection: 'close' });
  }
}

/** The answer beyond `maxConcurrent`. */
export function overloaded(l: Limits): HttpProblem {
  return new HttpProblem(503, `this provider is serving its limit of ${l.maxConcurrent} concurrent requests; retry later`, 'ApplicationDiagnosis', { 'retry-after': '1' });
}
