import { MessageChannel, Worker } from 'node:worker_threads';
import { serveCheckpoints } from '../provider/store/checkpointer.ts';
import { SdataError, type SdataErrorCode } from '../protocol/errors.ts';
import type { ProviderOptions } from '../provider/http/server.ts';
import type { WorkerFailed, WorkerLog, WorkerReady } from '../provider/http/worker.ts';
import type { LogFields, LogLevel } from '../engine/log.ts';
import { runnable } from '../runtime/module-url.ts';
import type { COMMANDS, Input } from './commands.ts';
import { limitsFrom, loggerFrom, stderrLine } from './common.ts';
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
  // Text as it always was (`sdata-sync serve: …`, the provider's own `sdata-sync provider: …`), or the JSON log schema.
  const log = loggerFrom({ logFormat: values.logFormat });
  const say = (level: LogLevel, who: 'serve' | 'provider', text: string, fields: LogFields = {}): void => {
    if (log.format === 'json') log.record(level, text, fields);
    else stderrLine(`sdata-sync ${who}: ${text}`);
  };
  // The worker's messages: its lines for the operator at any time, and the answers the steps below wait for.
  const answers: Array<WorkerReady | WorkerFailed | { type: 'closed' }> = [];
  let answered: (() => void) | undefined;
  worker.on('message', (m: WorkerReady | WorkerFailed | WorkerLog | { type: 'closed' }) => {
    if (m.type === 'log') say('error', 'provider', m.message);
    else {
      answers.push(m);
      answered?.();
    }
  });
  const answer = async (): Promise<WorkerReady | WorkerFailed | { type: 'closed' }> => {
    while (answers.length === 0) await new Promise<void>((resolve) => (answered = resolve));
    return answers.shift()!;
  };
  const first = await answer() as WorkerReady | WorkerFailed;
  if (first.type === 'error') {
    await worker.terminate();
    ckpt?.port1.close();
    throw new SdataError((first.code as SdataErrorCode | undefined) ?? 'SDATA_E_IO', first.message);
  }
  process.stdout.write(`${first.url}\n`);
  for (const k of first.kinds) process.stdout.write(`  ${first.url}/${k.name}    endpoint ${k.endpoint}\n`);
  say('info', 'serve', `store ${values.db}; ${securitySummary(opts)}; Ctrl-C to stop`, { event: 'start', url: first.url });
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
  say('info', 'serve', `${why}: finishing in-flight requests`);
  worker.postMessage('close');
  await answer();
  await worker.terminate();
  ckpt?.port1.close();
  say('info', 'serve', 'stopped, database closed', { event: 'summary', exitCode: EXIT.OK });
  return EXIT.OK;
}

