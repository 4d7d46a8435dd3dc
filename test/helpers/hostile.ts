import { request, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NS } from '../../src/protocol/namespaces.ts';
import type { FakeProvider } from '../engine/fake-provider.ts';

/**
 * Hostile inputs, generated as they are read (never whole in memory): each a sync feed page or a result feed whose
 * one bad part crosses a limit (src/xml/limits.ts) by far. `scale` multiplies the bad part (1 for `npm test`,
 * more for scripts/hostile.ts). Shared by the tests of limits and scripts/hostile.ts.
 */
export interface Hostile {
  name: string;
  /** What the input is, for tables. */
  what: string;
  /** The exit code and the message the feed reader (plan, run, pull, the provider) refuses it with. */
  exit: number;
  message: RegExp;
  /**
   * Read as a result feed (push: the same document is a well-formed atom:feed for the result scanner), when that
   * differs: the scanner has no entry to skip, and names lines only.
   */
  result?: { exit: number; message: RegExp };
  /** The bytes of a sync feed page carrying the bad part. */
  feed(scale: number): Generator<Buffer>;
  /** Flags that make the case what it is (a smaller entry cap), for CLI runs. */
  flags?: string[];
}

const MiB = 1024 * 1024;

/** The bar on peak RSS for every process that reads hostile input (issue 13), KiB. */
export const RSS_BOUND_KIB = 200 * 1024;

const FEED_HEAD = `<feed xmlns="${NS.atom}" xmlns:sync="${NS.sync}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}">\n` +
  `<id>urn:hostile</id><sync:syncMode>catchUp</sync:syncMode><sync:digest><sync:origin>http://a.example/x</sync:origin></sync:digest>\n`;

/**
 * What makes an entry a complete result too (the engine refuses a result entry that does not say what happened to its
 * entry, docs/protocol.md X19): after the payload, so that the hostile part keeps its line and column.
 */
const RESULT = '<http:httpStatus>201</http:httpStatus><http:httpMethod>POST</http:httpMethod>';

/** One ordinary entry (n: its number), on one line. */
function plainEntry(n: number): string {
  return `<entry><id>urn:e:${n}</id><sync:syncState><sync:endpoint>http://a.example/x</sync:endpoint><sync:tick>${n}</sync:tick>` +
    `<sync:stamp>2020-01-01T00:00:00Z</sync:stamp></sync:syncState><sdata:payload><account xmlns="urn:c" sdata:uuid="00000000-0000-0000-0000-${String(n).padStart(12, '0')}">` +
    `<name>n${n}</name></account></sdata:payload>${RESULT}</entry>\n`;
}

/** The start of an entry whose resource element's content follows (the line the bad part starts on is line 4). */
function openEntry(n: number): string {
  return `<entry><id>urn:e:${n}</id><sync:syncState><sync:endpoint>http://a.example/x</sync:endpoint><sync:tick>${n}</sync:tick>` +
    `<sync:stamp>2020-01-01T00:00:00Z</sync:stamp></sync:syncState><sdata:payload><account xmlns="urn:c" sdata:uuid="00000000-0000-0000-0000-${String(n).padStart(12, '0')}">`;
}
const CLOSE_ENTRY = `</account></sdata:payload>${RESULT}</entry>\n`;

/** `n` bytes of `unit` (a one-byte character), in chunks of 1 MiB at most. */
function* repeat(unit: string, n: number): Generator<Buffer> {
  const block = Buffer.alloc(Math.min(n, MiB), unit);
  for (let left = n; left > 0; left -= block.length) yield left >= block.length ? block : block.subarray(0, left);
}

/** `count` repetitions of `piece`, in chunks of about 1 MiB. */
function* times(piece: (i: number) => string, count: number): Generator<Buffer> {
  let buf = '';
  for (let i = 0; i < count; i++) {
    buf += piece(i);
    if (buf.length >= MiB) {
      yield Buffer.from(buf);
      buf = '';
    }
  }
  if (buf) yield Buffer.from(buf);
}

/** A feed page: head, one plain entry, the bad entry's content from `bad`, then more plain entries. */
function* feedWith(before: string, bad: Iterable<Buffer>, after: string): Generator<Buffer> {
  yield Buffer.from(FEED_HEAD + plainEntry(1) + openEntry(2) + before);
  yield* bad;
  yield Buffer.from(after + CLOSE_ENTRY + plainEntry(3) + '</feed>\n');
}

