/**
 * The one encoding policy of every reader (docs/engine-rules.md §4: one streaming UTF-8 decoder per document; another declared
 * encoding is refused):
 * - input is UTF-8, strictly: a byte sequence that is not UTF-8 is an error naming the bytes;
 * - a UTF-8 byte order mark is allowed (and is not part of the text); a UTF-16 or UTF-32 one, or the first
 *   characters of a document written in one of those (XML 1.0 appendix F), is refused naming that encoding;
 * - the XML declaration may name `UTF-8`, in any case (XML 1.0 §4.3.3: names match case-insensitively); any other
 *   name is refused, by name, with its position. `utf8` is not a name of UTF-8 (IANA has none such), and `US-ASCII`,
 *   a subset, is refused too: a document declaring it is not the UTF-8 document we would read it as.
 */

import { Buffer, isAscii } from 'node:buffer';
import { SdataError } from '../protocol/errors.ts';

/** An encoding refused at a position of the text given (1-based line and column, like an editor's). */
export interface EncodingRefusal {
  message: string;
  offset: number;
  line: number;
  column: number;
}

/** The encoding the first bytes (or code units) of a document show, when it is UTF-16 or UTF-32; else undefined. */
export function foreignEncoding(b: ArrayLike<number>): string | undefined {
  const b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
  if (b0 === 0 && b1 === 0 && ((b2 === 0xfe && b3 === 0xff) || (b2 === 0 && b3 === 0x3c))) return 'UTF-32BE';
  if (b0 === 0xff && b1 === 0xfe && b2 === 0 && b3 === 0) return 'UTF-32LE';
  if (b0 === 0x3c && b1 === 0 && b2 === 0 && b3 === 0) return 'UTF-32LE';
  if ((b0 === 0xfe && b1 === 0xff) || (b0 === 0 && b1 === 0x3c)) return 'UTF-16BE';
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0x3c && b1 === 0)) return 'UTF-16LE';
  return undefined;
}

function foreignMessage(name: string): string {
  return `input is ${name}; only UTF-8 is supported`;
}

/** 1-based line and column of `offset` in `text`. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

const DECL = /^<\?xml[ \t\r\n]/;
const ENCODING = /[ \t\r\n]encoding[ \t\r\n]*=[ \t\r\n]*(["'])([^"']*)\1/;

/**
 * Checks the XML declaration that `text` starts with, if it starts with one (only the declaration is read):
 * undefined when it names no encoding or names UTF-8.
 */
export function declarationRefusal(text: string): EncodingRefusal | undefined {
  if (!DECL.test(text)) return undefined;
  const end = text.indexOf('?>');
  const m = ENCODING.exec(end < 0 ? text : text.slice(0, end));
  if (m === null) return undefined;
  const name = m[2]!;
  if (name.toLowerCase() === 'utf-8') return undefined;
  const offset = m.index + m[0].length - 1 - name.length;
  return { message: `declared encoding '${name}' is not supported (only UTF-8)`, offset, ...lineColumn(text, offset) };
}

/**
 * A whole document that someone else decoded to a string (a file read as UTF-8, a small HTTP body): its text
 * without the byte order mark, or the refusal. A UTF-16 or UTF-32 document decoded as UTF-8 shows as replacement
 * characters and NULs, which `foreignEncoding` recognises as well as the bytes themselves.
 */
export function documentText(text: string): string | EncodingRefusal {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const name = foreignEncoding(asBytes(text));
  if (name !== undefined) return { message: foreignMessage(name), offset: 0, line: 1, column: 1 };
  return declarationRefusal(text) ?? text;
}

/** The error for a refusal of `source`'s encoding (readers with positions of their own make theirs). */
export function encodingError(source: string, r: EncodingRefusal): SdataError {
  const { line, column } = r;
  return new SdataError('SDATA_E_ENCODING', `${source}:${line}:${column}: ${r.message}`, { source, line, column });
}

/**
 * The first bytes of a document decoded as UTF-8 by someone else, for foreignEncoding: ASCII and NULs are as they
 * were; a UTF-16 or UTF-32 byte order mark became U+FFFD U+FFFD, and the NULs around it tell which it was.
 */
function asBytes(text: string): number[] {
  const c = [0, 1, 2, 3].map((i) => text.charCodeAt(i));
  if (c[0] === 0xfffd && c[1] === 0xfffd) return c[2] === 0 && c[3] !== 0 ? [0xfe, 0xff, c[2], c[3]!] : [0xff, 0xfe, c[2]!, c[3]!];
  if (c[0] === 0 && c[1] === 0 && c[2] === 0xfffd && c[3] === 0xfffd) return [0, 0, 0xfe, 0xff];
  return c;
}

const EMPTY = new Uint8Array(0);

/** How many of the last bytes of `b` (at most 3) begin a UTF-8 sequence that is not complete yet. */
function heldLength(b: Uint8Array): number {
  for (let k = 1; k <= Math.min(3, b.length); k++) {
    const c = b[b.length - k]!;
    if ((c & 0xc0) === 0x80) continue;
    const len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return len > k ? k : 0;
  }
  return 0;
}

/**
 * Index of the first byte of `b`, from `i`, that starts no well-formed UTF-8 sequence (Unicode table 3-7, as
 * TextDecoder decodes); b.length when there is none (a sequence cut short by the end is not one).
 */
function firstInvalid(b: Uint8Array, i: number): number {
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let len = 4;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k < len; k++) {
      if (i + k >= n) return n;
      const d = b[i + k]!;
      if (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf) return i;
    }
    i += len;
  }
  return n;
}

/**
 * Bytes to text for one document read in chunks: `decode()` each chunk, then `end()`. Errors go through `refuse`
 * (message, cause), so each reader puts its own source and position on them.
 */
