import { once } from 'node:events';
import { MessageChannel, Worker } from 'node:worker_threads';
import { serveCheckpoints } from '../provider/store/checkpointer.ts';
import { SdataError, type SdataErrorCode } from '../protocol/errors.ts';
import type { ProviderOptions } from '../provider/http/server.ts';
import type { WorkerFailed, WorkerReady } from '../provider/http/worker.ts';
import { runnable } from '../runtime/module-url.ts';
import type { COMMANDS, Input } from './commands.ts';
import { limitsFrom, stderrLine } from './common.ts';
import { EXIT } from './exit-codes.ts';
import { securityOptions, securitySummary } from './serve-security.ts';
import { handleSignals } from './signals.ts';

/** `sdata-sync serve`: options and help in commands.ts. */
export async function run({ values }: Input<typeof COMMANDS.serve>): Promise<number> {
  const opts: ProviderOptions = {
    db: values.db,
    port: values.port,
    host: values.host,
    ...(values.app === undefined ? {} : { app: values.app }),
    ...(values.contract === undefined ? {} : { contract: values.contract }),
    ...(values.dataset === undefined ? {} : { dataset: values.dataset }),
    ...(values.kinds === undefined ? {} : { kinds: values.kinds }),
    ...(values.priority === undefined ? {} : { priority: values.priority }),
    ...(values.endpointBase === undefined ? {} : { endpointBase: values.endpointBase }),
    pageSize: values.pageSize,
    contextTtlMs: values.contextTtl,
    maxBodyBytes: values.maxBody,
    pollingMillis: values.pollingMillis,
    cacheMiB: values.cacheMb,
    maxEntryBytes: values.maxEntryBytes,
    limits: limitsFrom(values),
    ...securityOptions(values),
    ...(values.maxDbMib === undefined ? {} : { maxDbMiB: values.maxDbMib }),
  };
  // The provider thread's heap is bounded (commands.ts: --young-gen-mb, --old-gen-mb, measured there).
  const youngMb = values.youngGenMb;
  const oldMb = values.oldGenMb;
  // This thread only waits for signals: it also checkpoints the store's WAL, so that the provider's commits never
  // stop for it (checkpointer.ts; 1M entries applied: 25k instead of 21k entries/s).
  const ckpt = opts.db === ':memory:' ? undefined : new MessageChannel();
  if (ckpt) serveCheckpoints(ckpt.port1, opts.db);
  const worker = new Worker(runnable(new URL('../provider/http/worker.ts', import.meta.url)), {
    workerData: ckpt ? { ...opts, checkpointPort: ckpt.port2 } : opts,
    transferList: ckpt ? [ckpt.port2] : [],
    resourceLimits: { maxYoungGenerationSizeMb: youngMb, maxOldGenerationSizeMb: oldMb },
  });
  const [first] = await once(worker, 'message') as [WorkerReady | WorkerFailed];
  if (first.type === 'error') {
    await worker.terminate();
    ckpt?.port1.close();
    throw new SdataError((first.code as SdataErrorCode | undefined) ?? 'SDATA_E_IO', first.message);
  }
  process.stdout.write(`${first.url}\n`);
  for (const k of first.kinds) process.stdout.write(`  ${first.url}/${k.name}    endpoint ${k.endpoint}\n`);
  stderrLine(`sdata-sync serve: store ${values.db}; ${securitySummary(opts)}; Ctrl-C to stop`);
  let failure: NodeJS.ErrnoException | undefined;
  worker.on('error', (e: NodeJS.ErrnoException) => {
    failure = e;
  });
  const stopped = new Promise<NodeJS.Signals | 'exit'>((resolve) => {
    let stopping = false;
    // Signals that came while the provider started are handled here (signals.ts): the store is closed cleanly.
    handleSignals((s) => {
      // A second signal while closing: stop now.
      if (stopping) process.exit(EXIT.INTERRUPTED);
      stopping = true;
      resolve(s);
    });
    worker.once('exit', () => resolve('exit'));
  });
  const why = await stopped;
  if (why === 'exit') {
    throw new SdataError('SDATA_E_IO', `the provider stopped unexpectedly: ${failure?.message ?? 'no reason given'}${failure?.code === 'ERR_WORKER_OUT_OF_MEMORY' ? ' (see --old-gen-mb)' : ''}`);
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

