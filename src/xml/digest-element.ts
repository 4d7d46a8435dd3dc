import { isAscii as isAsciiBytes } from 'node:buffer';
import type { SaxesTagNS } from 'saxes';
import { DigestBuilder, type Digest, type Position } from '../protocol/digest.ts';
import { NS } from '../protocol/namespaces.ts';
import { DIGEST_START_TAG, isAscii, scanDigest, type DigestMade, type DigestScanLimits } from './digest-scanner.ts';
import { latin1Text } from './encoding.ts';
import { MAX_DIGEST_BYTES } from './limits.ts';

const DIGEST_START = new RegExp(DIGEST_START_TAG, 'g');

/** What a reader lends the digest element's reading. */
export interface DigestElementHost {
  /** saxes reads `text` (as the reader reads any slice). */
  readText(text: string): void;
  /** The reader's checks between two slices (none for a document read whole). */
  checkpoint(): void;
  /** saxes stands right after the digest's start tag, which ended at `end` (characters given to readText so far). */
  standsAfter(end: number): boolean;
  /** The limits saxes would apply inside the digest. */
  limits(): DigestScanLimits;
  /** The scanner read the digest's `content` (ASCII), which saxes will not see (`written`: see ScannedDigest). */
  scanned(digest: Digest, content: Uint8Array | string, written: readonly Uint8Array[] | undefined): void;
  /**
   * Every text given to read() is a one-byte string of ASCII (a document read whole: digest-document.ts): the
   * scanner then reads the digest's content as a slice of it, without copying it twice (to bytes, and back).
   */
  readonly asciiText?: boolean;
  /** When a digest the scanner reads makes its entries (scanDigest's `made`; default `now`). */
  readonly made?: DigestMade;
}

/**
 * A reader's `sync:digest` element (a feed head's; the one of a digest document), read by the scanner
 * (xml/digest-scanner.ts) or by saxes. The text before it is read by saxes up to each digest start tag; when saxes
 * has just read one as the digest the reader wants (`begin`), the content that follows is gathered to its end tag and
 * read by the scanner, saxes going on from the end tag as if it had read the content; where the scanner declines or
 * the content passes MAX_DIGEST_BYTES, saxes reads what was gathered, in the slices it came in, and its events build
 * the digest here (begin, child, text, close). A start tag cut by a slice's end is read by saxes, as is everything else.
 */
export class DigestElement {
  private readonly host: DigestElementHost;
  private readonly source: string;
  /** The digest saxes is reading (from its start tag to its end tag), and the depth of its element. */
  private builder: DigestBuilder | undefined;
  private depth = 0;
  /** The head digest's start tag (its qname) has just been read, ending at this position. */
  private opened: { qname: string; end: number } | undefined;
  private collector: DigestCollector | undefined;
  /** Digests the scanner read (tests, benches). */
  count = 0;

  constructor(host: DigestElementHost, source: string) {
    this.host = host;
    this.source = source;
  }

  reset(): void {
    this.opened = this.collector = this.builder = undefined;
  }

  /** Between the digest's start tag and its end tag. */
  get reading(): boolean {
    return this.builder !== undefined;
  }

  get collecting(): boolean {
    return this.collector !== undefined;
  }

  /** saxes has read the digest's start tag `qname`, ending at `end`, the element at `depth`; `at` says where saxes is. */
  begin(qname: string, depth: number, end: number, at: Position): void {
    this.builder = new DigestBuilder(this.source, at);
    this.depth = depth;
    this.opened = { qname, end };
  }

  /** saxes read a start tag inside the digest: true when its text is the digest's (the reader captures it). */
  child(tag: SaxesTagNS): boolean {
    if (tag.uri !== NS.sync) return false;
    this.builder!.begin(tag.local);
    return true;
  }

  text(t: string): void {
    this.builder!.addText(t);
  }

  /** saxes read an end tag inside the digest, `depth` the depth after it: the digest, when it was the digest's own. */
  close(tag: SaxesTagNS, depth: number): Digest | undefined {
    const b = this.builder!;
    if (depth === this.depth - 1) {
      this.builder = undefined;
      return b.finish();
    }
    if (tag.uri === NS.sync) b.end(tag.local);
    return undefined;
  }

