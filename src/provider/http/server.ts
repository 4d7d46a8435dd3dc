import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import { SdataError } from '../../protocol/errors.ts';
import { DEFAULT_MAX_ENTRY_BYTES, resolveLimits, type XmlLimits } from '../../xml/limits.ts';
import { handleChecksum, handleDatasetOp, health, type Health } from '../handlers/admin.ts';
import { AppliedCounts } from '../handlers/async-context.ts';
import { handleBatch } from '../handlers/batch.ts';
import type { Call, ProviderCore } from '../handlers/call.ts';
import { handleCollection, handleResource } from '../handlers/crud.ts';
import { handleDigest } from '../handlers/digest.ts';
import { handleLinked, handleLinkedBatch } from '../handlers/linked.ts';
import { handleResults } from '../handlers/results.ts';
import { handleSource } from '../handlers/source.ts';
import { handleTarget } from '../handlers/target.ts';
import type { Checksum } from '../store/admin.ts';
import { attachCheckpointer } from '../store/checkpointer.ts';
import type { Contexts } from '../store/contexts.ts';
import type { KindInfo } from '../store/repositories.ts';
import { STORE_DEFAULTS } from '../store/defaults.ts';
import { Store } from '../store/store.ts';
import { Authenticator, isLoopback, type AuthConfig } from './auth.ts';
import { PROVIDER_DEFAULTS as DEFAULTS } from './defaults.ts';
import { HttpProblem, sendProblem } from './http-io.ts';
import { applyIdleTimeout, checkRequest, DEFAULT_LIMITS, overloaded, serverOptions, type Limits } from './limits.ts';
import { parseRoute } from './routes.ts';

export interface ProviderOptions {
  /** SQLite file path, or ':memory:'. */
  db: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (an ephemeral port); the CLI defaults to 8080. */
  port?: number;
  /** Defaults: the store's, or hub / crm / '-' for a new store. */
  app?: string;
  contract?: string;
  dataset?: string;
  /** Kinds served. Default: the kinds the store has, or ['accounts'] for a new store. */
  kinds?: string[];
  /** conflictPriority of this endpoint in its own digest (default 5 for a new kind, docs/protocol.md A39; given = set). */
  priority?: number;
  /** Entries per source-feed and result-feed page when the URL does not say (default 1000). */
  pageSize?: number;
  /** Upper bound for a `count` parameter (default 10000). */
  maxPageSize?: number;
  /** Identity URL base, fixed at store creation (default http://localhost/sdata/{app}/{contract}/{dataset}); never derived from the port. */
  endpointBase?: string;
  /** Idle expiry of async contexts (default 10 minutes). */
  contextTtlMs?: number;
  /** Request bodies above this get 413 (default 64 MiB). */
  maxBodyBytes?: number;
  /** Single entries above this fail (default 16 MiB or maxBodyBytes, whichever is smaller). */
  maxEntryBytes?: number;
  /** Parsing limits for request bodies (xml/limits.ts): crossing one answers 400; default: the defaults. */
  limits?: Partial<XmlLimits>;
  /** pollingMillis advertised in tracking payloads (default 100). */
  pollingMillis?: number;
  /** Test hook: a $syncSource selection stays in its 202 "selecting" phase until this promise settles. */
  selectGate?: () => Promise<void>;
  /** Test hook: the clock of context expiry (default Date.now). */
  now?: () => number;
  /** SQLite page cache, MiB (default 8). */
  cacheMiB?: number;
  /** Store quota, MiB: writes that would grow the database file past it answer 507, as on a full disk (--max-db-mib). */
  maxDbMiB?: number;
  /** Test hook: how long a write waits for another connection's lock before 503 (default 5000 ms). */
  busyTimeoutMs?: number;
  /**
   * WAL checkpoints by another thread: serveCheckpoints() at the other end of this port (store/checkpointer.ts). Without
   * it, commits checkpoint the WAL themselves, as SQLite does by default.
   */
  checkpointPort?: MessagePort;
  /** Credentials every request must carry (auth.ts). None configured: no authentication. */
  auth?: AuthConfig;
  /** Listen on a non-loopback address without authentication (refused otherwise). */
  insecure?: boolean;
  /** HTTPS with this certificate chain and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Concurrency, header, URL and timeout limits of the HTTP server (limits.ts; defaults DEFAULT_LIMITS). */
  httpLimits?: Partial<Limits>;
  /** Where unexpected failures are logged, with their stack (default: stderr). Never given credentials. */
  log?: (line: string) => void;
}

