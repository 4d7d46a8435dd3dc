import { Buffer } from 'node:buffer';
import { DigestBuilder, type Digest } from '../protocol/digest.ts';

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

const LT = 60;

/** One element of text the scanner knows: its tags as bytes, and (for those that mostly repeat) its last text. */
interface Element {
  local: string;
  open: Uint8Array;
  close: Uint8Array;
  last: string;
}

/**
 * The fast path of a digest: reads the content of a `<P:digest>` element — the characters between its start tag and
 * its end tag, both written exactly so, with `P:` the prefix of the digest's own name ('' for none) — when it is written
 * the plain way: white space, `P:origin`, and `P:digestEntry` elements holding `P:endpoint`, `P:tick`, `P:stamp` and
 * `P:conflictPriority`, every tag without attributes or white space, all text printable ASCII without `&` or `>`.
 * Anything else (comments, CDATA, other elements or prefixes, an attribute, a line break inside a text, a non-ASCII
 * character, a limit crossed, a digest the builder refuses) returns undefined, and the caller reads the content with
 * saxes as before: the scanner only takes what that parse would accept, and gives the same digest
 * (test/xml/digest-scanner.test.ts compares them).
 *
 * Why: a digest names one entry per endpoint, and one of 10,000 endpoints is ~2.5 MB that saxes, with its objects per
 * tag and its garbage, read in 45-80 ms; a plan reads two (the target's digest, the feed head's). Every byte is looked
 * at once, in a byte copy of the content, and the strings kept are cut from that copy (latin1): each is its own flat
 * one-byte string, not a slice keeping the input alive, nor two-byte because the text it came from held a non-Latin-1
 * character somewhere else (docs/decisions/0034-digest-scanner.md).
 */
export function scanDigestContent(content: string, prefix: string, limits: DigestScanLimits, source = ''): Digest | undefined {
  // All ASCII: a UTF-8 length equal to the UTF-16 one (a latin1 copy would turn any other character into some byte).
  if (limits.depthLeft < 2 || prefix.length + 17 > limits.maxNameBytes || Buffer.byteLength(content) !== content.length) return undefined;
  const b = Buffer.from(content, 'latin1');
  const n = b.length;
  const q = prefix === '' ? '' : `${prefix}:`;
  const element = (local: string): Element => ({ local, open: Buffer.from(`<${q}${local}>`, 'latin1'), close: Buffer.from(`</${q}${local}>`, 'latin1'), last: '' });
  const entry = element('digestEntry');
  const origin = element('origin');
  const endpoint = element('endpoint');
  const tick = element('tick');
  const stamp = element('stamp');
  const prio = element('conflictPriority');
  /** Where a child's local name begins, after `<` and the prefix. */
  const local = 1 + q.length;
  const builder = new DigestBuilder(source);
  const maxText = limits.maxText;
  let i = 0;
  let inEntry = false;
  const at = (t: Uint8Array, k: number): boolean => {
    if (k + t.length > n) return false;
    for (let m = 0; m < t.length; m++) if (b[k + m] !== t[m]) return false;
    return true;
  };
  /** Past white space (a text run between two tags); false when it is longer than the limit. */
  const space = (): boolean => {
    const from = i;
    while (i < n) {
      const c = b[i]!;
      if (c !== 32 && c !== 10 && c !== 9 && c !== 13) break;
      i++;
    }
    return i - from <= maxText;
  };
  /** An element of text whose start tag is at i: printable ASCII but `&` and `>` up to its end tag. */
  const text = (e: Element, repeats: boolean): boolean => {
    const from = i + e.open.length;
    let to = from;
    for (; to < n; to++) {
      const c = b[to]!;
      if (c === LT) break;
      if (c < 32 || c === 38 || c === 62 || c === 127) return false;
    }
    if (to - from > maxText || !at(e.close, to)) return false;
    let t: string;
    if (repeats && to - from === e.last.length && content.startsWith(e.last, from)) t = e.last;
    else t = b.toString('latin1', from, to);
    if (repeats) e.last = t;
    builder.fieldText(e.local, t);
    i = to + e.close.length;
    return true;
  };
  try {
    for (;;) {
      if (!space()) return undefined;
      if (i === n) break;
      if (b[i] !== LT) return undefined;
      if (inEntry) {
        if (at(entry.close, i)) {
          builder.endEntry(false);
          inEntry = false;
          i += entry.close.length;
          continue;
        }
        const c = b[i + local];
        const e = c === 101 /* e */ ? endpoint : c === 116 /* t */ ? tick : c === 115 /* s */ ? stamp : c === 99 /* c */ ? prio : undefined;
        if (e === undefined || !at(e.open, i) || !text(e, e === stamp || e === prio)) return undefined;
      } else if (at(entry.open, i)) {
        builder.begin('digestEntry');
        inEntry = true;
        i += entry.open.length;
      } else if (!at(origin.open, i) || !text(origin, false)) {
        return undefined;
      }
    }
  } catch {
    // The builder refused an entry: the caller's parse reports it, at its line and column.
    return undefined;
  }
  return inEntry ? undefined : builder.finish();
}

