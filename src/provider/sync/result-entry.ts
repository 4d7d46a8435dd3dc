import type { StatementSync } from 'node:sqlite';
import { serializeDiagnosis, type Diagnosis } from '../../protocol/diagnosis.ts';
import { escapeAttr, escapeText } from '../../protocol/escape.ts';
import type { KindInfo } from '../store/store.ts';
import type { Tick } from '../../protocol/ticks.ts';
import type { Store } from '../store/store.ts';

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
  const [a, b] = etagSeed(endpointNorm);
  return etagFrom(a, b, tick);
}

/** The hash state after an endpoint (and the separator): the part of an ETag that a result feed can reuse. */
function etagSeed(endpointNorm: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < endpointNorm.length; i++) {
    const c = endpointNorm.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  a = Math.imul(a ^ 10, 0x01000193);
  b = Math.imul(b ^ 10, 0x5bd1e995);
  return [a, b];
}

function etagFrom(a: number, b: number, tick: Tick): string {
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

const SEP = '\u0001';

/**
 * Result entries of one context, buffered for the current transaction and written as one `result_rows` row by
 * flush() (call it inside the transaction, so results commit with the data they describe). Memory: one
 * transaction's results.
 */
export class ResultRows {
  private readonly ins: StatementSync;
  private readonly ctx: number;
  private parts: string[] = [];
  private first = 0;
  private next = 0;

  constructor(store: Store, ctx: number) {
    this.ctx = ctx;
    this.ins = store.db.prepare('INSERT INTO result_rows(ctx, first, count, xml) VALUES(?, ?, ?, ?)');
  }

  add(xml: string): void {
    this.parts.push(xml);
    this.next++;
  }

  get count(): number {
    return this.next;
  }

  flush(): void {
    if (this.parts.length === 0) return;
    this.ins.run(this.ctx, this.first, this.parts.length, this.parts.join(SEP));
    this.first = this.next;
    this.parts = [];
  }

  /** Drops what a rolled-back transaction added. */
  discard(): void {
    this.next = this.first;
    this.parts = [];
  }
}

/** Result entries [from, to) of a context, in order, one row (one transaction's worth) in memory at a time. */
export function* readResults(store: Store, ctx: number, from: number, to: number): Generator<string> {
  const rows = store.db.prepare('SELECT first, count FROM result_rows WHERE ctx = ? AND first < ? ORDER BY first').all(ctx, to) as Array<{ first: number; count: number }>;
  const one = store.db.prepare('SELECT xml FROM result_rows WHERE ctx = ? AND first = ?');
  for (const r of rows) {
    if (r.first + r.count <= from) continue;
    const parts = (one.get(ctx, r.first) as { xml: string }).xml.split(SEP);
    const lo = Math.max(0, from - r.first);
    const hi = Math.min(r.count, to - r.first);
    for (let i = lo; i < hi; i++) yield parts[i]!;
  }
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
  store: Store;
  kind: KindInfo;
  /** Serving URL of the collection. */
  serving: string;
  updated: string;
}

/** A stored result as XML: full entries pass through, compact records are rendered. */
export function renderResult(stored: string, rc: RenderContext): string {
  if (stored.charCodeAt(0) !== 2) return stored;
  const [, status, method, id, ep, tick, stamp] = stored.split(F) as [string, string, string, string, string, string, string];
  const e = rc.store.endpoint(Number(ep));
  return resultEntryXml({
    id: `${rc.kind.selfUrl}('${id}')`, title: `${rc.kind.name} ${id}`, status: Number(status),
    ...(method === '' ? {} : { method }), location: `${rc.serving}('${id}')`, etag: etagOf(e.norm, tick),
    stateXml: stateXml(e.xml, tick, stamp), updated: rc.updated,
  });
}

/**
 * Renders the stored results of one result-feed page: the same bytes as renderResult, with what every compact
 * record of the page shares (escaped URLs, the kind's name, the endpoint's hash state) built once per page, not
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
    const [, status, method, id, ep, tick, stamp] = stored.split(F) as [string, string, string, string, string, string, string];
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
