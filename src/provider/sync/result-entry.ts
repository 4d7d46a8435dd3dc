import { serializeDiagnosis, type Diagnosis } from '../../protocol/diagnosis.ts';
import { escapeAttr, escapeText } from '../../protocol/escape.ts';
import type { Tick } from '../../protocol/ticks.ts';
import type { Catalog, KindInfo } from '../store/repositories.ts';
import { etagFrom, etagSeed } from './etag.ts';

/**
 * Batch-style result entries (docs/protocol.md §2.6, core 13.4), serialised once when the entry is processed and stored with
 * the context's results (store/results.ts); result feeds are then streamed from there.
 */

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK', 201: 'Created', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  410: 'Gone', 412: 'Precondition Failed', 413: 'Payload Too Large', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

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
  /** `<sync:syncState>…` of the resulting state (docs/protocol.md A16). */
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

/** `<sync:syncState>` from an endpoint already escaped for XML. */
export function stateXml(endpointXml: string, tick: Tick, stamp: string, user?: string): string {
  return `<sync:syncState><sync:endpoint>${endpointXml}</sync:endpoint><sync:tick>${tick}</sync:tick>` +
    `<sync:stamp>${escapeText(stamp)}</sync:stamp>${user === undefined ? '' : `<sync:user>${escapeText(user)}</sync:user>`}</sync:syncState>`;
}

const F = '\u0002';

/**
 * A successful result without diagnoses, as a short record (U+0002-separated: status, method, local id, endpoint id,
 * tick, stamp). About a seventh of its XML: result rows are written for every applied entry and mostly never
 * read twice, so they are rendered only when served.
 */
export function compactResult(status: number, method: string | undefined, id: number, ep: number, tick: Tick, stamp: string): string {
  return `${F}${status}${F}${method ?? ''}${F}${id}${F}${ep}${F}${tick}${F}${stamp}`;
}

export interface RenderContext {
  store: Pick<Catalog, 'endpoint'>;
  kind: KindInfo;
  /** Serving URL of the collection. */
  serving: string;
  updated: string;
}

/**
 * Renders the stored results of one result-feed page: the same bytes as resultEntryXml() of each record's fields
 * (test/provider/result-oracle.ts renders them that way), with what every compact record of the page shares (escaped URLs, the kind's name, the endpoint's hash state) built once per page, not
 * once per entry. Local ids are decimal digits and ETags base-36, so neither needs escaping, and escaping a
 * concatenation is concatenating the escaped parts (escapes are per character).
 */
export class ResultRenderer {
  private readonly rc: RenderContext;
  private readonly idOpen: string;
  private readonly titleOpen: string;
  private readonly selfOpen: string;
  private readonly locationOpen: string;
  private readonly eps = new Map<string, { seedA: number; seedB: number; stateOpen: string }>();

  constructor(rc: RenderContext) {
    this.rc = rc;
    this.idOpen = `<entry><id>${escapeText(rc.kind.selfUrl)}('`;
    this.titleOpen = `')</id><title>${escapeText(rc.kind.name)} `;
    this.selfOpen = `</title><updated>${rc.updated}</updated><link rel="self" type="application/atom+xml; type=entry" href="${escapeAttr(rc.serving)}('`;
    this.locationOpen = `<http:location>${escapeText(rc.serving)}('`;
  }

  render(stored: string): string {
    if (stored.charCodeAt(0) !== 2) return stored;
    // The fields of compactResult, cut where they stand (a split made an array per entry: a third of the rendering).
    const f1 = stored.indexOf(F, 1);
    const f2 = stored.indexOf(F, f1 + 1);
    const f3 = stored.indexOf(F, f2 + 1);
    const f4 = stored.indexOf(F, f3 + 1);
    const f5 = stored.indexOf(F, f4 + 1);
    const status = stored.slice(1, f1);
    const method = stored.slice(f1 + 1, f2);
    const id = stored.slice(f2 + 1, f3);
    const ep = stored.slice(f3 + 1, f4);
    const tick = stored.slice(f4 + 1, f5);
    const stamp = stored.slice(f5 + 1);
    let e = this.eps.get(ep);
    if (e === undefined) {
      const endpoint = this.rc.store.endpoint(Number(ep));
      const [seedA, seedB] = etagSeed(endpoint.norm);
      e = { seedA, seedB, stateOpen: `<sync:syncState><sync:endpoint>${endpoint.xml}</sync:endpoint><sync:tick>` };
      this.eps.set(ep, e);
    }
    const code = Number(status);
    let x = `${this.idOpen}${id}${this.titleOpen}${id}${this.selfOpen}${id}')"/><http:httpStatus>${code}</http:httpStatus>` +
      `<http:httpMessage>${escapeText(STATUS_TEXT[code] ?? '')}</http:httpMessage>`;
    if (method !== '') x += `<http:httpMethod>${method}</http:httpMethod>`;
    if (code === 201) x += `${this.locationOpen}${id}')</http:location>`;
    return `${x}<http:etag>${etagFrom(e.seedA, e.seedB, tick)}</http:etag>${e.stateOpen}${tick}</sync:tick>` +
      `<sync:stamp>${escapeText(stamp)}</sync:stamp></sync:syncState></entry>\n`;
  }
}
