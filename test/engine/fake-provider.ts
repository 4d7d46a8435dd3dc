/**
 * A small in-memory SData sync provider for engine tests, with hooks to misbehave on purpose. It follows the
 * protocol closely enough for end-state comparisons (source selection by digest, target R1 + digest updates,
 * end-of-feed merge on a page without `next`, trackingID idempotency, paged results, DELETE then 410), but it is
 * no substitute for the reference provider: it buffers bodies and keeps everything in maps.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { emptyDigest, serializeDigestEntry, setDigestEntry, type Digest } from '../../src/protocol/digest.ts';
import { normalizeEndpoint } from '../../src/protocol/endpoint.ts';
import { escapeText } from '../../src/protocol/escape.ts';
import { serializeSyncState, type SyncState } from '../../src/protocol/sync-state.ts';
import { compareTicks, maxTick, nextTick, tickLess } from '../../src/protocol/ticks.ts';
import { serializeTracking } from '../../src/protocol/tracking.ts';
import { parseDigestDocument } from '../../src/xml/digest-document.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import type { EntryRecord, FeedHead } from '../../src/xml/feed-types.ts';
import { feedClose, feedOpen, resourceXml } from '../../src/xml/feed-writer.ts';

export interface Resource {
  uuid: string;
  state: SyncState;
  /** Self-contained resource element; undefined for a tombstone. */
  xml: string | undefined;
}

interface Kind {
  resources: Map<string, Resource>;
  digest: Digest;
}

interface Ctx {
  id: string;
  kind: string;
  type: 'source' | 'target';
  trackingId: string;
  /** Polls still answered with 202. */
  pending: number;
  /** Source: the snapshot entries (texts). Target: the result entries (texts). */
  items: string[];
  digest?: Digest;
  deleted: boolean;
}

export type Hook = (req: IncomingMessage, res: ServerResponse, info: { op: string; kind: string; ctx?: string; body?: Buffer }) => boolean | Promise<boolean>;

export interface FakeOptions {
  app: string;
  priority?: number;
  pageSize?: number;
  resultPageSize?: number;
  /** 202 answers before a context is ready (per poll). */
  polls?: number;
  pollingMillis?: number;
  /** Answer $syncSource / $syncTarget POSTs synchronously with 200. */
  syncSource?: boolean;
  syncTarget?: boolean;
  maxBodyBytes?: number;
}

const SDATA = 'http://schemas.sage.com/sdata/2008/1';
const HTTP = 'http://schemas.sage.com/sdata/http/2008/1';

export class FakeProvider {
  readonly o: Required<FakeOptions>;
  readonly kinds = new Map<string, Kind>();
  readonly contexts = new Map<string, Ctx>();
  /** trackingID → context id (idempotent POSTs). */
  readonly byTracking = new Map<string, string>();
  /** trackingID → times its body was applied. */
  readonly applied = new Map<string, number>();
  /** Every request line, for assertions. */
  readonly log: string[] = [];
  readonly results: string[] = [];
  hook: Hook | undefined;
  /** Called before a POST body is read: return true after taking over (e.g. dropping the connection mid-body). */
  preBody: ((req: IncomingMessage, res: ServerResponse, op: string) => boolean) | undefined;
  /** After a POST was processed: return true to drop the connection instead of answering (a lost response). */
  dropResponse: ((op: string) => boolean) | undefined;
  /** Before a page (source or result) is sent: return true to send half of it and drop the connection. */
  truncate: ((type: 'source' | 'target', start: number) => boolean) | undefined;
  /** Each 202 to a poll names a new Location (an alias of the context) and a new pollingMillis. */
  moveLocation = false;
  private readonly aliases = new Map<string, string>();
  server: Server | undefined;
  base = '';
  private seq = 0;
  private clock = Date.parse('2024-01-01T00:00:00Z');

  constructor(o: FakeOptions) {
    this.o = { priority: 5, pageSize: 10, resultPageSize: 1000, polls: 1, pollingMillis: 1, syncSource: false, syncTarget: false, maxBodyBytes: 1 << 30, ...o };
  }

  /** The identity URL of a kind's endpoint: fixed, independent of the port (as the reference provider does). */
  endpoint(kind: string): string {
    return `http://${this.o.app}.example/sdata/${this.o.app}/c/-/${kind}`;
  }

  datasetBase(): string {
    return `${this.base}/sdata/${this.o.app}/c/-`;
  }