  /**
   * Text before the digest (or the document's whole text): saxes reads it, up to a digest whose content the scanner
   * can take. `bytes`: the UTF-8 `text` was decoded from, when it was (see DigestCollector.add).
   */
  read(text: string, bytes?: Uint8Array): void {
    let from = 0;
    DIGEST_START.lastIndex = 0;
    for (let m = DIGEST_START.exec(text); m !== null; m = DIGEST_START.exec(text)) {
      const to = m.index + m[0].length;
      this.host.readText(text.slice(from, to));
      from = to;
      const o = this.opened;
      this.opened = undefined;
      if (o !== undefined && this.builder !== undefined && this.host.standsAfter(o.end)) {
        this.collector = new DigestCollector(o.qname, MAX_DIGEST_BYTES);
        const rest = text.slice(from);
        // Where the text after the start tag begins in the bytes, counted from their end: the decoder held nothing
        // back there when the last byte is ASCII (counted from the start, a character begun in the previous bytes
        // would shift it).
        const at = bytes === undefined || (bytes.length > 0 && bytes[bytes.length - 1]! >= 0x80) ? -1 : bytes.length - Buffer.byteLength(rest);
        this.collect(rest, at >= 0 ? bytes!.subarray(at) : undefined);
        return;
      }
    }
    this.host.readText(from === 0 ? text : text.slice(from));
  }

  /** Text inside the digest being gathered (`bytes`: see DigestCollector.add). */
  collect(text: string, bytes?: Uint8Array): void {
    const c = this.collector!;
    if (!c.add(text, bytes)) {
      if (c.over) this.giveUp();
      return;
    }
    const parts = this.host.asciiText === true ? undefined : c.contentParts();
    const content = this.host.asciiText === true ? c.contentText() : parts !== undefined ? parts.text : c.contentBytes();
    const r = content !== undefined && content.length <= MAX_DIGEST_BYTES ? scanDigest(content, c.prefix, this.host.limits(), this.source, parts?.bytes, this.host.made) : undefined;
    if (r === undefined) {
      this.giveUp();
      return;
    }
    this.collector = undefined;
    this.count++;
    // saxes reads the end tag next, which closes the digest with no builder left to finish.
    this.builder = undefined;
    this.host.scanned(r.digest, content!, r.written);
    this.host.readText(c.rest());
  }

  /** The reader checked its limits after the last slice. */
  checked(): void {
    this.collector?.checkedHere();
  }

  /** saxes reads what was gathered, from the digest's start tag on, as it would have. */
  giveUp(): void {
    const c = this.collector;
    if (!c) return;
    this.collector = undefined;
    c.replay((t) => this.host.readText(t), () => this.host.checkpoint());
  }
}

/**
 * A streamed digest's content, gathered from the text after its start tag until its end tag (a feed head's digest
 * arrives in slices): then `contentBytes()` is the scanner's and `rest()` what follows, from the end tag on. Bounded: more
 * than `max` characters without the end tag is `over`. Each part is kept as it came, with whether the reader checked
 * its limits after it, so that a reader that gives up on the scanner replays exactly what it would have read.
 */
export class DigestCollector {
  /** The prefix of the digest's name ('' for none). */
  readonly prefix: string;
  private readonly endTag: string;
  private readonly max: number;
  /**
   * Each part as text, or undefined where its bytes are exactly its characters (ASCII, as many): then only the bytes
   * are kept. A 10,000-endpoint digest arrives as ~40 parts of 64 KiB, which kept as text outlived several young
   * collections and were copied by each (~2.5 MB); the bytes are outside V8's heap, and the text is made again once.
   */
  private readonly parts: (string | undefined)[] = [];
  /** The bytes each part was decoded from, from its first character on, where known. */
  private readonly views: (Uint8Array | undefined)[] = [];
  private readonly lengths: number[] = [];
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

