import { once } from 'node:events';
import { MessageChannel, Worker } from 'node:worker_threads';
import { serveCheckpoints } from '../provider/store/checkpointer.ts';
import { SdataError, type SdataErrorCode } from '../protocol/errors.ts';
import type { ProviderOptions } from '../provider/http/server.ts';
import type { WorkerFailed, WorkerReady } from '../provider/http/worker.ts';
import { LIMIT_OPTIONS, LIMITS_HELP, limitsFrom, parse, parseCount, parseSize, stderrLine } from './common.ts';
import { EXIT } from './exit-codes.ts';

export const SERVE_HELP = `Usage: sdata-sync serve --db FILE [options]

Runs the reference SData sync provider on a SQLite store (created if missing) until SIGINT/SIGTERM, then
finishes in-flight requests and closes the database. Prints the URLs it serves on stdout.

Per kind it serves, under http://HOST:PORT/sdata/APP/CONTRACT/DATASET/KIND:
  \$syncDigest (GET, PUT), \$syncSource, \$syncTarget (async with trackingID), \$syncResults, \$batch,
  the collection and single resources (GET, POST, PUT with If-Match, DELETE), \$checksum (JSON);
  and per dataset \$schema and \$health (JSON).

Options:
  --db FILE              SQLite database file (':memory:' for a throw-away store)
  --port N               listening port (default 8080; 0 = any free port)
  --host ADDR            listening address (default 127.0.0.1)
  --app NAME             application segment (default: the store's, or 'hub')
  --contract NAME        contract segment (default: the store's, or 'crm')
  --dataset NAME         dataset segment (default: the store's, or '-')
  --kinds LIST           kinds served, comma-separated, in sync order (default: the store's, or 'accounts')
  --priority N           this endpoint's conflictPriority in its own digest, 1..9 (default 5 for new kinds)
  --page-size N          entries per source and result page (default 1000)
  --endpoint-base URL    identity of this endpoint in digests and syncStates; fixed when the store is created
                         (default http://localhost/sdata/APP/CONTRACT/DATASET; never the listening port)
  --context-ttl SECONDS  idle time after which async contexts expire (default 600)
  --max-body SIZE        larger request bodies get 413 (default 64MiB)
  --max-entry-bytes SIZE larger entries in posted feeds are refused one by one; a larger one-entry body gets 413
                         (default 16MiB)
  --polling-millis N     pollingMillis advertised while work is in progress (default 100)
  --young-gen-mb N       V8 young generation of the provider thread, MiB (default 16; keeps RSS flat)
  --old-gen-mb N         V8 old generation bound of the provider thread, MiB (default 64)
  --cache-mb N           SQLite page cache, MiB (default 4)
  -h, --help

${LIMITS_HELP.replace('exit 3', 'answered 400')}`;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    db: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    app: { type: 'string' },
    contract: { type: 'string' },
    dataset: { type: 'string' },
    kinds: { type: 'string' },
    priority: { type: 'string' },
    'page-size': { type: 'string' },
    'endpoint-base': { type: 'string' },
    'context-ttl': { type: 'string' },
    'max-body': { type: 'string' },
    'max-entry-bytes': { type: 'string' },
    ...LIMIT_OPTIONS,
    'polling-millis': { type: 'string' },
    'young-gen-mb': { type: 'string' },
    'old-gen-mb': { type: 'string' },
    'cache-mb': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  }, 'serve');
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return EXIT.OK;
  }
  if (positionals.length > 0) throw new SdataError('SDATA_E_USAGE', `serve: unexpected argument '${positionals[0]}'`);
  if (!values.db) throw new SdataError('SDATA_E_USAGE', "serve: --db FILE is required (see 'sdata-sync serve --help')");
  const priority = values.priority === undefined ? undefined : parseCount(values.priority, '--priority');
  if (priority !== undefined && priority > 9) throw new SdataError('SDATA_E_USAGE', '--priority: conflict priorities are 1..9');
  const kinds = values.kinds?.split(',').map((k) => k.trim()).filter((k) => k !== '');
  const opts: ProviderOptions = {
    db: values.db,
    port: values.port === undefined ? 8080 : parseCount(values.port, '--port', 0),
    host: values.host ?? '127.0.0.1',
    ...(values.app === undefined ? {} : { app: values.app }),
    ...(values.contract === undefined ? {} : { contract: values.contract }),
    ...(values.dataset === undefined ? {} : { dataset: values.dataset }),
    ...(kinds === undefined ? {} : { kinds }),
    ...(priority === undefined ? {} : { priority }),
    ...(values['page-size'] === undefined ? {} : { pageSize: parseCount(values['page-size'], '--page-size') }),
    ...(values['endpoint-base'] === undefined ? {} : { endpointBase: values['endpoint-base'] }),
    ...(values['context-ttl'] === undefined ? {} : { contextTtlMs: parseCount(values['context-ttl'], '--context-ttl') * 1000 }),
    ...(values['max-body'] === undefined ? {} : { maxBodyBytes: parseSize(values['max-body'], '--max-body') }),
    ...(values['max-entry-bytes'] === undefined ? {} : { maxEntryBytes: parseSize(values['max-entry-bytes'], '--max-entry-bytes') }),
    limits: limitsFrom(values),
    ...(values['polling-millis'] === undefined ? {} : { pollingMillis: parseCount(values['polling-millis'], '--polling-millis', 0) }),
    cacheMiB: values['cache-mb'] === undefined ? DEFAULT_CACHE_MB : parseCount(values['cache-mb'], '--cache-mb'),
  };
  const youngMb = values['young-gen-mb'] === undefined ? DEFAULT_YOUNG_GEN_MB : parseCount(values['young-gen-mb'], '--young-gen-mb');
  const oldMb = values['old-gen-mb'] === undefined ? DEFAULT_OLD_GEN_MB : parseCount(values['old-gen-mb'], '--old-gen-mb', 32);
  // This thread only waits for signals: it also checkpoints the store's WAL, so that the provider's commits never
  // stop for it (checkpointer.ts; 1M entries applied: 25k instead of 21k entries/s).
  const ckpt = opts.db === ':memory:' ? undefined : new MessageChannel();
  if (ckpt) serveCheckpoints(ckpt.port1, opts.db);
  const worker = new Worker(new URL('../provider/http/worker.ts', import.meta.url), {
    workerData: ckpt ? { ...opts, checkpointPort: ckpt.port2 } : opts,
    transferList: ckpt ? [ckpt.port2] : [],
    resourceLimits: { maxYoungGenerationSizeMb: youngMb, maxOldGenerationSizeMb: oldMb },
  });
  const [first] = await once(worker, 'message') as [WorkerReady | WorkerFailed];
  if (first.type === 'error') {
    await worker.terminate();
    ckpt?.port1.close();
    throw new SdataError((first.code as SdataErrorCode | undefined) ?? 'SDATA_E_IO', `serve: ${first.message}`);
  }
  process.stdout.write(`${first.url}\n`);
  for (const k of first.kinds) process.stdout.write(`  ${first.url}/${k.name}    endpoint ${k.endpoint}\n`);
  stderrLine(`sdata-sync serve: store ${values.db}; Ctrl-C to stop`);
  let failure: NodeJS.ErrnoException | undefined;
  worker.on('error', (e: NodeJS.ErrnoException) => {
    failure = e;
  });
  const stopped = new Promise<NodeJS.Signals | 'exit'>((resolve) => {
    const stop = (s: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // A second signal while closing: stop now.
      process.once('SIGINT', () => process.exit(EXIT.INTERRUPTED));
      process.once('SIGTERM', () => process.exit(EXIT.INTERRUPTED));
      resolve(s);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    worker.once('exit', () => resolve('exit'));
  });
  const why = await stopped;
  if (why === 'exit') {
    throw new SdataError('SDATA_E_IO', `serve: the provider stopped unexpectedly: ${failure?.message ?? 'no reason given'}${failure?.code === 'ERR_WORKER_OUT_OF_MEMORY' ? ' (see --old-gen-mb)' : ''}`);
  }
  stderrLine(`sdata-sync serve: ${why}: finishing in-flight requests`);
  const closed = once(worker, 'message');
  worker.postMessage('close');
  await closed;
  await worker.terminate();
  ckpt?.port1.close();
  stderrLine('sdata-sync serve: stopped, database closed');
  return EXIT.OK;
}

