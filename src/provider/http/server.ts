import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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
import { handleResults } from '../handlers/results.ts';
import { handleSource } from '../handlers/source.ts';
import { handleTarget } from '../handlers/target.ts';
import type { Checksum } from '../store/admin.ts';
import { attachCheckpointer } from '../store/checkpointer.ts';
import type { Contexts } from '../store/contexts.ts';
import type { KindInfo } from '../store/repositories.ts';
import { Store } from '../store/store.ts';
import { HttpProblem, sendProblem } from './http-io.ts';
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
  /** Test hook: a $syncSource context stays in its 202 "selecting" phase this long (default 0). */
  selectDelayMs?: number;
  /** SQLite page cache, MiB (default 8). */
  cacheMiB?: number;
  /**
   * WAL checkpoints by another thread: serveCheckpoints() at the other end of this port (store/checkpointer.ts). Without
   * it, commits checkpoint the WAL themselves, as SQLite does by default.
   */
  checkpointPort?: MessagePort;
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
  /** Graceful: stops accepting, lets in-flight requests finish, closes the database. */
  close(): Promise<void>;
}

const DEFAULTS = {
  host: '127.0.0.1',
  pageSize: 1000,
  maxPageSize: 10_000,
  contextTtlMs: 10 * 60_000,
  maxBodyBytes: 64 * 1024 * 1024,
  pollingMillis: 100,
};

export async function startProvider(opts: ProviderOptions): Promise<RunningProvider> {
  const store = new Store({
    db: opts.db,
    ...(opts.app === undefined ? {} : { app: opts.app }),
    ...(opts.contract === undefined ? {} : { contract: opts.contract }),
    ...(opts.dataset === undefined ? {} : { dataset: opts.dataset }),
    ...(opts.endpointBase === undefined ? {} : { endpointBase: opts.endpointBase }),
    ...(opts.priority === undefined ? {} : { priority: opts.priority }),
    ...(opts.cacheMiB === undefined ? {} : { cacheMiB: opts.cacheMiB }),
    kinds: opts.kinds ?? [],
  });
  let served: Map<string, KindInfo>;
  let contexts: Contexts;
  try {
    if (!opts.kinds && store.kinds.length === 0) store.ensureKind('accounts', opts.priority);
    const names = opts.kinds ?? store.kinds.map((k) => k.name);
    served = new Map(names.map((n) => [n, store.ensureKind(n, opts.priority)]));
    contexts = store.openContexts(opts.contextTtlMs ?? DEFAULTS.contextTtlMs);
  } catch (e) {
    store.close();
    throw e;
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
    selectDelayMs: opts.selectDelayMs ?? 0,
  };
  const ds = { app: store.app, contract: store.contract, dataset: store.dataset };
  const host = opts.host ?? DEFAULTS.host;
  let port = 0;
  let inFlight = 0;
  let closing: Promise<void> | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    try {
      const url = new URL(req.url ?? '/', 'http://provider.invalid');
      const route = parseRoute(url.pathname, ds);
      const serving = `http://${req.headers.host ?? hostPort(host, port)}/sdata/${ds.app}/${ds.contract}/${ds.dataset}`;
      if (route.kind === undefined) return handleDatasetOp(core, route.op, method, url.pathname, res, [...served.values()]);
      const kind = served.get(route.kind);
      if (!kind) throw new HttpProblem(404, `${url.pathname}: unknown resource kind '${route.kind}' (served: ${[...served.keys()].join(', ')})`, 'ResourceKindNotFound');
      const c: Call = { req, res, method, url, core, kind, collection: `${serving}/${kind.name}` };
      switch (route.op) {
        case 'collection': return await handleCollection(c);
        case 'resource': return await handleResource(c, route.key!);
        case '$syncDigest': return await handleDigest(c);
        case '$syncSource': return await handleSource(c, route.context);
        case '$syncTarget': return await handleTarget(c, route.context);
        case '$syncResults': return await handleResults(c);
        case '$batch': return await handleBatch(c, route.context);
        case '$checksum': return handleChecksum(c);
      }
    } catch (e) {
      if (!(e instanceof HttpProblem) && !(e instanceof SdataError) && !isClientGone(e)) {
        process.emitWarning(`sdata-sync provider: ${method} ${req.url}: ${(e as Error)?.stack ?? String(e)}`);
      }
      if (!res.destroyed) sendProblem(res, e);
    }
  };

  const server: Server = createServer((req, res) => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
    });
    void handle(req, res);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  contexts.startSweeping();
  const url = `http://${hostPort(host, port)}/sdata/${ds.app}/${ds.contract}/${ds.dataset}`;

  return {
    url,
    store,
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

function isClientGone(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED' || code === 'EPIPE';
}
