import { HttpClient } from '../http/client.ts';
import { operationUrl } from '../http/url.ts';
import type { ContextJournal } from '../engine/journal.ts';
import { startJournal } from '../engine/leftover-contexts.ts';
import { pullFeed } from '../engine/pull.ts';
import { emptyDigest, serializeDigestEntry } from '../protocol/digest.ts';
import { parseDigestDocument } from '../xml/digest-document.ts';
import type { COMMANDS, Input } from './commands.ts';
import { clientOptions, limitsFrom, loggerFrom, onInterrupt, pollFrom, readDigestFile } from './common.ts';
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
  let digestEntry: string;
  if (v.digest !== undefined) {
    const text = await readDigestFile(v.digest);
    const d = parseDigestDocument(text, v.digest);
    // A $syncDigest entry goes as it is (opaque to the engine); a bare digest is wrapped into one.
    digestEntry = rootLocal(text) === 'entry' ? text : serializeDigestEntry(d, operationUrl(collection, '$syncDigest'));
  } else {
    digestEntry = serializeDigestEntry(emptyDigest(), operationUrl(collection, '$syncDigest'));
  }
  const ac = new AbortController();
  const client = new HttpClient(clientOptions('source', collection, v, log, ac.signal));
  const stop = onInterrupt(log, () => ac.abort());
  const runStamp = new Date().toISOString();
  let journal: ContextJournal | undefined;
  try {
    journal = await startJournal({ stateDir: v.stateDir, runStamp, log, sides: [{ side: 'source', url: collection, client }] });
    const r = await pullFeed({
      client, collection, digestEntry, runName: v.runName, runStamp, contexts: journal?.recorder('source'),
      out: process.stdout, log, poll: pollFrom(v), signal: ac.signal,
      maxEntryBytes: v.maxEntryBytes, limits: limitsFrom(v),
    });
    log.info(JSON.stringify({ pages: r.pages, entries: r.entries, notForwarded: r.notForwarded, bytesIn: r.bytesIn, bytesOut: r.bytesOut, sourceContext: r.sourceContext }));
    return r.notForwarded > 0 ? EXIT.PARTIAL : EXIT.OK;
  } finally {
    journal?.close();
    stop();
    await client.close();
  }
}
