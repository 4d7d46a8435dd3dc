import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline, Transform, type TransformCallback } from 'node:stream';

/**
 * A loopback HTTP proxy between the engine and one provider that misbehaves on request: each rule picks requests
 * by method, path pattern and occurrence, and does one thing to them. Everything else is forwarded unchanged. It
 * counts the bytes it relays and logs every fault it applies, so that a harness can wait on what it saw (bytes,
 * requests) instead of sleeping, and report what it did.
 *
 * The upstream can be changed at any time (a provider restarted on another port) or be down: a request that cannot
 * be relayed gets its connection reset, as a load balancer in front of a dead server would do.
 */

export type Fault =
  /** RST on the client's connection: before anything reaches the provider, or after the provider answered (the answer is lost). */
  | { type: 'reset'; when: 'before-upstream' | 'after-upstream' }
  /** The response's head and `afterBytes` of its body, then RST. */
  | { type: 'reset-mid-body'; afterBytes: number }
  /**
   * The response body ends after `afterBytes`. `clean`: the HTTP framing says the body is complete (chunked with its
   * terminator), only the document is cut. `close`: the declared length is kept and the connection closed (FIN).
   */
  | { type: 'truncate'; afterBytes: number; framing: 'clean' | 'close' }
  /** The response head is sent `ms` late. */
  | { type: 'delay-headers'; ms: number }
  /** The response body stalls for `ms` after `afterBytes`. */
  | { type: 'delay-body'; afterBytes: number; ms: number }
  /** Answered by the proxy (the provider never sees the request) with this status and Retry-After. */
  | { type: 'status'; status: number; retryAfter?: string }
  /**
   * Answered by the proxy with 202, a tracking payload, and a Location that is the request's own URL (`self`) or a
   * new alias of the same context each time (`new`; requests to an alias reach the real context).
   */
  | { type: 'loop-location'; to: 'self' | 'new' }
  /** Answered by the proxy with 202 and a tracking payload that never reports completion, no Location. */
  | { type: 'never-finish' }
  /** The request body (a slow target reading a chunk) or the response body, at `bytesPerSecond`. */
  | { type: 'throttle'; bytesPerSecond: number; direction: 'request' | 'response' }
  /** Never answered; the connection stays open until the client gives up or the proxy closes. */
  | { type: 'hold' };

export interface Rule {
  /** Default: any method. */
  method?: string;
  /** Tested against the request path with its query, percent-decoded (aliases resolved). */
  path: RegExp;
  /** The first matching occurrence the fault applies to, 1-based (default 1). */
  nth?: number;
  /** Consecutive matching occurrences from `nth` (default 1; Infinity for every one). */
  times?: number;
  fault: Fault;
}

export interface RequestRecord {
  n: number;
  method: string;
  /** Decoded path with query, aliases resolved. */
  path: string;
  /** Request body bytes relayed to the provider. */
  bytesUp: number;
  /** Response bytes (body) relayed to the client. */
  bytesDown: number;
  status: number | undefined;
  fault: string | undefined;
  /** The request was relayed and its response relayed to the end. */
  done: boolean;
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer'];
const ALIAS_PREFIX = '/__fault-proxy__/ctx/';

interface RuleState {
  rule: Rule;
  seen: number;
}

export function describeFault(f: Fault): string {
  switch (f.type) {
    case 'reset': return `reset ${f.when}`;
    case 'reset-mid-body': return `reset after ${f.afterBytes} body bytes`;
    case 'truncate': return `body truncated after ${f.afterBytes} bytes (${f.framing === 'clean' ? 'clean framing' : 'declared length, FIN'})`;
    case 'delay-headers': return `headers delayed ${f.ms} ms`;
    case 'delay-body': return `body stalled ${f.ms} ms after ${f.afterBytes} bytes`;
    case 'status': return `answered ${f.status}${f.retryAfter === undefined ? '' : ` Retry-After: ${f.retryAfter}`}`;
    case 'loop-location': return `202 with Location to ${f.to === 'self' ? 'itself' : 'a new alias'}`;
    case 'never-finish': return '202, never finishing';
    case 'throttle': return `${f.direction} body throttled to ${f.bytesPerSecond} B/s`;
    case 'hold': return 'held unanswered';
  }
}

const decode = (p: string): string => {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
};

export class FaultProxy extends EventEmitter {
  readonly name: string;
  upstream: { host: string; port: number } | undefined;
  readonly requests: RequestRecord[] = [];
  /** What the proxy did, one line per fault (and per request it could not relay). */
  readonly log: string[] = [];
  bytesUp = 0;
  bytesDown = 0;
  private rules: RuleState[] = [];
  private readonly server: http.Server;
  private readonly aliases = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sockets = new Set<Socket>();
  private port = 0;
  private closed = false;