export interface RunningProvider {
  /** Dataset base that serves HTTP, e.g. http://127.0.0.1:PORT/sdata/app/contract/- */
  url: string;
  /** Identity URL of a kind (what digests and syncStates name). */
  endpoint(kind: string): string;
  /** Async contexts currently alive ($syncSource + $syncTarget + $batch). */
  openContexts(): number;
  /** The same data as GET {url}/$health and GET {url}/{kind}/$checksum, without HTTP. */
  health(): Health;
  checksum(kind: string): Checksum;
  readonly store: Store;
  /** Authentication counters: scrypt verifications run, answers from the cache. */
  readonly authStats: { verifications: number; cacheHits: number };
  /** Graceful: stops accepting, lets in-flight requests finish, closes the database. */
  close(): Promise<void>;
}

export async function startProvider(opts: ProviderOptions): Promise<RunningProvider> {
  const host = opts.host ?? DEFAULTS.host;
  const auth = new Authenticator(opts.auth);
  if (!auth.required && !opts.insecure && !isLoopback(host)) {
    throw new SdataError('SDATA_E_USAGE', `refusing to listen on ${host} without authentication: anyone who reaches it could read and rewrite the store. ` +
      'Set SDATA_SERVE_TOKEN or SDATA_SERVE_USERS_FILE, listen on a loopback address, or pass --insecure');
  }
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.httpLimits };
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const store = new Store({
    db: opts.db,
    ...(opts.app === undefined ? {} : { app: opts.app }),
    ...(opts.contract === undefined ? {} : { contract: opts.contract }),
    ...(opts.dataset === undefined ? {} : { dataset: opts.dataset }),
    ...(opts.endpointBase === undefined ? {} : { endpointBase: opts.endpointBase }),
    ...(opts.priority === undefined ? {} : { priority: opts.priority }),
    ...(opts.cacheMiB === undefined ? {} : { cacheMiB: opts.cacheMiB }),
    ...(opts.maxDbMiB === undefined ? {} : { maxDbMiB: opts.maxDbMiB }),
    ...(opts.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: opts.busyTimeoutMs }),
    kinds: opts.kinds ?? [],
  });
  let served: Map<string, KindInfo>;
  let contexts: Contexts;
  try {
    if (!opts.kinds && store.kinds.length === 0) store.ensureKind(STORE_DEFAULTS.kind, opts.priority);
    const names = opts.kinds ?? store.kinds.map((k) => k.name);
    served = new Map(names.map((n) => [n, store.ensureKind(n, opts.priority)]));
    contexts = store.openContexts(opts.contextTtlMs ?? DEFAULTS.contextTtlMs, opts.now);
  } catch (e) {
    store.close();
    // The first writes happen here (kinds, restart recovery): a read-only or full store shows up now.
    throw store.openingError(e);
  }
  const detachCheckpointer = opts.checkpointPort ? attachCheckpointer(store, opts.checkpointPort) : () => undefined;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  const core: ProviderCore = {
    store, contexts, applied: new AppliedCounts(), ops: new Map(),
    pageSize: opts.pageSize ?? DEFAULTS.pageSize,
    maxPageSize: Math.max(opts.maxPageSize ?? DEFAULTS.maxPageSize, opts.pageSize ?? 0),
    maxBodyBytes,
    maxEntryBytes: opts.maxEntryBytes ?? Math.min(DEFAULT_MAX_ENTRY_BYTES, maxBodyBytes),
    limits: resolveLimits(opts.limits),
    pollingMillis: opts.pollingMillis ?? DEFAULTS.pollingMillis,
    selectGate: opts.selectGate,
  };
  const ds = { app: store.app, contract: store.contract, dataset: store.dataset };
  const scheme = opts.tls ? 'https' : 'http';
  let port = 0;
  let inFlight = 0;
  let closing: Promise<void> | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    try {
      checkRequest(req, limits, maxBodyBytes);
      const principal = await auth.principal(req.headers.authorization);
      const url = new URL(req.url ?? '/', 'http://provider.invalid');
      const route = parseRoute(url.pathname, ds);
      const serving = `${scheme}://${req.headers.host ?? hostPort(host, port)}/sdata/${ds.app}/${ds.contract}/${ds.dataset}`;
      if (route.kind === undefined) return handleDatasetOp(core, route.op, method, url.pathname, res, [...served.values()]);
      const kind = served.get(route.kind);
      if (!kind) throw new HttpProblem(404, `${url.pathname}: unknown resource kind '${route.kind}' (served: ${[...served.keys()].join(', ')})`, 'ResourceKindNotFound');
      const c: Call = { req, res, method, url, core, kind, collection: `${serving}/${kind.name}`, principal };
      switch (route.op) {
        case 'collection': return await handleCollection(c);
        case 'resource': return await handleResource(c, route.key!);
        case '$syncDigest': return await handleDigest(c);
        case '$syncSource': return await handleSource(c, route.context);
        case '$syncTarget': return await handleTarget(c, route.context);
        case '$syncResults': return await handleResults(c);
        case '$batch': return await handleBatch(c, route.context);
        case '$checksum': return handleChecksum(c);
        case '$linked': return await handleLinked(c, route.key);
        case '$linked/$batch': return await handleLinkedBatch(c, route.context);
      }
    } catch (e) {
      // A store fault raised outside a transaction (a read of a corrupt page, say) is classified here.
      const fault = store.fault(e);
      let answer = fault ?? e;
      if (fault) {
        // The operator's line names the file; the client's diagnosis does not.
        log(`sdata-sync provider: ${method} ${logTarget(req)}: ${store.path}: ${fault.message}`);
      } else if (!(e instanceof HttpProblem) && !(e instanceof SdataError) && !isClientGone(e)) {
        // A bug or an unforeseen failure: its message and stack are for the operator, not the client.
        const ref = randomBytes(4).toString('hex');
        log(`sdata-sync provider: internal error ${ref}: ${method} ${logTarget(req)}: ${(e as Error)?.stack ?? String(e)}`);
        answer = new HttpProblem(500, `internal error (reference ${ref}); the provider's log has the details`);
      }
      // An answer before the end of the body (a store fault, malformed XML) closes the connection after it: kept
      // open, the client's next request on it met a reset (seen: a POST after a 507 failed with ECONNRESET).
      reply(res, answer);
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
    });
    if (inFlight > limits.maxConcurrent) return reply(res, overloaded(limits));
    void handle(req, res);
  };
  const server: Server = opts.tls
    ? createTlsServer({ ...serverOptions(limits), cert: opts.tls.cert, key: opts.tls.key }, onRequest)
    : createServer(serverOptions(limits), onRequest);
  server.keepAliveTimeout = 5_000;
  applyIdleTimeout(server, limits);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  contexts.startSweeping();
  const url = `${scheme}://${hostPort(host, port)}/sdata/${ds.app}/${ds.contract}/${ds.dataset}`;

  return {
    url,
    store,
    authStats: auth.stats,
    endpoint(kind: string): string {
      const k = store.kind(kind);
      if (!k) throw new SdataError('SDATA_E_USAGE', `this provider has no kind '${kind}'`);
      return k.selfUrl;
    },
    openContexts: () => contexts.open(),
    health: () => health(core),
    checksum(kind: string): Checksum {
      const k = store.kind(kind);
      if (!k) throw new SdataError('SDATA_E_USAGE', `this provider has no kind '${kind}'`);
      return store.admin.checksum(k);
    },
    close(): Promise<void> {
      closing ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        // Idle keep-alive sockets would hold close() open; in-flight requests finish first (bounded wait).
        const deadline = Date.now() + 10_000;
        while (inFlight > 0 && Date.now() < deadline) {
          server.closeIdleConnections();
          await new Promise((r) => setTimeout(r, 20));
        }
        server.closeAllConnections();
        await closed;
        contexts.stop();
        detachCheckpointer();
        store.close();
      })();
      return closing;
    },
  };
}

function hostPort(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `${h}:${port}`;
}

/** An error answer; a body the request still has unread is not worth reading: the connection closes after it. */
function reply(res: ServerResponse, e: unknown): void {
  if (res.destroyed) return;
  sendProblem(res, e);
}

/** The request target for a log line, without its query (it may carry run names and cursors, not for logs). */
function logTarget(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0]!;
}

function isClientGone(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED' || code === 'EPIPE';
}
