import { HttpClient } from '../http/client.ts';
import { operationUrl } from '../http/url.ts';
import type { ContextJournal } from '../engine/journal.ts';
import { startJournal } from '../engine/leftover-contexts.ts';
import { pullFeed } from '../engine/pull.ts';
import { emptyDigest, serializeDigestEntry } from '../protocol/digest.ts';
import { SdataError } from '../protocol/errors.ts';
import { parseDigestDocument } from '../xml/digest-document.ts';
import { clientOptions, COMMON_HTTP_OPTIONS, loggerFrom, onInterrupt, parse, parseEntryCap, pollFrom, readTextFile } from './common.ts';
import { EXIT } from './exit-codes.ts';

export const PULL_HELP = `Usage: sdata-sync pull SOURCE_COLLECTION_URL [--digest FILE] [options]

Asks the source for its sync feed against a target digest and writes every page to stdout as ONE sync feed
(page 1's head, every entry, no next link). Without --digest the digest is empty: the whole collection.
  sdata-sync digest T/accounts > d.xml && sdata-sync pull S/accounts --digest d.xml | sdata-sync plan --digest d.xml | sdata-sync push T/accounts

Options:
  --digest FILE           the target digest ($syncDigest entry, or a bare sync:digest)
  --run-name NAME         runName (default "sdata-sync pull"); runStamp = now
  --max-entry-bytes SIZE  larger entries are not forwarded (default 16MiB)
  --state-dir DIR         the journal of open contexts, so that the next run deletes those a killed one left
                          (default $XDG_STATE_HOME/sdata-sync, else ~/.local/state/sdata-sync)
  --retries N, --timeout-connect/-headers/-body/-poll MS, --poll-min/--poll-max MS
  --ca FILE               trust these certificates (PEM) for an https:// source, besides the usual ones
  --quiet, --verbose, --log-format text|json, -h
Credentials: SDATA_SOURCE_TOKEN, or SDATA_SOURCE_USER and SDATA_SOURCE_PASSWORD.
`;

/** The root element's local name, skipping the XML declaration, comments and processing instructions. */
function rootLocal(xml: string): string | undefined {
  const m = /<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s/>]/.exec(xml.replace(/<\?[\s\S]*?\?>|<!--[\s\S]*?-->/g, ''));
  return m?.[2];
}

export async function pullCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    digest: { type: 'string' },
    'run-name': { type: 'string' },
    'max-entry-bytes': { type: 'string' },
    'state-dir': { type: 'string' },
    ...COMMON_HTTP_OPTIONS,
  }, 'pull');
  if (v.help) {
    process.stdout.write(PULL_HELP);
    return EXIT.OK;
  }
  if (positionals.length !== 1) throw new SdataError('SDATA_E_USAGE', "pull: give exactly one SOURCE_COLLECTION_URL (see 'sdata-sync pull --help')");
  const collection = positionals[0]!;
  const log = loggerFrom(v);
  let digestEntry: string;
  if (v.digest) {
    const text = await readTextFile(v.digest);
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
    journal = await startJournal({ stateDir: v['state-dir'], runStamp, log, sides: [{ side: 'source', url: collection, client }] });
    const r = await pullFeed({
      client, collection, digestEntry, runName: v['run-name'] ?? 'sdata-sync pull', runStamp,
      out: process.stdout, log, poll: pollFrom(v), signal: ac.signal,
      maxEntryBytes: parseEntryCap(v['max-entry-bytes']), contexts: journal?.recorder('source'),
    });
    log.info(JSON.stringify({ pages: r.pages, entries: r.entries, notForwarded: r.notForwarded, bytesIn: r.bytesIn, bytesOut: r.bytesOut, sourceContext: r.sourceContext }));
    return r.notForwarded > 0 ? EXIT.PARTIAL : EXIT.OK;
  } finally {
    journal?.close();
    stop();
    await client.close();
  }
}