  constructor(name: string, upstream?: { host: string; port: number }) {
    super();
    this.name = name;
    this.upstream = upstream;
    this.server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        this.note(undefined, `proxy error: ${(e as Error).message}`);
        req.socket?.destroy();
      });
    });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The URL a client uses to reach `url` (a provider URL) through this proxy. */
  via(url: string): string {
    const u = new URL(url);
    return `${this.origin}${u.pathname}${u.search}`;
  }

  setRules(rules: Rule[]): void {
    this.rules = rules.map((rule) => ({ rule, seen: 0 }));
  }

  addRule(rule: Rule): void {
    this.rules.push({ rule, seen: 0 });
  }

  /** Rules, counters, records, aliases and log cleared: a fresh proxy on the same port. */
  reset(): void {
    this.rules = [];
    this.requests.length = 0;
    this.log.length = 0;
    this.aliases.clear();
    this.bytesUp = 0;
    this.bytesDown = 0;
  }

  /** Resolves once `cond` holds, re-checked after every request, byte and fault; rejects after `timeoutMs`. */
  until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} proxy: no ${what} within ${timeoutMs} ms (saw ${this.requests.length} requests, ${this.bytesDown} bytes down, ${this.bytesUp} up)`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.off('change', check);
      };
      this.on('change', check);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private changed(): void {
    this.emit('change');
  }

  private note(rec: RequestRecord | undefined, what: string): void {
    const line = rec ? `${this.name} #${rec.n} ${rec.method} ${rec.path}: ${what}` : `${this.name}: ${what}`;
    this.log.push(line);
    this.emit('fault', line);
    this.changed();
  }

  private match(method: string, path: string): Fault | undefined {
    for (const st of this.rules) {
      const r = st.rule;
      if (r.method !== undefined && r.method !== method) continue;
      if (!r.path.test(path)) continue;
      st.seen++;
      const first = r.nth ?? 1;
      const last = first + (r.times ?? 1) - 1;
      if (st.seen >= first && st.seen <= last) return r.fault;
    }
    return undefined;
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = req.url ?? '/';
    const realRaw = raw.startsWith(ALIAS_PREFIX) ? this.aliases.get(raw.slice(ALIAS_PREFIX.length).split('?')[0]!) ?? raw : raw;
    const rec: RequestRecord = { n: this.requests.length + 1, method: req.method ?? 'GET', path: decode(realRaw), bytesUp: 0, bytesDown: 0, status: undefined, fault: undefined, done: false };
    this.requests.push(rec);
    this.changed();
    const fault = this.match(rec.method, rec.path);
    if (fault) {
      rec.fault = describeFault(fault);
      this.note(rec, rec.fault);
    }
    switch (fault?.type) {
      case 'reset':
        if (fault.when === 'before-upstream') {
          resetClient(req.socket);
          return;
        }
        break;
      case 'status':
        await drain(req);
        rec.status = fault.status;
        res.writeHead(fault.status, { 'content-type': 'text/plain', ...(fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter }) });
        res.end(`fault proxy: ${fault.status}\n`, () => this.finish(rec));
        return;
      case 'loop-location':
      case 'never-finish': {
        await drain(req);
        const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/xml' };
        if (fault.type === 'loop-location') {
          if (fault.to === 'self') headers['location'] = `${this.origin}${raw}`;
          else {
            const id = String(this.aliases.size + 1);
            this.aliases.set(id, realRaw);
            headers['location'] = `${this.origin}${ALIAS_PREFIX}${id}`;
          }
        }
        rec.status = 202;
        res.writeHead(202, headers);
        res.end(TRACKING, () => this.finish(rec));
        return;
      }
      case 'hold':
        req.resume();
        return;
      default:
        break;
    }
    await this.forward(req, res, rec, realRaw, fault);
  }

  private finish(rec: RequestRecord): void {
    rec.done = true;
    this.changed();
  }

  private async forward(req: http.IncomingMessage, res: http.ServerResponse, rec: RequestRecord, path: string, fault: Fault | undefined): Promise<void> {
    // Node detaches the socket from req/res once a response is done or fails: keep it to reset it.
    const client = req.socket;
    const up = this.upstream;
    if (!up || this.closed) {
      this.note(rec, 'no upstream: connection reset');
      resetClient(client);
      return;
    }
    // The Host header is the proxy's: a provider that builds its URLs (Location, next links) from it keeps the client on this side.
    const headers: http.OutgoingHttpHeaders = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    const ureq = http.request({ host: up.host, port: up.port, method: rec.method, path, headers, agent: false });
    const counted = new Counter((n) => {
      rec.bytesUp += n;
      this.bytesUp += n;
      this.changed();
    });
    let failed = false;
    const fail = (why: string): void => {
      if (failed) return;
      failed = true;
      this.note(rec, `${why}: connection reset`);
      ureq.destroy();
      resetClient(client);
    };
    const relayed = (e: Error | null | undefined): void => {
      if (e && !rec.done) fail(`request not relayed (${(e as NodeJS.ErrnoException).code ?? e.message})`);
    };
    if (fault?.type === 'throttle' && fault.direction === 'request') pipeline(req, new Throttle(fault.bytesPerSecond, this), counted, ureq, relayed);
    else pipeline(req, counted, ureq, relayed);
    ureq.on('error', (e: NodeJS.ErrnoException) => fail(`upstream ${e.code ?? e.message}`));
    const ures = await new Promise<http.IncomingMessage | undefined>((resolve) => {
      ureq.once('response', resolve);
      ureq.once('error', () => resolve(undefined));
      ureq.once('close', () => resolve(undefined));
    });
    if (!ures || failed) return;
    ures.on('error', (e: NodeJS.ErrnoException) => fail(`upstream response ${e.code ?? e.message}`));
    rec.status = ures.statusCode;
    if (fault?.type === 'reset' && fault.when === 'after-upstream') {
      ures.resume();
      failed = true;
      ures.once('end', () => {
        this.note(rec, `provider answered ${ures.statusCode}; answer dropped, connection reset`);
        resetClient(client);
      });
      return;
    }
    const out: http.OutgoingHttpHeaders = { ...ures.headers };
    for (const h of HOP_BY_HOP) delete out[h];
    if (fault?.type === 'truncate' && fault.framing === 'clean') delete out['content-length'];
    if (fault?.type === 'delay-headers') await this.wait(fault.ms);
    if (res.destroyed) {
      ures.destroy();
      return;
    }
    res.writeHead(ures.statusCode ?? 502, out);
    const cutAt = fault?.type === 'reset-mid-body' || fault?.type === 'truncate' || fault?.type === 'delay-body' ? fault.afterBytes : Infinity;
    const rate = fault?.type === 'throttle' && fault.direction === 'response' ? fault.bytesPerSecond : undefined;
    let sent = 0;
    let stalled = false;
    try {
      for await (const chunk of ures) {
        let b = chunk as Buffer;
        if (res.destroyed) break;
        if (sent + b.length >= cutAt && !stalled) {
          const head = b.subarray(0, cutAt - sent);
          await this.write(res, rec, head);
          sent += head.length;
          if (fault?.type === 'delay-body') {
            stalled = true;
            await this.wait(fault.ms);
            b = b.subarray(head.length);
          } else if (fault?.type === 'reset-mid-body') {
            failed = true;
            ures.destroy();
            resetClient(client);
            return;
          } else if (fault?.type === 'truncate') {
            failed = true;
            ures.destroy();
            if (fault.framing === 'clean') res.end(() => this.finish(rec));
            else client.end();
            return;
          }
        }
        if (rate !== undefined) await this.wait((b.length / rate) * 1000);
        if (b.length > 0 && !res.destroyed) await this.write(res, rec, b);
        sent += b.length;
      }
    } catch (e) {
      if (!failed) fail(`upstream body ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return;
    }
    if (!res.destroyed) res.end(() => this.finish(rec));
  }

  private async write(res: http.ServerResponse, rec: RequestRecord, b: Buffer): Promise<void> {
    if (b.length === 0) return;
    const ok = res.write(b);
    rec.bytesDown += b.length;
    this.bytesDown += b.length;
    this.changed();
    if (!ok && !res.destroyed) {
      await new Promise<void>((resolve) => {
        const go = (): void => {
          res.off('drain', go);
          res.off('close', go);
          resolve();
        };
        res.once('drain', go);
        res.once('close', go);
      });
    }
  }

  /** For Throttle: timers the proxy clears when it closes. */
  schedule(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

/** The tracking payload of the proxy's own 202s (core 3.11), written by hand: a foreign provider's wording. */
const TRACKING = '<?xml version="1.0" encoding="utf-8"?>\n<sdata:tracking xmlns:sdata="http://schemas.sage.com/sdata/2008/1">' +
  '<sdata:phase>Held by the fault proxy</sdata:phase><sdata:progress>10</sdata:progress><sdata:elapsedSeconds>1</sdata:elapsedSeconds>' +
  '<sdata:remainingSeconds>5</sdata:remainingSeconds><sdata:pollingMillis>20</sdata:pollingMillis></sdata:tracking>\n';

/** RST on the client's connection (if it is still there: the client may have gone first). */
function resetClient(s: Socket | null | undefined): void {
  if (s && !s.destroyed) s.resetAndDestroy();
}

function drain(req: http.IncomingMessage): Promise<void> {
  if (req.complete) return Promise.resolve();
  return new Promise((resolve) => {
    req.on('end', resolve);
    req.on('close', resolve);
    req.resume();
  });
}

class Counter extends Transform {
  private readonly count: (n: number) => void;
  constructor(count: (n: number) => void) {
    super();
    this.count = count;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count(chunk.length);
    cb(null, chunk);
  }
}

/** Passes bytes on at a bounded rate, in slices of ~1/20 s, so that the writer upstream feels backpressure. */
class Throttle extends Transform {
  private readonly rate: number;
  private readonly proxy: FaultProxy;
  private nextAt = Date.now();
  constructor(bytesPerSecond: number, proxy: FaultProxy) {
    super({ highWaterMark: 1024 });
    this.rate = bytesPerSecond;
    this.proxy = proxy;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const slice = Math.max(1, Math.floor(this.rate / 20));
    const step = (off: number): void => {
      if (off >= chunk.length) return cb();
      const part = chunk.subarray(off, off + slice);
      this.nextAt = Math.max(this.nextAt, Date.now()) + (part.length / this.rate) * 1000;
      this.push(part);
      this.proxy.schedule(Math.max(0, this.nextAt - Date.now()), () => step(off + part.length));
    };
    step(0);
  }
}