  kind(k: string): Kind {
    let s = this.kinds.get(k);
    if (!s) {
      const d = emptyDigest(this.endpoint(k));
      setDigestEntry(d, { endpoint: this.endpoint(k), tick: '1', stamp: this.stamp(), conflictPriority: this.o.priority });
      s = { resources: new Map(), digest: d };
      this.kinds.set(k, s);
    }
    return s;
  }

  private stamp(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  /** A local change: ticks it from the own digest entry (docs/protocol.md §3.1). */
  edit(kind: string, uuid: string, body: string | undefined): void {
    const k = this.kind(kind);
    const own = k.digest.entries.get(normalizeEndpoint(this.endpoint(kind)))!;
    const state = { endpoint: this.endpoint(kind), tick: own.tick, stamp: this.stamp() };
    own.tick = nextTick(own.tick);
    k.resources.set(uuid, { uuid, state, xml: body === undefined ? undefined : `<account xmlns="urn:contract" xmlns:sdata="${SDATA}" sdata:uuid="${uuid}">${body}</account>` });
  }

  seed(kind: string, n: number, prefix = 'r'): void {
    for (let i = 0; i < n; i++) {
      const uuid = `${prefix}${String(i).padStart(7, '0')}-0000-4000-8000-000000000000`.slice(0, 36);
      this.edit(kind, uuid, `<name>${prefix} #${i} &amp; ünïcödé</name><notes><![CDATA[<raw>${i}</raw>]]></notes>`);
    }
  }

  /** uuid → sha256 of the stored payload (tombstones as 'deleted'), sorted: the convergence check. */
  checksum(kind: string): string {
    const k = this.kind(kind);
    const h = createHash('sha256');
    for (const uuid of [...k.resources.keys()].sort()) {
      const r = k.resources.get(uuid)!;
      // Declarations may be re-stated on the way (resourceXml makes fragments self-contained): compare without them.
      const canon = r.xml?.replace(/ xmlns(:\w+)?="[^"]*"/g, '');
      h.update(`${uuid}\u0000${canon === undefined ? 'deleted' : createHash('sha256').update(canon).digest('hex')}\n`);
    }
    return h.digest('hex');
  }

  liveCount(kind: string): number {
    let n = 0;
    for (const r of this.kind(kind).resources.values()) if (r.xml !== undefined) n++;
    return n;
  }

  openContexts(): number {
    let n = 0;
    for (const c of this.contexts.values()) if (!c.deleted) n++;
    return n;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(e));
        else res.destroy();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  private async body(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url!, this.base);
    this.log.push(`${req.method} ${req.url}`);
    const m = /^\/sdata\/[^/]+\/[^/]+\/[^/]+\/([^/$]+)\/(\$\w+)(?:\('([^']+)'\))?$/.exec(decodeURIComponent(url.pathname));
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const [, kind, op, ctxId] = m as unknown as [string, string, string, string | undefined];
    const contentLength = Number(req.headers['content-length'] ?? 0);
    if (req.method === 'POST' && contentLength > this.o.maxBodyBytes) {
      if (this.hook && (await this.hook(req, res, { op: `${op}:413`, kind }))) return;
      res.writeHead(413, { connection: 'close' }).end(`<sdata:diagnoses xmlns:sdata="${SDATA}"><sdata:diagnosis><sdata:severity>error</sdata:severity><sdata:sdataCode>ApplicationDiagnosis</sdata:sdataCode><sdata:message>too large</sdata:message></sdata:diagnosis></sdata:diagnoses>`);
      req.resume();
      return;
    }
    if (req.method === 'POST' && this.preBody?.(req, res, op)) return;
    const body = req.method === 'POST' ? await this.body(req) : undefined;
    const info = { op, kind, ...(ctxId ? { ctx: ctxId } : {}), ...(body ? { body } : {}) };
    if (this.hook && (await this.hook(req, res, info))) return;
    const k = this.kind(kind);
    if (op === '$syncDigest' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/atom+xml; type=entry' }).end(serializeDigestEntry(k.digest, `${this.endpoint(kind)}/$syncDigest`));
      return;
    }
    if ((op === '$syncSource' || op === '$syncTarget') && req.method === 'POST' && !ctxId) {
      const tracking = url.searchParams.get('trackingID') ?? '';
      let id = tracking ? this.byTracking.get(tracking) : undefined;
      if (id === undefined) {
        id = `c${++this.seq}`;
        const ctx: Ctx = { id, kind, type: op === '$syncSource' ? 'source' : 'target', trackingId: tracking, pending: this.o.polls, items: [], deleted: false };
        if (ctx.type === 'source') this.select(ctx, body!);
        else {
          this.apply(ctx, body!);
          this.applied.set(tracking, (this.applied.get(tracking) ?? 0) + 1);
        }
        this.contexts.set(id, ctx);
        if (tracking) this.byTracking.set(tracking, id);
      }
      const ctx = this.contexts.get(id)!;
      if (this.dropResponse?.(op)) {
        res.socket?.destroy();
        return;
      }
      const sync = ctx.type === 'source' ? this.o.syncSource : this.o.syncTarget;
      if (sync || !tracking) {
        ctx.deleted = true; // nothing for the consumer to DELETE (core 11.5)
        this.page(res, ctx, 1, true);
        return;
      }
      res.writeHead(202, { location: this.ctxUrl(ctx), 'content-type': 'application/xml' }).end(serializeTracking({ phase: 'Init', progress: 0, pollingMillis: this.o.pollingMillis }));
      return;
    }
    if (op === '$syncResults' && req.method === 'POST') {
      this.results.push(body!.toString('utf8'));
      res.writeHead(200).end();
      return;
    }
    if (ctxId && (op === '$syncSource' || op === '$syncTarget')) {
      const ctx = this.contexts.get(this.aliases.get(ctxId) ?? ctxId);
      if (!ctx) {
        res.writeHead(404).end();
        return;
      }
      if (req.method === 'DELETE') {
        if (ctx.deleted) res.writeHead(410).end();
        else {
          ctx.deleted = true;
          res.writeHead(200).end();
        }
        return;
      }
      if (ctx.deleted) {
        res.writeHead(410).end();
        return;
      }
      if (ctx.pending > 0) {
        ctx.pending--;
        let location = this.ctxUrl(ctx);
        if (this.moveLocation) {
          const alias = `${ctx.id}-moved${ctx.pending}`;
          this.aliases.set(alias, ctx.id);
          location = location.replace(`('${ctx.id}')`, `('${alias}')`);
        }
        res.writeHead(202, { location, 'content-type': 'application/xml' }).end(serializeTracking({ phase: 'Working', progress: 50, pollingMillis: this.moveLocation ? 1 + (ctx.pending % 3) : this.o.pollingMillis }));
        return;
      }
      const start = Number(url.searchParams.get('startIndex') ?? 1);
      if (this.truncate?.(ctx.type, start)) {
        const text = this.pageText(ctx, start, false);
        res.writeHead(200, { 'content-type': 'application/atom+xml; type=feed', 'content-length': String(Buffer.byteLength(text)) });
        res.write(text.slice(0, Math.floor(text.length / 2)), () => res.socket?.destroy());
        return;
      }
      this.page(res, ctx, start, false);
      return;
    }
    res.writeHead(405).end();
  }

