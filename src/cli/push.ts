import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HttpClient } from '../http/client.ts';
import type { ContextJournal } from '../engine/journal.ts';
import { startJournal } from '../engine/leftover-contexts.ts';
import { pushFeeds } from '../engine/push.ts';
import { SdataError } from '../protocol/errors.ts';
import type { COMMANDS, Input } from './commands.ts';
import { clientOptions, limitsFrom, loggerFrom, onInterrupt, openInput, pollFrom } from './common.ts';
import { EXIT } from './exit-codes.ts';

/** `sdata-sync push`: options and help in commands.ts. */
export async function run({ values: v, args }: Input<typeof COMMANDS.push>): Promise<number> {
  const { collection, feeds: inputs } = args;
  const log = loggerFrom(v);
  const ac = new AbortController();
  const client = new HttpClient(clientOptions('target', collection, v, log, ac.signal));
  const stop = onInterrupt(log, () => ac.abort());
  let tmp: string | undefined;
  const runStamp = new Date().toISOString();
  let journal: ContextJournal | undefined;
  try {
    journal = await startJournal({ stateDir: v.stateDir, runStamp, log, sides: [{ side: 'target', url: collection, client }] });
    const files: string[] = [];
    for (const f of inputs.length > 0 ? inputs : ['-']) {
      if (f !== '-') {
        await openInput(f); // a clear error for a missing file, before anything is sent
        files.push(f);
        continue;
      }
      // A retry must re-send an identical body: stdin is spooled first.
      tmp ??= await mkdtemp(join(tmpdir(), 'sdata-sync-push-'));
      const path = join(tmp, `stdin-${files.length + 1}.xml`);
      try {
        await pipeline(process.stdin, createWriteStream(path));
      } catch (e) {
        throw new SdataError('SDATA_E_IO', `stdin: cannot spool: ${(e as Error).message}`, { cause: e });
      }
      files.push(path);
    }
    const r = await pushFeeds({
      client, collection, files, runName: v.runName, runStamp, contexts: journal?.recorder('target'),
      out: process.stdout, log, poll: pollFrom(v), signal: ac.signal,
      maxEntryBytes: v.maxEntryBytes, limits: limitsFrom(v),
    });
    log.info(JSON.stringify({ feeds: files.length, chunks: r.chunks, entries: r.entries, splits: r.splits, outcomes: r.outcomes.counts, contexts: r.contexts }));
    for (const f of r.outcomes.failures.slice(0, 10)) {
      log.warn(`entry ${f.index + 1}${f.atomId ? ` (${f.atomId})` : ''} failed: HTTP ${f.status ?? '?'}${f.message ? ` ${f.message}` : ''}`);
    }
    return r.outcomes.counts.failed > 0 ? EXIT.PARTIAL : EXIT.OK;
  } finally {
    journal?.close();
    stop();
    await client.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}
