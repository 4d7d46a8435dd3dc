import type { IncomingMessage, ServerResponse } from 'node:http';
import { serializeDiagnoses, type Diagnosis, type SdataCode } from '../../protocol/diagnosis.ts';
import { ERROR_CODES, isSdataError } from '../../protocol/errors.ts';
import { serializeTracking, type Tracking } from '../../protocol/tracking.ts';

/** Request-level failure with its HTTP status; answered with an `sdata:diagnoses` body (core 3.10; docs/protocol.md A34). */
export class HttpProblem extends Error {
  readonly status: number;
  readonly sdataCode: SdataCode;
  readonly headers: Record<string, string>;
  readonly applicationCode: string | undefined;
  constructor(status: number, message: string, sdataCode: SdataCode = 'ApplicationDiagnosis', headers: Record<string, string> = {}, applicationCode?: string) {
    super(message);
    this.name = 'HttpProblem';
    this.status = status;
    this.sdataCode = sdataCode;
    this.headers = headers;
    this.applicationCode = applicationCode;
  }
}

export const ATOM_FEED = 'application/atom+xml; type=feed';
export const ATOM_ENTRY = 'application/atom+xml; type=entry';
export const XML = 'application/xml';

export function methodNotAllowed(method: string, url: string, allow: string): HttpProblem {
  return new HttpProblem(405, `${method} is not allowed on ${url}; allowed: ${allow}`, 'ApplicationDiagnosis', { allow });
}

/** The status a failure maps to: our problems carry theirs, an SdataError its code's (protocol/errors.ts), else 500. */
export function statusOf(e: unknown): number {
  if (e instanceof HttpProblem) return e.status;
  if (isSdataError(e)) return ERROR_CODES[e.code].http;
  return 500;
}

export function diagnosisOf(e: unknown): Diagnosis {
  const status = statusOf(e);
  const message = e instanceof Error ? e.message : String(e);
  const sdataCode = e instanceof HttpProblem ? e.sdataCode : 'ApplicationDiagnosis';
  const d: Diagnosis = { severity: status >= 500 ? (status === 503 ? 'transient' : 'fatal') : 'error', sdataCode, message };
  const app = e instanceof HttpProblem ? e.applicationCode : isSdataError(e) ? e.code : undefined;
  if (app !== undefined) d.applicationCode = app;
  return d;
}

export function sendText(res: ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(buf.length), ...headers });
  res.end(buf);
}

/** Seconds a 503 asks the client to wait (core 11.8 asks providers to say when): a lock held elsewhere, say. */
const RETRY_AFTER_S = '2';

export function sendProblem(res: ServerResponse, e: unknown, extra: Record<string, string> = {}): void {
  const status = statusOf(e);
  let headers = { ...extra, ...(e instanceof HttpProblem ? e.headers : {}) };
  if (status === 503 && headers['retry-after'] === undefined) headers = { ...headers, 'retry-after': RETRY_AFTER_S };
  if (!res.req.complete && !res.headersSent) {
    // A body refused before its end (over a limit, malformed, a full store) may be endless: it is not read on for
    // long. But a connection closed at once, with the client still sending, is reset, and a client busy writing then
    // loses the answer with it (seen in tests: EPIPE instead of the 413): the answer goes first, the rest of the body
    // is read and dropped, and the connection is closed a little later unless the body has ended by then (then it
    // serves the next request: the rest of the refused body is never taken for one).
    delete headers['connection'];
    lingerThenClose(res);
  }
  if (res.headersSent) {
    // Mid-stream: the status is gone; cut the body so the client cannot take a truncated feed for a whole one.
    res.destroy(e instanceof Error ? e : undefined);
    return;
  }
  sendText(res, status, serializeDiagnoses([diagnosisOf(e)]), XML, headers);
}

/** How long the rest of a refused body is read (and discarded) before its connection is closed. */
const LINGER_MS = 1000;

function lingerThenClose(res: ServerResponse): void {
  const { req, socket } = res;
  if (!socket) return;
  req.resume();
  const timer = setTimeout(() => {
    if (!req.complete) socket.destroy();
  }, LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

export function sendTracking(res: ServerResponse, location: string, t: Tracking): void {
  sendText(res, 202, serializeTracking(t), XML, { location });
}


/**
 * Reads a small body whole (digests, single entries), refusing more than `limit` bytes; `why` says which limit
 * that is, for the 413 (default: --max-body).
 */
export async function readBody(req: IncomingMessage, limit: number, why?: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of bodyChunks(req, limit, why)) {
    parts.push(c);
    n += c.length;
  }
  return Buffer.concat(parts, n);
}

/** The request body as chunks, with the size limit enforced as bytes arrive (413 beyond it; `why`: see readBody). */
export async function* bodyChunks(req: IncomingMessage, limit: number, why?: string): AsyncGenerator<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit, why);
  let n = 0;
  // A reader that stops early (an error) leaves the request alive: the answer is sent, and the rest of the body is
  // read on for a while (sendProblem), which a destroyed request would cut off.
  for await (const c of req.iterator({ destroyOnReturn: false })) {
    const b = c as Buffer;
    n += b.length;
    if (n > limit) throw tooLarge(limit, why);
    yield b;
  }
}

function tooLarge(limit: number, why = '--max-body'): HttpProblem {
  // The rest of the body is not read: close the connection rather than swallow it.
  return new HttpProblem(413, `request body exceeds this provider's limit of ${limit} bytes (${why})`, 'ApplicationDiagnosis', { connection: 'close' });
}

/** Consumes and discards what is left of a body (a repeated POST whose work is already done), within `limit`. */
export async function drain(req: IncomingMessage, limit: number): Promise<void> {
  if (req.readableEnded) return;
  for await (const _c of bodyChunks(req, limit)) {
    // discard
  }
}
