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
import { clientOptions, COMMON_HTTP_OPTIONS, loggerFrom, onInterrupt, openInput, parse, parseEntryCap, pollFrom } from './common.ts';
import { EXIT } from './exit-codes.ts';

export const PUSH_HELP = `Usage: sdata-sync push TARGET_COLLECTION_URL [FEED.xml ...] [options]

POSTs sync feeds (chunk files in order, or stdin) to the target's $syncTarget, one at a time, and writes the
target's results to stdout as one result feed. Each feed goes as it is: its next link tells the target whether
it is the last one (the end-of-feed digest merge). Retries re-send the identical body under the same trackingID;
a 413 splits a feed in two.

Options:
  --run-name NAME         runName (default "sdata-sync push"); runStamp = now
  --max-entry-bytes SIZE  (default 16MiB)
  --state-dir DIR         the journal of open contexts, so that the next run deletes those a killed one left
                          (default $XDG_STATE_HOME/sdata-sync, else ~/.local/state/sdata-sync)
  --retries N, --timeout-connect/-headers/-body/-poll MS, --poll-min/--poll-max MS
  --ca FILE               trust these certificates (PEM) for an https:// target, besides the usual ones
  --quiet, --verbose, --log-format text|json, -h
Credentials: SDATA_TARGET_TOKEN, or SDATA_TARGET_USER and SDATA_TARGET_PASSWORD.
Exit codes: 0 ok, 7 the target refused a feed, 8 some entries failed.
`;

export async function pushCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    'run-name': { type: 'string' },
    'max-entry-bytes': { type: 'string' },
    'state-dir': { type: 'string' },
    ...COMMON_HTTP_OPTIONS,
  }, 'push');
  if (v.help) {
    process.stdout.write(PUSH_HELP);
    return EXIT.OK;
  }
  if (positionals.length < 1) throw new SdataError('SDATA_E_USAGE', "push: give the TARGET_COLLECTION_URL (see 'sdata-sync push --help')");
  const [collection, ...inputs] = positionals as [string, ...string[]];
  const log = loggerFrom(v);
  const ac = new AbortController();
  const client = new HttpClient(clientOptions('target', collection, v, log, ac.signal));
  const stop = onInterrupt(log, () => ac.abort());
  let tmp: string | undefined;
  let journal: ContextJournal | undefined;
  const runStamp = new Date().toISOString();
  try {
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
    journal = await startJournal({ stateDir: v['state-dir'], runStamp, log, sides: [{ side: 'target', url: collection, client }] });
    const r = await pushFeeds({
      client, collection, files, runName: v['run-name'] ?? 'sdata-sync push', runStamp,
      out: process.stdout, log, poll: pollFrom(v), signal: ac.signal,
      maxEntryBytes: parseEntryCap(v['max-entry-bytes']), contexts: journal?.recorder('target'),
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