  ctxUrl(ctx: Ctx): string {
    return `${this.datasetBase()}/${ctx.kind}/${ctx.type === 'source' ? '$syncSource' : '$syncTarget'}('${ctx.id}')`;
  }

  private page(res: ServerResponse, ctx: Ctx, start: number, sync: boolean): void {
    res.writeHead(200, { 'content-type': 'application/atom+xml; type=feed' }).end(this.pageText(ctx, start, sync));
  }

  private pageText(ctx: Ctx, start: number, sync: boolean): string {
    const size = ctx.type === 'source' ? this.o.pageSize : this.o.resultPageSize;
    const slice = ctx.items.slice(start - 1, start - 1 + size);
    const more = start - 1 + size < ctx.items.length;
    const links = more && !sync ? [{ rel: 'next', href: `${this.ctxUrl(ctx)}?startIndex=${start + size}&count=${size}` }] : [];
    const head = ctx.type === 'source'
      ? feedOpen({ id: this.ctxUrl(ctx), syncMode: 'catchUp', digest: ctx.digest!, links, totalResults: ctx.items.length })
      : feedOpen({ id: this.ctxUrl(ctx), title: 'results', links });
    // A synchronous answer has no context to page through: everything at once.
    if (sync && more) return head + ctx.items.join('\n') + feedClose();
    return head + slice.join('\n') + feedClose();
  }

