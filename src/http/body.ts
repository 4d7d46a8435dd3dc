import type { Diagnosis } from '../protocol/diagnosis.ts';
import { SdataError, type SdataErrorCode } from '../protocol/errors.ts';
import { decodeDocument } from '../xml/encoding.ts';
import { SMALL_BODY_LIMIT } from '../xml/limits.ts';
import { formatDiagnosis, parseDiagnoses } from '../xml/tracking-reader.ts';
import { credentialHint } from './auth.ts';
import type { HttpResponse } from './client.ts';
import { RETRYABLE_STATUS } from './retry.ts';
import { redactUrl } from './url.ts';

/**
 * Reads a small body whole (tracking payloads, error bodies: lenient readers), refusing (and discarding) one over
 * `limit` bytes (tracking payloads, digests and error bodies are small: anything bigger is not what we asked for).
 */
export async function readSmallBody(res: HttpResponse, limit = SMALL_BODY_LIMIT): Promise<string> {
  return (await smallBytes(res, limit)).toString('utf8');
}

/** A small XML document whole (a digest, a schema): as readSmallBody, but its bytes must be UTF-8 (encoding.ts). */
export async function readSmallDocument(res: HttpResponse, limit: number): Promise<string> {
  return decodeDocument(await smallBytes(res, limit), redactUrl(res.url));
}

async function smallBytes(res: HttpResponse, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    const b = c as Buffer;
    n += b.length;
    if (n > limit) {
      discardBody(res);
      throw new SdataError('SDATA_E_PROTOCOL', `${redactUrl(res.url)}: response body exceeds ${limit} bytes where a small document was expected`, { url: res.url });
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, n);
}

/**
 * Lets go of a response body that will not be read (any further). undici raises 'error' (UND_ERR_ABORTED) when a
 * body is destroyed before its end; on a body nobody reads, nothing listens, and that unhandled error ended the
 * process before its cleanup, leaving its contexts open (a result feed cut off while the next chunk's answer waited).
 */
export function discardBody(res: HttpResponse): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

/** A final non-success answer, with the provider's diagnoses (core 3.10, 11.8). */
export class HttpStatusError extends SdataError {
  readonly status: number;
  readonly diagnoses: Diagnosis[];
  constructor(code: SdataErrorCode, message: string, status: number, url: string, diagnoses: Diagnosis[]) {
    super(code, message, { url, status });
    this.status = status;
    this.diagnoses = diagnoses;
  }
}

/**
 * Turns an unexpected answer into an HttpStatusError naming the request, the status and what the peer said. A status
 * that asks to be tried again (429, 502, 503, 504: the peer or a gateway is unavailable for now) is a network failure,
 * not a protocol one: it is what the client's retries (`res.retries` of them) ran out on (exit 5, like a connection
 * that keeps being refused).
 */
export async function statusError(method: string, res: HttpResponse, what = 'unexpected status'): Promise<HttpStatusError> {
  let text = '';
  try {
    text = await readSmallBody(res, 256 * 1024);
  } catch {
    // The status says enough.
  }
  const diagnoses = parseDiagnoses(text);
  let said = diagnoses.map(formatDiagnosis).join('; ');
  if (!said && text.trim()) said = text.trim().replace(/\s+/g, ' ').slice(0, 200);
  const hint = res.statusCode === 401 || res.statusCode === 403 ? `; ${credentialHint(res.side, res.authSent ?? false)}` : '';
  if (res.statusCode === 507) {
    // RFC 4918 11.5: the server cannot store what the request needs; not retried (a full disk rarely frees itself).
    return new HttpStatusError('SDATA_E_STORE_FULL', `${method} ${redactUrl(res.url)}: ${what}: HTTP 507 Insufficient Storage: that provider's disk is full` +
      `${said ? ` (${said})` : ''}; free space there (or raise its quota) and run again`, 507, res.url, diagnoses);
  }
  const unavailable = RETRYABLE_STATUS.has(res.statusCode);
  const retries = res.retries ?? 0;
  const tried = unavailable && retries > 0 ? ` (after ${retries} ${retries === 1 ? 'retry' : 'retries'})` : '';
  return new HttpStatusError(unavailable ? 'SDATA_E_NETWORK' : 'SDATA_E_HTTP', `${method} ${redactUrl(res.url)}: ${what}: HTTP ${res.statusCode}${said ? ` (${said})` : ''}${tried}${hint}`,
    res.statusCode, res.url, diagnoses);
}