export class Utf8Stream {
  private decoder: InstanceType<typeof TextDecoder>;
  /** Makes the error; `atStart`: it is about the document's first bytes (line 1, column 1), not where reading is. */
  private readonly refuse: (message: string, cause?: unknown, atStart?: boolean) => Error;
  private midDocument: boolean;
  /** The document's first bytes, held until there are enough of them to tell its encoding. */
  private head: Uint8Array | undefined;
  /** The last bytes decoded (at most 3): an invalid sequence found in the next chunk may have begun there. */
  private prevTail: Uint8Array = EMPTY;
  /** Bytes taken so far. */
  bytes = 0;
  /** Offset of the first byte in the whole input, for messages. */
  private byteOffset: number;
  /**
   * Set when decode() met bytes that are not UTF-8: it returned the text before them, which the caller reads before
   * refusing the input with this message at the position that text ends at. The stream is then done.
   */
  invalid: { message: string; cause: unknown } | undefined;

  /**
   * `midDocument`: the bytes continue a document after its start, where U+FEFF is a character like any other and
   * nothing is sniffed.
   */
  constructor(refuse: (message: string, cause?: unknown, atStart?: boolean) => Error, midDocument = false, byteOffset = 0) {
    this.refuse = refuse;
    this.midDocument = midDocument;
    this.byteOffset = byteOffset;
    this.decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: midDocument });
  }

  /** Starts another document (see the constructor). */
  reset(midDocument = false, byteOffset = 0): void {
    this.midDocument = midDocument;
    this.byteOffset = byteOffset;
    this.bytes = 0;
    this.head = undefined;
    this.prevTail = EMPTY;
    this.invalid = undefined;
    this.decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: midDocument });
  }

  /** The text of `bytes`; after bytes that are not UTF-8, the text before them, and `invalid` says why. */
  decode(bytes: Uint8Array): string {
    const first = this.bytes;
    this.bytes += bytes.length;
    if (this.head !== undefined || (first === 0 && !this.midDocument)) {
      // Hold the first bytes until there are 4: that many tell UTF-16 and UTF-32 from UTF-8.
      const seen = this.head === undefined ? bytes : Buffer.concat([this.head, bytes]);
      if (seen.length < 4) {
        this.head = seen;
        return '';
      }
      this.head = undefined;
      this.sniff(seen);
      return this.decodeChunk(seen, this.bytes - seen.length);
    }
    return this.decodeChunk(bytes, first);
  }

  /** The text of bytes still held; refuses a document that ends inside a character. */
  end(): string {
    let text = '';
    const held = this.head;
    if (held !== undefined) {
      this.head = undefined;
      this.sniff(held);
      text = this.decodeChunk(held, this.bytes - held.length);
    }
    try {
      return text + this.decoder.decode();
    } catch (e) {
      throw this.refuse(`input ends inside a UTF-8 sequence (byte ${this.byteOffset + this.bytes})`, e);
    }
  }

  private decodeChunk(bytes: Uint8Array, at: number): string {
    let text: string;
    try {
      text = this.decoder.decode(bytes, { stream: true });
    } catch (e) {
      // The sequence at fault may have begun in the last chunk: look from there.
      const prev = this.prevTail;
      const all = prev.length === 0 ? bytes : Buffer.concat([prev, bytes]);
      let i = 0;
      while (i < prev.length && (all[i]! & 0xc0) === 0x80) i++;
      i = firstInvalid(all, i);
      const hex = Array.from(all.subarray(i, i + 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
      this.invalid = { message: `invalid UTF-8 at byte ${this.byteOffset + at - prev.length + i} (${hex})`, cause: e };
      // What comes before the invalid byte is text the reader reads first (an encoding declaration there is the
      // better message, and the position after it is the invalid byte's): from the sequence the decoder was holding.
      const from = prev.length - heldLength(prev);
      return i > from ? new TextDecoder('utf-8').decode(all.subarray(from, i)) : '';
    }
    this.prevTail = bytes.length > 3 ? bytes.subarray(bytes.length - 3) : Buffer.concat([this.prevTail, bytes]).subarray(-3);
    return text;
  }

  private sniff(first: Uint8Array): void {
    const name = foreignEncoding(first);
    if (name !== undefined) throw this.refuse(foreignMessage(name), undefined, true);
  }
}

/** The text `bytes` read as Latin-1, one character a byte (their text when they are ASCII). */
export function latin1Text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

/** A small document received whole as bytes (a request body): its text without the byte order mark. */
export function decodeDocument(bytes: Uint8Array, source: string): string {
  // All ASCII (every digest we write, most bodies): the same characters as latin1, one byte each, without a UTF-8
  // decoder's pass (~7 ms for a 10,000-endpoint digest against a fraction of one for the check and the copy).
  if (isAscii(bytes) && foreignEncoding(bytes) === undefined) {
    const text = latin1Text(bytes);
    const r = declarationRefusal(text);
    if (r) throw encodingError(source, r);
    return text;
  }
  const input = new Utf8Stream((message, cause) => new SdataError('SDATA_E_ENCODING', `${source}: ${message}`, { source, cause }));
  let text = input.decode(bytes);
  const bad = input.invalid;
  if (bad === undefined) text += input.end();
  // A declaration before invalid bytes names the document's real encoding: the better message.
  const r = declarationRefusal(text);
  if (r) throw encodingError(source, r);
  if (bad !== undefined) {
    const { line, column } = lineColumn(text, text.length);
    throw new SdataError('SDATA_E_ENCODING', `${source}:${line}:${column}: ${bad.message}`, { source, line, column, cause: bad.cause });
  }
  return text;
}
