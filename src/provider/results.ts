import { serializeDiagnosis, type Diagnosis } from '../protocol/diagnosis.ts';
import { escapeAttr, escapeText } from '../protocol/escape.ts';
import type { Tick } from '../protocol/ticks.ts';

/**
 * Batch-style result entries (brief §2.6, core 13.4), serialised once when the entry is processed and stored in
 * the `results` table; result feeds are then streamed from there.
 */

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK', 201: 'Created', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  410: 'Gone', 412: 'Precondition Failed', 413: 'Payload Too Large', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/**
 * A resource version's ETag: a 64-bit hash of its syncState, which changes with every version (a local edit takes
 * a new tick, an applied change brings its origin's state). Two stores holding the same version give the same ETag.
 * Not cryptographic on purpose: it is computed per applied entry, and only has to tell versions apart.
 */
export function etagOf(endpointNorm: string, tick: Tick): string {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < endpointNorm.length; i++) {
    const c = endpointNorm.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  a = Math.imul(a ^ 10, 0x01000193);
  b = Math.imul(b ^ 10, 0x5bd1e995);
  for (let i = 0; i < tick.length; i++) {
    const c = tick.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  a = fmix(a);
  b = fmix(b ^ a);
  return (a >>> 0).toString(36).padStart(7, '0') + (b >>> 0).toString(36).padStart(7, '0');
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export interface ResultEntry {
  /** atom:id: the resource's identity URL, or what identifies the input entry when there is no resource. */
  id: string;
  title?: string;
  status: number;
  message?: string;
  /** The method actually applied (POST created, PUT updated, DELETE deleted); absent when nothing was applied. */
  method?: string;
  location?: string;
  etag?: string;
  /** `<sync:syncState>…` of the resulting state (brief A16 [Rec]). */
  stateXml?: string;
  diagnoses?: readonly Diagnosis[];
  /** Resource fragment to include (GET results, conflicts the target won). */
  payload?: string;
  updated: string;
}

export function resultEntryXml(r: ResultEntry): string {
  let s = `<entry><id>${escapeText(r.id)}</id><title>${escapeText(r.title ?? '')}</title><updated>${r.updated}</updated>`;
  if (r.location !== undefined) s += `<link rel="self" type="application/atom+xml; type=entry" href="${escapeAttr(r.location)}"/>`;
  s += `<http:httpStatus>${r.status}</http:httpStatus><http:httpMessage>${escapeText(r.message ?? STATUS_TEXT[r.status] ?? '')}</http:httpMessage>`;
  if (r.method !== undefined) s += `<http:httpMethod>${r.method}</http:httpMethod>`;
  if (r.location !== undefined && r.status === 201) s += `<http:location>${escapeText(r.location)}</http:location>`;
  if (r.etag !== undefined) s += `<http:etag>${escapeText(r.etag)}</http:etag>`;
  if (r.stateXml !== undefined) s += r.stateXml;
  if (r.diagnoses) for (const d of r.diagnoses) s += serializeDiagnosis(d);
  if (r.payload !== undefined) s += `<sdata:payload>${r.payload}</sdata:payload>`;
  return `${s}</entry>\n`;
}
