// Peers that cost the engine nothing (issue 15 item 2: "the engine alone"), in a process of their own:
// - a source whose `$syncSource` answers synchronously (200) with one feed file as it is, streamed from disk (a feed
//   `sdata-sync pull` wrote: page 1's head with the digest, every entry, no next link);
// - a null-sink target: `$syncDigest` is an empty digest, and each `$syncTarget` chunk is answered synchronously with
//   the results an empty target gives (one `201 POST` per entry, same order, the entry's atom id), found by byte
//   search, not by parsing. The engine speaks the same protocol to them as to `serve`, strict results included.
//
// node bench/null-peers.ts --feed FILE   → prints the base URL; collections are BASE/sdata/{source,sink}/crm/-/accounts
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { emptyDigest, serializeDigestEntry, setDigestEntry } from '../src/protocol/digest.ts';
import { feedClose, feedOpen } from '../src/xml/feed-writer.ts';

const { values } = parseArgs({ options: { feed: { type: 'string' } } });
if (values.feed === undefined) throw new Error('null-peers: --feed FILE is required');
const feed = values.feed;

const SINK = 'http://sink.example/sdata/sink/crm/-/accounts';
const digest = emptyDigest(SINK);
setDigestEntry(digest, { endpoint: SINK, tick: '1', stamp: new Date().toISOString(), conflictPriority: 5 });

async function body(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const ENTRY = Buffer.from('<entry');
const ID = Buffer.from('<id>');
const ID_END = Buffer.from('</id>');
const ENTRY_END = Buffer.from('</entry>');

/** One result per posted entry, in order: what an empty target answers (created). */
function results(chunk: Buffer, url: string): string {
  let s = feedOpen({ id: url, title: 'results' });
  for (let i = chunk.indexOf(ENTRY); i >= 0; i = chunk.indexOf(ENTRY, i)) {
    const next = chunk[i + ENTRY.length];
    if (next !== 0x3e && next !== 0x20) { i += ENTRY.length; continue; } // <entry> or <entry …>, not <entryX
    const a = chunk.indexOf(ID, i) + ID.length;
    const b = chunk.indexOf(ID_END, a);
    s += `<entry><id>${chunk.toString('utf8', a, b)}</id><http:httpStatus>201</http:httpStatus><http:httpMethod>POST</http:httpMethod></entry>\n`;
    i = chunk.indexOf(ENTRY_END, b) + ENTRY_END.length;
  }
  return s + feedClose();
}

const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
  const fail = (e: unknown): void => void (res.headersSent ? res.destroy() : res.writeHead(500).end(String(e)));
  if (req.method === 'GET' && path.endsWith('/$syncDigest')) {
    res.writeHead(200, { 'content-type': 'application/atom+xml; type=entry' }).end(serializeDigestEntry(digest, `${SINK}/$syncDigest`));
  } else if (req.method === 'POST' && path.endsWith('/$syncSource')) {
    body(req).then(() => {
      res.writeHead(200, { 'content-type': 'application/atom+xml; type=feed' });
      createReadStream(feed, { highWaterMark: 256 * 1024 }).on('error', fail).pipe(res);
    }, fail);
  } else if (req.method === 'POST' && path.endsWith('/$syncTarget')) {
    body(req).then((b) => res.writeHead(200, { 'content-type': 'application/atom+xml; type=feed' }).end(results(b, req.url!)), fail);
  } else if (req.method === 'POST' && path.endsWith('/$syncResults')) {
    body(req).then(() => res.writeHead(200).end(), fail);
  } else {
    req.resume();
    res.writeHead(404).end();
  }
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
