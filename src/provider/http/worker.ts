import { parentPort, workerData } from 'node:worker_threads';
import { isSdataError } from '../../protocol/errors.ts';
import { startProvider, type ProviderOptions, type RunningProvider } from './server.ts';

/**
 * `sdata-sync serve` runs the provider in this worker thread so that it gets its own V8 heap limits (see
 * runProviderInWorker): a bounded young generation keeps the server's resident set small and flat, which a
 * process cannot ask for after it has started (V8 reads --max-semi-space-size once).
 *
 * Protocol with the parent: → { ready, url, kinds } or { error }; ← 'close' → { closed }; and at any time → { log }:
 * a line for the operator (the parent writes it in its log format).
 */

export interface WorkerReady {
  type: 'ready';
  url: string;
  kinds: Array<{ name: string; endpoint: string }>;
}

export interface WorkerFailed {
  type: 'error';
  code: string | undefined;
  message: string;
}

export interface WorkerLog {
  type: 'log';
  message: string;
}

const port = parentPort!;
let provider: RunningProvider | undefined;

port.on('message', (m: unknown) => {
  if (m !== 'close') return;
  void (async () => {
    await provider?.close();
    port.postMessage({ type: 'closed' });
    port.close();
  })();
});

try {
  const opts = workerData as ProviderOptions;
  provider = await startProvider({ ...opts, log: (message) => port.postMessage({ type: 'log', message } satisfies WorkerLog) });
  const kinds = (opts.kinds ?? provider.store.kinds.map((k) => k.name)).map((name) => ({ name, endpoint: provider!.endpoint(name) }));
  port.postMessage({ type: 'ready', url: provider.url, kinds } satisfies WorkerReady);
} catch (e) {
  port.postMessage({ type: 'error', code: isSdataError(e) ? e.code : undefined, message: (e as Error).message } satisfies WorkerFailed);
  port.close();
}
