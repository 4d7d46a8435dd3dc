import { statusError } from '../../http/body.ts';
import type { HttpClient } from '../../http/client.ts';
import { escapeAttr, escapeText } from '../../protocol/escape.ts';
import { SdataError } from '../../protocol/errors.ts';
import { NS } from '../../protocol/namespaces.ts';
import { ResultScanner } from '../../xml/result-scanner.ts';
import type { ResultEntry } from '../../xml/result-types.ts';
import type { LinkOp } from './decide.ts';

/**
 * Sends one side's `$linked` requests (spec 1.3): one POST or PUT each, or, when the provider advertises
 * `$linked/$batch`, batches of them (core 13.3, synchronous: the answer is the result feed). Batches are pipelined
 * one deep: the next fills while the previous is on the wire, so the two sides and the matching all move at once.
 * Every request carries its uuid, so a retried request changes nothing twice (a repeated link is accepted, 1.3).
 * An op the provider refuses is reported through `onFailure`; a request that fails as a whole ends the link.
 */

export interface LinkWriterOptions {
  client: HttpClient;
  /** `{dataset base}/{kind}`. */
  collection: string;
  /** The resource element a link body carries (the one the collection's entries have). */
  element: { local: string; uri: string };
  /** Ops per `$linked/$batch` request; 0: one request per op. */
  batchSize: number;
  onFailure: (op: LinkOp, status: number | undefined, message: string) => void;
}

const ENTRY_TYPE = 'application/atom+xml; type=entry';
const FEED_TYPE = 'application/atom+xml; type=feed';

/** `$linked('{uuid}')`, the uuid percent-encoded with quotes and parentheses too, so any uuid text round-trips. */
export function linkSelector(uuid: string): string {
  return `$linked('${encodeURIComponent(uuid).replace(/'/g, '%27').replace(/\(/g, '%28').replace(/\)/g, '%29')}')`;
}

export class LinkWriter {
  ok = 0;
  failed = 0;
  requests = 0;
  readonly #o: LinkWriterOptions;
  #queue: LinkOp[] = [];
  #inFlight: Promise<void> | undefined;
  #error: unknown;

  constructor(o: LinkWriterOptions) {
    this.#o = o;
  }

  async add(op: LinkOp): Promise<void> {
    this.#check();
    this.#queue.push(op);
    if (this.#queue.length >= Math.max(1, this.#o.batchSize)) await this.#send();
  }

  /** Sends what is queued and waits for every answer. */
  async finish(): Promise<void> {
    if (this.#queue.length > 0) await this.#send();
    await this.#inFlight;
    this.#check();
  }

  #check(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  async #send(): Promise<void> {
    const ops = this.#queue;
    this.#queue = [];
    await this.#inFlight;
    this.#check();
    // Caught at once (and rethrown by the next add/finish): a rejection nobody awaits yet must not go unhandled.
    this.#inFlight = (this.#o.batchSize > 0 ? this.#batch(ops) : this.#each(ops)).catch((e: unknown) => {
      this.#error ??= e;
    });
  }

  #body(op: LinkOp): string {
    const { local, uri } = this.#o.element;
    return `<sdata:payload><${local} xmlns="${escapeAttr(uri)}" sdata:url="${escapeAttr(op.url)}" sdata:uuid="${escapeAttr(op.uuid)}"/></sdata:payload>`;
  }

  #linkUrl(uuid: string): string {
    return `${this.#o.collection}/${linkSelector(uuid)}`;
  }

  async #each(ops: LinkOp[]): Promise<void> {
    for (const op of ops) {
      const url = op.method === 'POST' ? `${this.#o.collection}/$linked` : this.#linkUrl(op.uuid);
      const body = `<?xml version="1.0" encoding="utf-8"?>\n<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><id>${op.method === 'PUT' ? escapeText(url) : ''}</id>` +
        `<title/><updated>${new Date().toISOString()}</updated>${this.#body(op)}</entry>`;
      this.requests++;
      const res = await this.#o.client.request({ method: op.method, url, headers: { 'content-type': ENTRY_TYPE }, body: () => body, retry: 'idempotent' });
      if (res.statusCode === 200 || res.statusCode === 201) {
        await res.body.dump();
        this.ok++;
      } else if (res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 401 && res.statusCode !== 403 && res.statusCode !== 405) {
        this.failed++;
        this.#o.onFailure(op, res.statusCode, (await statusError(op.method, res, 'link refused')).message);
      } else {
        throw await statusError(op.method, res, `${op.method === 'POST' ? 'linking' : 're-pointing'} a resource`);
      }
    }
  }

  async #batch(ops: LinkOp[]): Promise<void> {
    const now = new Date().toISOString();
    let body = `<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}">` +
      `<id>urn:sdata-sync:link-batch</id><title/><updated>${now}</updated>\n`;
    for (const op of ops) {
      body += `<entry><id>${op.method === 'PUT' ? escapeText(this.#linkUrl(op.uuid)) : ''}</id><title/><updated>${now}</updated>` +
        `<http:httpMethod>${op.method}</http:httpMethod>${this.#body(op)}</entry>\n`;
    }
    body += '</feed>\n';
    const url = `${this.#o.collection}/$linked/$batch`;
    this.requests++;
    const res = await this.#o.client.request({ method: 'POST', url, headers: { 'content-type': FEED_TYPE }, body: () => body, retry: 'idempotent' });
    if (res.statusCode !== 200) throw await statusError('POST', res, 'a $linked/$batch request');
    const results: ResultEntry[] = [];
    const reader = new ResultScanner((e) => results.push(e), { source: url });
    for await (const chunk of res.body) reader.push(chunk as Buffer);
    reader.end();
    ops.forEach((op, i) => {
      const r = results[i];
      const status = r?.status;
      if (status !== undefined && status >= 200 && status < 300) {
        this.ok++;
        return;
      }
      this.failed++;
      const said = r?.diagnoses.map((d) => d.message).filter((m) => m).join('; ');
      this.#o.onFailure(op, status, r === undefined ? `${url}: the result feed has ${results.length} entries for ${ops.length} requests` : `HTTP ${status ?? '?'}${said ? `: ${said}` : ''}`);
    });
    if (results.length > ops.length) throw new SdataError('SDATA_E_PROTOCOL', `${url}: ${results.length} results for ${ops.length} requests`, { url });
  }
}
