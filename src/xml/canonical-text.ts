import { SdataError } from '../protocol/errors.ts';
import { NS } from '../protocol/namespaces.ts';
import { uuidKey } from '../protocol/uuid.ts';
import type { BadReference } from './entities.ts';

/**
 * The canonical form's text rules (canonical-writer.ts): escaping as Canonical XML escapes, character data with
 * references written in one pass, the order of names and uuids, and text read as UTF-8 bytes.
 */

/**
 * Text read as bytes (PayloadText.bytes) is handled as it is wherever XML's syntax is ASCII, which is nearly
 * everywhere; what decodes references, trims or changes case goes through characters and back, so that the output is
 * byte for byte the UTF-8 of the output from characters (test/xml/canonical-bytes.test.ts compares the two).
 */
/** A character outside ASCII (in a Latin-1 view of UTF-8: a byte of a multi-byte sequence). Stateless: shared. */
export const NON_ASCII = /[^\x00-\x7f]/;
export const toChars = (s: string): string => (NON_ASCII.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s);
export const toBytes = (s: string): string => (NON_ASCII.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s);

export const bad: BadReference = (at, problem) => new SdataError('SDATA_E_MALFORMED', `payload, character ${at}: ${problem}`);

const TEXT_SPECIAL = /[&<>\r]/;
export const TAB_LF_CR = /[\t\n\r]/;
const ATTR_SPECIAL = /[&<"\t\n\r]/;

const ESCAPED: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\t': '&#x9;', '\n': '&#xA;', '\r': '&#xD;' };
const escaped = (c: string): string => ESCAPED[c]!;

/** Character data as Canonical XML escapes it. */
export function escText(s: string): string {
  return TEXT_SPECIAL.test(s) ? s.replace(/[&<>\r]/g, escaped) : s;
}

/** An attribute value as Canonical XML escapes it. */
export function escAttr(s: string): string {
  return ATTR_SPECIAL.test(s) ? s.replace(/[&<"\t\n\r]/g, escaped) : s;
}

/**
 * Namespace URIs as one string object each, so that testing one (NS.sdata, a parent's namespace) is a pointer
 * comparison rather than a character loop over two equal long strings. Bounded: feeds use few namespaces.
 */
const interned = new Map<string, string>(Object.values(NS).map((u) => [u, u]));
export function intern(uri: string): string {
  const u = interned.get(uri);
  if (u !== undefined) return u;
  if (interned.size < 1000) interned.set(uri, uri);
  return uri;
}

/** A uuid as compared (protocol/uuid.ts); read as bytes, anything but printable ASCII goes through characters. */
export function uuidOf(v: string, bytes: boolean): string {
  if (bytes) for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 126) return toBytes(uuidKey(toChars(v)));
  return uuidKey(v);
}

/**
 * The canonical (escaped) text of a run of character data that holds references but no markup, CR or run of only
 * white space, read in one pass without decoding the run to characters and back, appended to `out` piece by piece;
 * false (and `out` as it was) for anything else, which rawToText reads. A character reference becomes its character
 * (its UTF-8 bytes when `bytes`), escaped as Canonical XML escapes it. Pieces, not a string built by `+=`: V8 keeps
 * such a string as a tree of concatenations, ~3x the text until it is flattened, and a 15 MB run of text with
 * references ran verify out of heap (test/engine/verify-large.test.ts).
 */
export function quickText(f: string, from: number, to: number, bytes: boolean, out: string[]): boolean {
  const mark = out.length;
  let seg = from;
  let blank = true;
  for (let i = from; i < to; i++) {
    const c = f.charCodeAt(i);
    if (c === 38) {
      const semi = f.indexOf(';', i + 2);
      if (semi < 0 || semi >= to) return undo(out, mark);
      let rep: string;
      if (f.charCodeAt(i + 1) === 35) {
        const hex = f.charCodeAt(i + 2) === 120;
        const cp = Number.parseInt(f.slice(i + (hex ? 3 : 2), semi), hex ? 16 : 10);
        // Only characters XML allows (the readers have checked; anything else is left to rawToText's message).
        if (!(cp >= 32 ? cp < 0xd800 || (cp >= 0xe000 && cp <= 0x10ffff && cp !== 0xfffe && cp !== 0xffff) : cp === 9 || cp === 10 || cp === 13)) return undo(out, mark);
        if (cp === 38) rep = '&amp;';
        else if (cp === 60) rep = '&lt;';
        else if (cp === 62) rep = '&gt;';
        else if (cp === 13) rep = '&#xD;';
        else if (cp < 128) rep = String.fromCharCode(cp);
        else rep = bytes ? Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1') : String.fromCodePoint(cp);
        if (cp !== 32 && cp !== 9 && cp !== 10 && cp !== 13) blank = false;
      } else {
        const name = f.slice(i + 1, semi);
        if (name === 'amp') rep = '&amp;';
        else if (name === 'lt') rep = '&lt;';
        else if (name === 'gt') rep = '&gt;';
        else if (name === 'quot') rep = '"';
        else if (name === 'apos') rep = "'";
        else return undo(out, mark);
        blank = false;
      }
      if (i > seg) out.push(f.slice(seg, i));
      out.push(rep);
      seg = semi + 1;
      i = semi;
    } else if (c === 62) {
      if (i > seg) out.push(f.slice(seg, i));
      out.push('&gt;');
      seg = i + 1;
      blank = false;
    } else if (c === 60 || c === 13) {
      return undo(out, mark);
    } else if (blank && c !== 32 && c !== 10 && c !== 9) {
      blank = false;
    }
  }
  if (blank) return undo(out, mark);
  if (to > seg) out.push(f.slice(seg, to));
  return true;
}

/** `out` back to its first `mark` pieces (rare: a run quickText does not read, after some of it was written). */
function undo(out: string[], mark: number): false {
  out.length = mark;
  return false;
}

/**
 * Code point order: the same for a string and its UTF-8 bytes (UTF-16 code units order U+E000–U+FFFF after the
 * surrogates of U+10000 and up; the first difference is compared with the surrogates moved above them).
 */
export function cmp(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  return (x >= 0xd800 ? (x < 0xe000 ? x + 0x2000 : x - 0x800) : x) - (y >= 0xd800 ? (y < 0xe000 ? y + 0x2000 : y - 0x800) : y);
}

