/**
 * Worker thread of `sdata-sync demo`: one reference provider on loopback, so the two providers and the engine
 * each get a thread of their own. Answers a few questions the demo asks about its store.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startProvider, type ProviderOptions } from '../provider/http/server.ts';

const port = parentPort!;
const p = await startProvider(workerData as ProviderOptions);
const kind = p.store.kind('accounts')!;
port.postMessage({ ready: true, url: p.url, endpoint: p.endpoint('accounts') });
port.on('message', (m: { id: number; op: string; arg?: string | number }) => {
  const reply = (result: unknown): void => port.postMessage({ id: m.id, result });
  switch (m.op) {
    case 'keyOf': reply(p.store.resources.byUuid(kind.id, String(m.arg))?.id); break;
    case 'uuidAt': reply(p.store.resources.byId(kind.id, Number(m.arg))?.uuid); break;
    case 'checksum': reply(p.checksum('accounts')); break;
    case 'openContexts': reply(p.openContexts()); break;
    case 'close': void p.close().then(() => reply(true)); break;
    default: reply(undefined);
  }
});