  /** Source selection (docs/protocol.md §3.2) as a snapshot of entry texts. */
  private select(ctx: Ctx, body: Buffer): void {
    const k = this.kind(ctx.kind);
    const t = parseDigestDocument(body.toString('utf8'), 'posted digest');
    const chosen: Resource[] = [];
    for (const [ep, e] of k.digest.entries) {
      const lower = t.entries.get(ep)?.tick;
      if (lower !== undefined && !tickLess(lower, e.tick)) continue;
      for (const r of k.resources.values()) {
        if (normalizeEndpoint(r.state.endpoint) === ep && (lower === undefined || !tickLess(r.state.tick, lower))) chosen.push(r);
      }
    }
    chosen.sort((a, b) => compareTicks(a.state.tick, b.state.tick));
    ctx.digest = structuredClone(k.digest);
    ctx.items = chosen.map((r) => {
      const payload = r.xml ?? `<account xmlns="urn:contract" xmlns:sdata="${SDATA}" sdata:uuid="${r.uuid}" sdata:isDeleted="true"/>`;
      return `<entry><id>${escapeText(this.endpoint(ctx.kind))}('${r.uuid}')</id><title/><updated>${r.state.stamp}</updated>${serializeSyncState(r.state)}<sdata:payload>${payload}</sdata:payload></entry>`;
    });
  }

  /** Target apply: R1 (same origin → newer tick wins), otherwise the incoming version wins; digest per entry, merge at the end. */
  private apply(ctx: Ctx, body: Buffer): void {
    const k = this.kind(ctx.kind);
    let head: FeedHead | undefined;
    let next: string | undefined;
    const entries: EntryRecord[] = [];
    const r = new FeedReader({ head: (h) => { head = h; }, entry: (e) => entries.push(e), end: (t) => { next = t.next; } }, { source: 'posted chunk' });
    r.push(body);
    r.end();
    for (const e of entries) {
      const st = e.state!;
      const uuid = e.uuid!;
      const have = k.resources.get(uuid);
      let method = have ? (e.isDeleted ? 'DELETE' : have.xml === undefined ? 'POST' : 'PUT') : e.isDeleted ? 'DELETE' : 'POST';
      let status = method === 'POST' ? 201 : 200;
      let diag = '';
      const same = have && normalizeEndpoint(have.state.endpoint) === normalizeEndpoint(st.endpoint);
      if (have && same && !tickLess(have.state.tick, st.tick)) {
        method = '';
        status = 200;
        diag = `<sdata:diagnosis><sdata:severity>info</sdata:severity><sdata:sdataCode>ApplicationDiagnosis</sdata:sdataCode><sdata:applicationCode>SyncIgnored</sdata:applicationCode><sdata:message>already applied</sdata:message></sdata:diagnosis>`;
      } else if (uuid.startsWith('bad')) {
        method = '';
        status = 422;
        diag = `<sdata:diagnosis><sdata:severity>error</sdata:severity><sdata:sdataCode>ApplicationDiagnosis</sdata:sdataCode><sdata:message>refused ${uuid}</sdata:message></sdata:diagnosis>`;
      } else {
        k.resources.set(uuid, { uuid, state: { endpoint: st.endpoint, tick: st.tick, stamp: st.stamp }, xml: e.isDeleted ? undefined : resourceXml(e) });
      }
      if (status < 400) {
        const ep = normalizeEndpoint(st.endpoint);
        const d = k.digest.entries.get(ep);
        const t1 = nextTick(st.tick);
        if (d) d.tick = maxTick(d.tick, t1);
        else setDigestEntry(k.digest, { endpoint: st.endpoint, tick: t1, stamp: st.stamp, conflictPriority: head!.digest?.entries.get(ep)?.conflictPriority ?? 9 });
      }
      ctx.items.push(`<entry><id>${escapeText(e.atomId ?? '')}</id><http:httpStatus>${status}</http:httpStatus><http:httpMessage>${status === 201 ? 'Created' : status === 200 ? 'OK' : 'Unprocessable'}</http:httpMessage>${method ? `<http:httpMethod>${method}</http:httpMethod>` : ''}${diag}</entry>`);
    }
    if (next === undefined && head?.syncMode === 'catchUp' && head.digest) {
      for (const [ep, e] of head.digest.entries) {
        const d = k.digest.entries.get(ep);
        if (d) d.tick = maxTick(d.tick, e.tick);
        else setDigestEntry(k.digest, { ...e });
      }
      this.merges++;
    }
    void HTTP;
  }

  merges = 0;
}