const latin1 = (): Generator<Buffer> => (function* () {
  yield Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?>\n${FEED_HEAD}${plainEntry(1)}`, 'latin1');
  yield Buffer.from(`${openEntry(2)}<name>caf\u00e9</name>${CLOSE_ENTRY}</feed>\n`, 'latin1');
})();

/** Where the invalid byte of `badUtf8` stands: line 4 (after the two-line head and entry 1), this column. */
export const BAD_UTF8_COLUMN = openEntry(2).length + '<name>caf'.length + 1;

export const HOSTILE: readonly Hostile[] = [
  {
    name: 'deep', what: '200,000 nested elements in one payload (1.4 MB)', exit: 3,
    message: /element <a> nested 257 deep exceeds the limit of 256 levels \(raise it with --max-depth\)/,
    feed: (scale) => feedWith('', (function* () {
      const n = 200_000 * scale;
      yield* times(() => '<a>', n);
      yield* times(() => '</a>', n);
    })(), ''),
  },
  {
    name: 'attribute-1g', what: 'one attribute value of 1 GiB', exit: 3,
    message: /an attribute value being read exceeds the limit of 1048576 bytes \(raise it with --max-attribute-bytes\)/,
    feed: (scale) => feedWith('<x a="', repeat('x', 1024 * MiB * scale), '"/>'),
  },
  {
    name: 'attributes-1m', what: '10^6 attributes on one element', exit: 3,
    message: /the number of attributes on one element exceeds the limit of 1024 \(raise it with --max-attributes\)/,
    feed: (scale) => feedWith('<x', times((i) => ` a${i}=""`, 1_000_000 * scale), '/>'),
  },
  {
    name: 'name-10m', what: 'an element name of 10 MB', exit: 3,
    message: /the element name being read exceeds the limit of 1024 bytes \(raise it with --max-name-bytes\)/,
    feed: (scale) => feedWith('<', repeat('n', 10 * 1000 * 1000 * scale), '/>'),
  },
  {
    name: 'text-100m', what: '100 MB of text between entries', exit: 3,
    message: /text between entries \(or in the feed head\) exceeds the limit of 1048576 characters \(raise it with --max-text-between-entries\)/,
    feed: (scale) => (function* () {
      yield Buffer.from(FEED_HEAD + plainEntry(1));
      yield* repeat(' ', 100 * 1000 * 1000 * scale);
      yield Buffer.from(plainEntry(2) + '</feed>\n');
    })(),
  },
  {
    name: 'cdata-over-cap', what: 'a 32 MiB CDATA section in one entry (over the entry cap: that entry is skipped)', exit: 0,
    message: /entry #2 \(urn:e:2\) not forwarded: entry is larger than the 16777216-byte limit/,
    result: { exit: 3, message: /a CDATA section longer than an entry may be: exceeds the limit of 16777216 bytes \(raise it with --max-entry-bytes\)/ },
    feed: (scale) => feedWith('<![CDATA[', repeat('c', 32 * MiB * scale), ']]>'),
  },
  {
    name: 'attribute-over-cap', what: 'a 768 KiB attribute value, the entry cap 256 KiB (that entry is skipped)', exit: 0,
    message: /entry #2 \(urn:e:2\) not forwarded: entry is larger than the 262144-byte limit/,
    result: { exit: 3, message: /a start tag longer than an entry may be: exceeds the limit of 262144 bytes \(raise it with --max-entry-bytes\)/ },
    flags: ['--max-entry-bytes', '256KiB'],
    feed: () => feedWith('<x a="', repeat('v', 768 * 1024), '"/>'),
  },
  {
    name: 'latin-1', what: 'a document declared ISO-8859-1, with a non-ASCII byte', exit: 3,
    message: /:1:31: declared encoding 'ISO-8859-1' is not supported \(only UTF-8\)/,
    feed: latin1,
  },
  {
    name: 'utf-16', what: 'a UTF-16LE document with its byte order mark', exit: 3,
    message: /:1:1: input is UTF-16LE; only UTF-8 is supported/,
    result: { exit: 3, message: /:1: result feed: input is UTF-16LE; only UTF-8 is supported/ },
    feed: () => (function* () {
      yield Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(FEED_HEAD + plainEntry(1) + '</feed>\n', 'utf16le')]);
    })(),
  },
  {
    name: 'bad-utf8', what: 'a byte that is not UTF-8 in the middle of an entry', exit: 3,
    // (The bytes shown after the invalid one are those that came with it.)
    message: new RegExp(`:4:${BAD_UTF8_COLUMN}: invalid UTF-8 at byte \\d+ \\(ff[ 0-9a-f]*\\)`),
    result: { exit: 3, message: /:4:\d+: result feed: invalid UTF-8 at byte \d+ \(ff[ 0-9a-f]*\)/ },
    feed: () => feedWith('<name>caf', [Buffer.from([0xff])], '</name>'),
  },
];

/** An HTTP answer, read whole. */
export interface Answer {
  status: number;
  text: string;
}

/** POSTs a body streamed from `body`; the answer may come before the body has been sent (then the rest is not). */
export function postStream(url: string, body: Iterable<Uint8Array>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/atom+xml; type=feed' } }, (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
      res.on('error', reject);
    });
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    pipeline(Readable.from(body, { objectMode: false }), req).catch(() => undefined);
  });
}

/** A sync feed of one plain entry (a chunk for push to send). */
export function plainFeed(n: number): string {
  return `<feed xmlns="${NS.atom}" xmlns:sync="${NS.sync}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}"><sync:syncMode>catchUp</sync:syncMode><sync:digest/>\n${plainEntry(n)}</feed>\n`;
}

/**
 * Makes `src` answer $syncSource POSTs with a hostile page, and `tgt` $syncTarget POSTs with a hostile result feed,
 * whichever `set` last named (undefined: they behave). Each is streamed as the reader takes it; a reader that hangs
 * up ends the stream and its generator.
 */
export function hostilePeers(src: FakeProvider, tgt: FakeProvider, scale: number): { set(sourcePage: Hostile | undefined, resultFeed: Hostile | undefined): void } {
  let page: Hostile | undefined;
  let results: Hostile | undefined;
  const stream = (res: ServerResponse, h: Hostile): true => {
    res.writeHead(200, { 'content-type': 'application/atom+xml; type=feed' });
    pipeline(Readable.from(h.feed(scale), { objectMode: false }), res).catch(() => undefined);
    return true;
  };
  src.hook = (req, res, i) => page !== undefined && i.op === '$syncSource' && req.method === 'POST' && stream(res, page);
  tgt.hook = (req, res, i) => results !== undefined && i.op === '$syncTarget' && req.method === 'POST' && stream(res, results);
  return {
    set(sourcePage, resultFeed) {
      page = sourcePage;
      results = resultFeed;
    },
  };
}
