import { Buffer } from 'node:buffer';
import { DigestBuilder, DigestChecker, digestTicks, lazyDigest, ownString, type Digest, type DigestTicks, type Position } from '../protocol/digest.ts';
import { NS } from '../protocol/namespaces.ts';
import { latin1Text } from './encoding.ts';

/**
 * The limits a saxes-based reader would apply to the digest's content (xml/limit-guard.ts, feed-limits.ts): where the
 * content would cross one, the scanner declines and the reader's own parse reports it.
 */
export interface DigestScanLimits {
  /** Characters of text between two tags. */
  maxText: number;
  /** UTF-8 bytes of an element name. */
  maxNameBytes: number;
  /** Elements that may still open inside the digest element (a digestEntry and its child need 2). */
  depthLeft: number;
}

/**
 * A digest's start tag as the scanner takes it: `<digest>` or `<P:digest>` (P, group 1: an ASCII prefix), without
 * attributes or white space. A source for each reader's own global expression (they keep state in lastIndex).
 */
export const DIGEST_START_TAG = '<(?:([A-Za-z_][A-Za-z0-9_.-]*):)?digest>';

/** White space between tags, and the text of an element: printable ASCII but `<`, `&` and `>`, no line break. */
const WS = '[ \\t\\r\\n]*';
const TEXT = '([^<&>\\x00-\\x1f\\x7f]*)';

interface Patterns {
  origin: RegExp;
  entry: RegExp;
  end: RegExp;
  /** Characters of markup in an entry without, and with, its conflictPriority element. */
  entryTags: number;
  prioTags: number;
}

/** The sticky patterns for one prefix (a feed uses one or two): compiled once, then native code. */
const patternCache = new Map<string, Patterns>();

function patternsFor(prefix: string): Patterns {
  let p = patternCache.get(prefix);
  if (p === undefined) {
    const q = prefix === '' ? '' : `${prefix.replace(/\./g, '\\.')}:`;
    const el = (local: string): string => `${WS}<${q}${local}>${TEXT}</${q}${local}>`;
    const tags = (local: string): number => 2 * (prefix === '' ? 0 : prefix.length + 1) + 2 * local.length + 5;
    p = {
      origin: new RegExp(el('origin'), 'y'),
      // The order the spec's examples and every serializer we know write; any other order is saxes'.
      entry: new RegExp(`${WS}<${q}digestEntry>${el('endpoint')}${el('tick')}${el('stamp')}(?:${el('conflictPriority')})?${WS}</${q}digestEntry>`, 'y'),
      end: new RegExp(`${WS}$`, 'y'),
      entryTags: tags('digestEntry') + tags('endpoint') + tags('tick') + tags('stamp'),
      prioTags: tags('conflictPriority'),
    };
    if (patternCache.size < 16) patternCache.set(prefix, p);
  }
  return p;
}

/**
 * The fast path of a digest: reads the content of a `<P:digest>` element — the characters between its start tag and
 * its end tag, both written exactly so, with `P:` the prefix of the digest's own name ('' for none) — when it is written
 * the plain way: white space, an optional `P:origin`, then `P:digestEntry` elements holding `P:endpoint`, `P:tick`,
 * `P:stamp` and optionally `P:conflictPriority` in that order, every tag without attributes or white space, all text
 * printable ASCII without `&`, `>` or a line break. Anything else (comments, CDATA, other elements, orders or
 * prefixes, an attribute, a non-ASCII character, a limit crossed, a digest the builder refuses) returns undefined, and
 * the caller reads the content with saxes as before: the scanner only takes what that parse would accept, and gives the
 * same digest (test/xml/digest-scanner.test.ts compares them).
 *
 * Why: a digest names one entry per endpoint, and one of 10,000 endpoints is ~2.5 MB that saxes, with its objects per
 * tag and its garbage, read in 45-80 ms; a plan reads two (the target's digest, the feed head's). A sticky regular
 * expression per entry runs as native code from the first call (a byte loop in JavaScript took 30 ms cold, 13 warm;
 * this 12-18 cold). It runs over a latin1 copy of the content made for the digest, so the strings kept are one-byte
 * (not two-byte because the text they came from held a non-Latin-1 character somewhere else), and are kept as cut
 * from that copy: it is the digest's own text, ~its size, where copying each string cost 10 ms per 20,000
 * (docs/decisions/0034-digest-scanner.md). `content`: ASCII only (isAscii); as text, a one-byte string already (a
 * document read whole and all ASCII, digest-document.ts), which is read as it is, without the copy.
 *
 * With the digest comes its element as written (`written`), when every value in it is in the form serializeDigest
 * writes and the content came as bytes, or as text with its bytes (`bytes`, in pieces): a feed head's. A planner puts
 * those bytes in every chunk's head instead of serialising 10,000 entries again. The bytes are kept there, not copied:
 * the caller must not reuse them (a reader's input, which no reader writes into).
 */