  /**
   * Gathers `text`; true once the end tag is in. `bytes`, when given, are what the text was decoded from, from its
   * first character on: where they are all ASCII they are its characters (contentParts), and the content is then read
   * from them rather than from copies of the text.
   */
  add(text: string, bytes?: Uint8Array): boolean {
    const tag = this.endTag;
    // Across the boundary first (a few characters), then in the part itself (no concatenation of the two).
    const across = (this.tail + text.slice(0, tag.length - 1)).indexOf(tag);
    if (across >= 0) this.endAt = this.length - this.tail.length + across;
    else {
      const k = text.indexOf(tag);
      if (k >= 0) this.endAt = this.length + k;
    }
    const exact = bytes !== undefined && bytes.length === text.length && isAsciiBytes(bytes);
    this.parts.push(exact ? undefined : text);
    this.views.push(bytes);
    this.lengths.push(text.length);
    this.checked.push(false);
    this.length += text.length;
    const keep = tag.length - 1;
    this.tail = text.length >= keep ? text.slice(-keep) : (this.tail + text).slice(-keep);
    return this.endAt >= 0;
  }

  /** The reader checked its limits after the last part. */
  checkedHere(): void {
    if (this.checked.length > 0) this.checked[this.checked.length - 1] = true;
  }

  get over(): boolean {
    return this.endAt < 0 && this.length > this.max + this.endTag.length;
  }

  /**
   * Everything from the start tag to the end tag (once `add` said it is in), as bytes, written part by part (never one
   * string: a part decoded from a chunk with one non-Latin-1 character is two-byte, and so would be the whole join);
   * undefined unless all ASCII.
   */
  contentBytes(): Buffer | undefined {
    const out = Buffer.allocUnsafe(this.endAt);
    let at = 0;
    for (let k = 0; k < this.parts.length; k++) {
      if (at >= this.endAt) break;
      const part = this.text(k);
      const t = at + part.length > this.endAt ? part.slice(0, this.endAt - at) : part;
      if (!isAscii(t)) return undefined;
      out.write(t, at, 'latin1');
      at += t.length;
    }
    return out;
  }

  /**
   * The content as one-byte text and as the bytes it came in, without copying it twice (to bytes, and back to text
   * for the scanner: ~9 ms and 2.5 MB of fresh memory for a 10,000-endpoint digest, decision 0041): when every part
   * up to the end tag came with its bytes and they are all ASCII. The text is made from the bytes (one-byte, where a
   * part decoded from bytes with another character somewhere would be two-byte); the bytes are views, not copies.
   */
  contentParts(): { text: string; bytes: Uint8Array[] } | undefined {
    const texts: string[] = [];
    const bytes: Uint8Array[] = [];
    for (let k = 0, at = 0; at < this.endAt; at += this.lengths[k++]!) {
      const v = this.views[k];
      const n = this.lengths[k]!;
      const take = Math.min(n, this.endAt - at);
      // A part wholly inside the content is its bytes only if they are as many; any is, only if they are ASCII:
      // then every byte is one character, and none began before the bytes given (its other bytes are not ASCII).
      if (v === undefined || v.length < take || (take === n && v.length !== n)) return undefined;
      const b = v.subarray(0, take);
      if (!isAsciiBytes(b)) return undefined;
      bytes.push(b);
      texts.push(latin1Text(b));
    }
    return { text: texts.length === 1 ? texts[0]! : texts.join(''), bytes };
  }

  /** Everything from the start tag to the end tag as text: a slice of the one part, or the parts joined. */
  contentText(): string {
    const first = this.text(0);
    return first.length >= this.endAt ? first.slice(0, this.endAt) : this.parts.map((_, k) => this.text(k)).join('').slice(0, this.endAt);
  }

  /** Part k's text. */
  private text(k: number): string {
    return this.parts[k] ?? latin1Text(this.views[k]!);
  }

  /** What follows the content: the end tag and what came after it (in the last part, or the last two). */
  rest(): string {
    let at = 0;
    let k = 0;
    while (at + this.lengths[k]! <= this.endAt) at += this.lengths[k++]!;
    let rest = this.text(k).slice(this.endAt - at);
    while (++k < this.parts.length) rest += this.text(k);
    return rest;
  }

  /** Everything gathered, in the parts it came in, each with whether limits were checked after it. */
  replay(read: (text: string) => void, check: () => void): void {
    for (let k = 0; k < this.parts.length; k++) {
      read(this.text(k));
      if (this.checked[k]) check();
    }
  }
}