/**
 * The provider thread's V8 heap bounds, in MiB. Under a steady request load V8 grows the young generation to
 * 64 MiB and lets the old one reach 80–125 MiB around a live set of ~20 MiB. Bounded, the server's RSS stays
 * within its 200 MiB budget and flat with the store size, at the price of more GC. Measured by bench/provider.ts,
 * target applying (peak RSS MiB, CPU-s): 300k entries unbounded 280 / 13.4, 16/96 193 / 14.8, 32/96 209 / 12.2;
 * 1M entries 32/96 214 / 44.3, 32/64 193 / 50.4 (--old-gen-mb 96 trades ~15 MiB for ~12% less CPU). A larger young
 * generation lets more per-entry garbage die young: 48/64 (then the default) measured 12.2 CPU-s at 300k (32/64: 13.6)
 * and 194 / 46.0 at 1M with the same RSS; 64/64 was worse (fuller old space, longer major GCs).
 * Since WAL checkpoints moved off the provider thread (checkpointer.ts) the young size no longer shows in the
 * throughput: 16/64 (now the default) applied 26.6k / 26.3k / 24.2k entries/s at 100k / 250k / 1M with a target
 * peak of 169 / 167 / 170 MiB; 48/64 gave 25.6k / 24.3k at 100k / 1M but reached its steady RSS only in longer
 * runs (144-171 MiB at 100k, 167-175 at 1M). The old bound leaves room for entries at the 16 MiB size cap (three
 * 15 MiB non-ASCII entries in one page apply with 64). Exceeding it ends the worker, and `serve` with it, with a
 * clear message.
 */
const DEFAULT_YOUNG_GEN_MB = 16;
const DEFAULT_OLD_GEN_MB = 64;
const DEFAULT_CACHE_MB = 4;