export function scanDigest(content: Uint8Array | string, prefix: string, limits: DigestScanLimits, source = '', bytes?: readonly Uint8Array[], made: DigestMade = 'now'): ScannedDigest | undefined {
  if (limits.depthLeft < 2 || prefix.length + 17 > limits.maxNameBytes) return undefined;
  const s = typeof content === 'string' ? content : latin1Text(content);
  const p = patternsFor(prefix);
  const builder = made === 'now' ? new DigestBuilder(source) : new DigestChecker({ distinct: made === 'asked', ticks: made === 'ticks' });
  let origin: string | undefined;
  const maxText = limits.maxText;
  /** Characters of texts read, and of markup: the rest is white space between tags. */
  let texts = 0;
  let tags = 0;
  let i = 0;
  /** Every value so far is written as serializeDigest writes it; and how many entries there were. */
  let plain = true;
  let entries = 0;
  try {
    p.origin.lastIndex = 0;
    const o = p.origin.exec(s);
    if (o !== null) {
      const t = o[1]!;
      if (t.length > maxText) return undefined;
      origin = t;
      plain = untrimmed(t);
      texts += t.length;
      tags += o[0].length - t.length;
      i = p.origin.lastIndex;
    }
    const re = p.entry;
    re.lastIndex = i;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      const endpoint = m[1]!;
      const tick = m[2]!;
      const stamp = m[3]!;
      const prio = m[4];
      const n = endpoint.length + tick.length + stamp.length + (prio === undefined ? 0 : prio.length);
      if (endpoint.length > maxText || tick.length > maxText || stamp.length > maxText || (prio !== undefined && prio.length > maxText)) return undefined;
      builder.entry(endpoint, tick, stamp, prio);
      if (plain) plain = untrimmed(endpoint) && untrimmed(stamp) && canonicalTick(tick) && prio !== undefined && String(Number(prio)) === prio;
      entries++;
      texts += n;
      tags += p.entryTags + (prio === undefined ? 0 : p.prioTags);
      i = re.lastIndex;
    }
    p.end.lastIndex = i;
    if (!p.end.test(s)) return undefined;
  } catch {
    // The builder refused an entry: the caller's parse reports it, at its line and column.
    return undefined;
  }
  // The white space between tags, all of it together, within the limit: then so is every run of it.
  if (s.length - texts - tags > maxText) return undefined;
  let digest: Digest;
  if (builder instanceof DigestBuilder) {
    if (origin !== undefined) builder.origin(origin);
    digest = builder.finish();
  } else {
    digest = madeWhenAsked(origin === undefined ? undefined : ownString(origin.trim()), s, prefix, limits, source, builder.ticks);
  }
  // Two entries for one endpoint are one in the digest, which a copy of the text would not say.
  const size = builder instanceof DigestBuilder ? digest.entries.size : builder.size;
  const asWritten = typeof content !== 'string' ? [content] : bytes;
  return { digest, written: plain && entries === size && asWritten !== undefined ? wrapped(prefix, asWritten) : undefined };
}

/**
 * The lazy digest of a content read and checked: read again, the same way, when the entries are asked for. The ticks
 * kept are told once (to the decider that makes a table of them), then read again like the entries. A function of
 * its own: a closure made in scanDigest would keep all of that function's variables for as long as the digest lives
 * (the checker's endpoints and kept ticks among them: ~20,000 strings for a 10,000-endpoint digest).
 */
function madeWhenAsked(origin: string | undefined, s: string, prefix: string, limits: DigestScanLimits, source: string, told: DigestTicks | undefined): Digest {
  const again = (): ScannedDigest => scanDigest(s, prefix, limits, source)!;
  const ticks = told === undefined ? undefined : (): DigestTicks => {
    const t = told ?? digestTicks(again().digest);
    told = undefined;
    return t;
  };
  return lazyDigest(origin, () => again().digest.entries, ticks);
}

