import { tmpdir } from 'node:os';
import { addAbortSignal } from 'node:stream';
import { HttpClient } from '../http/client.ts';
import { transferHeap } from '../engine/heap.ts';
import { int } from '../engine/format.ts';
import type { ContextJournal } from '../engine/journal.ts';
import { startJournal } from '../engine/leftover-contexts.ts';
import { levelOfExit } from '../engine/log.ts';
import { newPushResult, pushFeeds, type PushInput } from '../engine/push.ts';
import { SdataError } from '../protocol/errors.ts';
import type { COMMANDS, Input } from './commands.ts';
import { checkInput, checkOutputs, clientOptions, limitsFrom, loggerFrom, onInterrupt, openInput, pollFrom, spoolDirOf, withSummary } from './common.ts';
import { EXIT } from './exit-codes.ts';

/** `sdata-sync push`: options and help in commands.ts. */
export async function run({ values: v, args }: Input<typeof COMMANDS.push>): Promise<number> {
  const { collection } = args;
  const names = args.feeds.length > 0 ? args.feeds : ['-'];
  if (names.filter((f) => f === '-').length > 1) throw new SdataError('SDATA_E_USAGE', "stdin ('-') can be read only once");
  const log = loggerFrom(v);
  const stopHeapWatch = transferHeap();
  const ac = new AbortController();
  const client = new HttpClient(clientOptions('target', collection, v, log, ac.signal));
  const stop = onInterrupt(log, () => ac.abort(), v.stopTimeout);
  const inputs: PushInput[] = names.map((f) => f === '-'
    // Read once, as it comes: an interrupt ends a read that waits for more.
    ? { name: '<stdin>', open: async () => addAbortSignal(ac.signal, process.stdin) }
    : { name: f, open: () => openInput(f) });
  const r = newPushResult();
  const started = Date.now();
  const runStamp = new Date(started).toISOString();
  let journal: ContextJournal | undefined;
  try {
    return await withSummary('push', log, async () => {
      // A missing file is said before anything is sent.
      for (const f of names) if (f !== '-') await checkInput(f);
      // Result pages wait in the spool directory before they go to stdout: writable, or nothing is read or sent.
      await checkOutputs({ dirs: [spoolDirOf(v, tmpdir())] });
      journal = await startJournal({ stateDir: v.stateDir, runStamp, log, sides: [{ side: 'target', url: collection, client }] });
      await pushFeeds({
        client, collection, inputs, runName: v.runName, runStamp, contexts: journal?.recorder('target'),
        out: process.stdout, log, poll: pollFrom(v), signal: ac.signal, chunkEntries: v.chunkEntries, chunkBytes: v.chunkBytes,
        maxEntryBytes: v.maxEntryBytes, limits: limitsFrom(v), strict: v.strict ?? false, spoolDir: v.spoolDir ?? tmpdir(),
      }, r);
      return r.outcomes.counts.failed > 0 || r.invalid > 0 ? EXIT.PARTIAL : EXIT.OK;
    }, (exitCode) => {
      for (const f of r.outcomes.failures.slice(0, 10)) {
        log.warn(`chunk ${f.chunk} entry ${f.index + 1}${f.atomId ? ` (${f.atomId})` : ''} failed: HTTP ${f.status ?? '?'}${f.message ? ` ${f.message}` : ''}`);
      }
      const k = r.outcomes.counts;
      log.record(log.format === 'json' ? levelOfExit(exitCode) : 'info', v.quiet && log.format === 'text' ? '' : `push: ${int(r.read)} entries read, ${int(r.forwarded)} sent in ${int(r.chunks)} chunk(s)` +
        `${r.feeds > 1 ? ` of ${r.feeds} feeds` : ''}: ${int(k.created)} created, ${int(k.updated)} updated, ${int(k.deleted)} deleted, ${int(k.ignored)} ignored, ` +
        `${int(k.conflictsTargetWon)} conflicts kept by the target, ${int(k.failed)} failed${r.invalid > 0 ? `; ${int(r.invalid)} invalid entries not sent` : ''}`, {
        event: 'summary', runName: v.runName, read: r.read, forwarded: r.forwarded, invalid: r.invalid, held: r.held, chunks: r.chunks, splits: r.splits,
        acknowledged: r.entries, created: k.created, updated: k.updated, deleted: k.deleted, ignored: k.ignored, conflicts: k.conflictsTargetWon,
        failed: k.failed, seconds: (Date.now() - started) / 1000, exitCode,
      });
    });
  } finally {
    stopHeapWatch();
    journal?.close();
    stop();
    await client.close();
  }
}
