import { tmpdir } from 'node:os';
import { addAbortSignal } from 'node:stream';
import { HttpClient } from '../http/client.ts';
import { pushFeeds, type PushInput } from '../engine/push.ts';
import { SdataError } from '../protocol/errors.ts';
import type { COMMANDS, Input } from './commands.ts';
import { checkInput, clientOptions, loggerFrom, onInterrupt, openInput, pollFrom } from './common.ts';
import { EXIT } from './exit-codes.ts';

/** `sdata-sync push`: options and help in commands.ts. */
export async function run({ values: v, args }: Input<typeof COMMANDS.push>): Promise<number> {
  const { collection } = args;
  const names = args.feeds.length > 0 ? args.feeds : ['-'];
  if (names.filter((f) => f === '-').length > 1) throw new SdataError('SDATA_E_USAGE', "stdin ('-') can be read only once");
  // A missing file is said before anything is sent.
  for (const f of names) if (f !== '-') await checkInput(f);
  const log = loggerFrom(v);
  const ac = new AbortController();
  const client = new HttpClient(clientOptions('target', collection, v, log, ac.signal));
  const stop = onInterrupt(log, () => ac.abort());
  const inputs: PushInput[] = names.map((f) => f === '-'
    // Read once, as it comes: an interrupt ends a read that waits for more.
    ? { name: '<stdin>', open: async () => addAbortSignal(ac.signal, process.stdin) }
    : { name: f, open: () => openInput(f) });
  try {
    const r = await pushFeeds({
      client, collection, inputs, runName: v.runName, runStamp: new Date().toISOString(),
      out: process.stdout, log, poll: pollFrom(v), signal: ac.signal, chunkEntries: v.chunkEntries, chunkBytes: v.chunkBytes,
      maxEntryBytes: v.maxEntryBytes, strict: v.strict ?? false, spoolDir: v.spoolDir ?? tmpdir(),
    });
    log.info(JSON.stringify({ feeds: r.feeds, read: r.read, forwarded: r.forwarded, invalid: r.invalid, chunks: r.chunks, entries: r.entries, splits: r.splits, outcomes: r.outcomes.counts, contexts: r.contexts }));
    for (const f of r.outcomes.failures.slice(0, 10)) {
      log.warn(`chunk ${f.chunk} entry ${f.index + 1}${f.atomId ? ` (${f.atomId})` : ''} failed: HTTP ${f.status ?? '?'}${f.message ? ` ${f.message}` : ''}`);
    }
    return r.outcomes.counts.failed > 0 || r.invalid > 0 ? EXIT.PARTIAL : EXIT.OK;
  } finally {
    stop();
    await client.close();
  }
}
