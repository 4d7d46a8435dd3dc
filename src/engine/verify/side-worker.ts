import { parentPort, workerData } from 'node:worker_threads';
import { HttpClient } from '../../http/client.ts';
import { readSide } from './read-side.ts';
import { portRecorder, serializeError, type FromSide, type SideJob } from './side-thread.ts';

/**
 * The thread that reads one side of `verify` (side-thread.ts starts it): the side's whole feed into its side file,
 * with an HTTP client of its own. Protocol: workerData = SideJob; ← { type: 'abort' }; → FromSide messages, the last
 * `done` or `failed`. The port is unreferenced: the thread ends when its reading has, context DELETE included.
 */
const port = parentPort!;
const job = workerData as SideJob;
const ac = new AbortController();
const post = (m: FromSide): void => port.postMessage(m);
port.on('message', (m: { type: string }) => {
  if (m.type === 'abort') ac.abort();
});
port.unref();

const client = new HttpClient({
  ...job.client, signal: ac.signal,
  onRetry: (e) => post({ type: 'log', level: 'debug', msg: `${job.side}: ${e.method} ${e.url}: ${e.reason}; retry ${e.attempt} in ${e.delayMs} ms` }),
});
try {
  const read = await readSide({
    ...job, client, signal: ac.signal, contexts: portRecorder((c) => post({ type: 'context', c })),
    log: (level, msg) => post({ type: 'log', level, msg }),
    onProgress: (entries) => post({ type: 'progress', entries }),
  });
  post({ type: 'done', read });
} catch (e) {
  post({ type: 'failed', error: serializeError(e) });
} finally {
  await client.close();
}