/**
 * When the digest's entries are made: `now`; when first asked for (`asked`: a feed head's, whose element as written is
 * all a one-page plan needs); or when asked for, the keys and ticks kept at once for a decider (`ticks`: a target
 * digest document's, protocol/digest.ts digestTicks).
 */
export type DigestMade = 'now' | 'asked' | 'ticks';

/** A digest the scanner read, and its element as written when it can stand for the digest in a feed's head. */
export interface ScannedDigest {
  digest: Digest;
  /**
   * The `sync:digest` element's UTF-8 (ASCII) in pieces, the content's bytes as they stood (kept, not copied): what
   * serializeDigest(digest) writes but for the white space between elements and the order of the entries (a prefix
   * other than `sync` is declared on the element itself).
   * Undefined when a value would be written otherwise: text trimmed, a tick not canonical (`007`, `+7`), a
   * conflictPriority absent or not written as its number, an endpoint named twice.
   */
  written: readonly Uint8Array[] | undefined;
}

/** The text has no space at either end (the scanner's texts hold no other white space): the builder keeps it as it is. */
function untrimmed(t: string): boolean {
  return t.charCodeAt(0) !== 32 && t.charCodeAt(t.length - 1) !== 32;
}

/** A tick the builder accepted is canonical when it starts with a digit other than 0 (or is 0) and ends with a digit. */
function canonicalTick(t: string): boolean {
  const first = t.charCodeAt(0);
  const last = t.charCodeAt(t.length - 1);
  return ((first >= 49 && first <= 57) || t === '0') && last >= 48 && last <= 57;
}

function wrapped(prefix: string, content: readonly Uint8Array[]): Uint8Array[] {
  const q = prefix === '' ? '' : `${prefix}:`;
  const decl = prefix === 'sync' ? '' : prefix === '' ? ` xmlns="${NS.sync}"` : ` xmlns:${prefix}="${NS.sync}"`;
  return [Buffer.from(`<${q}digest${decl}>`), ...content, Buffer.from(`</${q}digest>`)];
}

/** Whether `text` is all ASCII: its UTF-8 length equals its UTF-16 one (a latin1 copy would turn any other character into some byte). */
export function isAscii(text: string): boolean {
  return Buffer.byteLength(text) === text.length;
}

/**
 * A parser's position in the document when it did not read a stretch of it (a digest's content, read by the scanner
 * instead): its own line and column until then, shifted past the stretch afterwards. One stretch per document.
 */
export class SkippedText implements Position {
  private readonly p: Position;
  /** The parser's line and column where the stretch was (0: nothing skipped yet). */
  private atLine = 0;
  private atColumn = 0;
  /** Line ends in the stretch, and characters after its last. */
  private lines = 0;
  private tail = 0;

  constructor(p: Position) {
    this.p = p;
  }

  reset(): void {
    this.atLine = this.atColumn = this.lines = this.tail = 0;
  }

  get skipped(): boolean {
    return this.atLine > 0;
  }

  /** The parser stands just before `text` (ASCII, as bytes or text), which it will not read. */
  skip(text: Uint8Array | string): void {
    this.atLine = this.p.line;
    this.atColumn = this.p.column;
    const bytes = typeof text !== 'string';
    const at = (i: number): number => (bytes ? text[i]! : text.charCodeAt(i));
    const find = (c: number, from: number): number => (bytes ? text.indexOf(c, from) : text.indexOf(String.fromCharCode(c), from));
    let lines = 0;
    let last = 0;
    for (let i = find(10, 0); i >= 0; i = find(10, i + 1)) {
      lines++;
      last = i + 1;
    }
    // A CR alone ends a line too, as saxes counts them (CR LF is one, counted at its LF).
    for (let i = find(13, 0); i >= 0; i = find(13, i + 1)) {
      if (at(i + 1) !== 10) {
        lines++;
        if (i + 1 > last) last = i + 1;
      }
    }
    this.lines = lines;
    this.tail = text.length - last;
  }

  get line(): number {
    const l = this.p.line;
    return this.atLine === 0 || l < this.atLine ? l : l + this.lines;
  }

  get column(): number {
    const c = this.p.column;
    if (this.atLine === 0 || this.p.line !== this.atLine) return c;
    return this.lines === 0 ? c + this.tail : c - this.atColumn + this.tail;
  }
}
