import { HttpClient } from '../http/client.ts';
import { transferHeap } from '../engine/heap.ts';
import { operationUrl } from '../http/url.ts';
import { int, mb } from '../engine/format.ts';
import type { ContextJournal } from '../engine/journal.ts';
import { startJournal } from '../engine/leftover-contexts.ts';
import { levelOfExit } from '../engine/log.ts';
import { newPullResult, pullFeed } from '../engine/pull.ts';
import { emptyDigest, serializeDigestEntry } from '../protocol/digest.ts';
import { parseDigestDocument } from '../xml/digest-document.ts';
import type { COMMANDS, Input } from './commands.ts';
import { clientOptions, limitsFrom, loggerFrom, onInterrupt, pollFrom, readDigestFile, withSummary } from './common.ts';
import { EXIT } from './exit-codes.ts';

/** The root element's local name, skipping the XML declaration, comments and processing instructions. */
function rootLocal(xml: string): string | undefined {
  const m = /<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s/>]/.exec(xml.replace(/<\?[\s\S]*?\?>|<!--[\s\S]*?-->/g, ''));
  return m?.[2];
}

/** `sdata-sync pull`: options and help in commands.ts. */
export async function run({ values: v, args }: Input<typeof COMMANDS.pull>): Promise<number> {
  const collection = args.collection;
  const log = loggerFrom(v);
  const stopHeapWatch = transferHeap();
  const ac = new AbortController();
  const client = new HttpClient(clientOptions('source', collection, v, log, ac.signal));
  const stop = onInterrupt(log, () => ac.abort(), v.stopTimeout);
  const r = newPullResult();
  const started = Date.now();
  const runStamp = new Date(started).toISOString();
  let journal: ContextJournal | undefined;
  try {
    return await withSummary('pull', log, async () => {
      let digestEntry: string;
      if (v.digest !== undefined) {
        const text = await readDigestFile(v.digest);
        const d = parseDigestDocument(text, v.digest);
        // A $syncDigest entry goes as it is (opaque to the engine); a bare digest is wrapped into one.
        digestEntry = rootLocal(text) === 'entry' ? text : serializeDigestEntry(d, operationUrl(collection, '$syncDigest'));
      } else {
        digestEntry = serializeDigestEntry(emptyDigest(), operationUrl(collection, '$syncDigest'));
      }
      journal = await startJournal({ stateDir: v.stateDir, runStamp, log, sides: [{ side: 'source', url: collection, client }] });
      await pullFeed({
        client, collection, digestEntry, runName: v.runName, runStamp, contexts: journal?.recorder('source'),
        out: process.stdout, log, poll: pollFrom(v), signal: ac.signal,
        maxEntryBytes: v.maxEntryBytes, limits: limitsFrom(v),
      }, r);
      return r.notForwarded > 0 ? EXIT.PARTIAL : EXIT.OK;
    }, (exitCode) => {
      log.record(log.format === 'json' ? levelOfExit(exitCode) : 'info', v.quiet && log.format === 'text' ? '' :
        `pull: ${int(r.pages)} page(s), ${int(r.entries)} entries written${r.notForwarded > 0 ? `, ${int(r.notForwarded)} not forwarded` : ''}, ${mb(r.bytesIn)} read`, {
        event: 'summary', runName: v.runName, url: collection, pages: r.pages, read: r.entries + r.notForwarded, forwarded: r.entries, invalid: r.notForwarded,
        bytesIn: r.bytesIn, bytesOut: r.bytesOut, seconds: (Date.now() - started) / 1000, exitCode,
      });
    });
  } finally {
    stopHeapWatch();
    journal?.close();
    stop();
    await client.close();
  }
}