/** Where a parser stands, as the readers report it. */
export interface Position {
  readonly line: number;
  readonly column: number;
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

  /** The parser stands just before `text`, which it will not read. */
  skip(text: string): void {
    this.atLine = this.p.line;
    this.atColumn = this.p.column;
    let lines = 0;
    let last = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) {
      lines++;
      last = i + 1;
    }
    // A CR alone ends a line too, as saxes counts them (CR LF is one, counted at its LF). ASCII only: the scanner's.
    for (let i = text.indexOf('\r'); i >= 0; i = text.indexOf('\r', i + 1)) {
      if (text.charCodeAt(i + 1) !== 10) {
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

/**
 * A streamed digest's content, gathered from the text after its start tag until its end tag (a feed head's digest
 * arrives in slices): then `content()` is the scanner's and `rest()` what follows, from the end tag on. Bounded: more
 * than `max` characters without the end tag is `over`. Each part is kept as it came, with whether the reader checked
 * its limits after it, so that a reader that gives up on the scanner replays exactly what it would have read.
 */
export class DigestCollector {
  /** The prefix of the digest's name ('' for none). */
  readonly prefix: string;
  private readonly endTag: string;
  private readonly max: number;
  private readonly parts: string[] = [];
  private readonly checked: boolean[] = [];
  private length = 0;
  /** The last characters gathered (an end tag may begin in one part and end in the next). */
  private tail = '';
  /** Where the end tag begins, in all that was gathered (-1: not yet). */
  private endAt = -1;

  constructor(qname: string, max: number) {
    const colon = qname.indexOf(':');
    this.prefix = colon < 0 ? '' : qname.slice(0, colon);
    this.endTag = `</${qname}>`;
    this.max = max;
  }

  /** Gathers `text`; true once the end tag is in. */
  add(text: string): boolean {
    const probe = this.tail + text;
    const k = probe.indexOf(this.endTag);
    if (k >= 0) this.endAt = this.length - this.tail.length + k;
    this.parts.push(text);
    this.checked.push(false);
    this.length += text.length;
    this.tail = probe.slice(-(this.endTag.length - 1));
    return k >= 0;
  }

  /** The reader checked its limits after the last part. */
  checkedHere(): void {
    if (this.checked.length > 0) this.checked[this.checked.length - 1] = true;
  }

  get over(): boolean {
    return this.endAt < 0 && this.length > this.max + this.endTag.length;
  }

  /** Everything from the start tag to the end tag (once `add` said it is in). */
  content(): string {
    return this.all().slice(0, this.endAt);
  }

  /** What follows the content: the end tag and what came after it in the same part. */
  rest(): string {
    return this.all().slice(this.endAt);
  }

  /** Everything gathered, in the parts it came in, each with whether limits were checked after it. */
  replay(read: (text: string) => void, check: () => void): void {
    for (let k = 0; k < this.parts.length; k++) {
      read(this.parts[k]!);
      if (this.checked[k]) check();
    }
  }

  private joined: string | undefined;
  private all(): string {
    return (this.joined ??= this.parts.join(''));
  }
}
