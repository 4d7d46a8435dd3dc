/**
 * Character classes and references for the byte scanners (piece-scanner.ts): the ASCII part of XML 1.0's name
 * characters and the references saxes accepts, as the scanners test them on a Latin-1 view of UTF-8 (where every
 * ASCII character is itself and every other byte is >= 0x80).
 */

export const LT = 60;
export const GT = 62;
export const SLASH = 47;
export const BANG = 33;
export const QMARK = 63;
export const EQ = 61;
export const DQ = 34;
export const SQ = 39;
export const COLON = 58;
const AMP = 38;
const SEMI = 59;
const HASH = 35;

export const NAME_START = 1;
export const NAME_CHAR = 2;

/**
 * NAME_CHAR: ASCII NameChar of XML 1.0 (5th ed.) but ':'; NAME_START: ASCII NameStartChar but ':'. A name with
 * other characters (non-ASCII) is not for the fast path; ':' is the qname separator, handled by the scanner.
 */
export const NAME_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c);
    if (/[A-Za-z_]/.test(ch)) t[c] = NAME_START | NAME_CHAR;
    else if (/[0-9.-]/.test(ch)) t[c] = NAME_CHAR;
  }
  return t;
})();

/** XML white space (NaN, past the end, is not). */
export function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

/** Whether `s` from `from` to `to` (the whole of it by default) is XML white space only. */
export function isBlank(s: string, from = 0, to = s.length): boolean {
  for (let i = from; i < to; i++) if (!isSpace(s.charCodeAt(i))) return false;
  return true;
}

/** XML 1.0's Char production, for character references (saxes' isChar10). */
export function isChar10(c: number): boolean {
  return c === 9 || c === 10 || c === 13 || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/**
 * The end (just after `;`) of the reference whose `&` is at `a`, when it is one saxes accepts and the scanner knows
 * (the five predefined entities; `&#N;` and `&#xH;` of an XML character with at most 7 digits); -1 otherwise
 * (saxes refuses it, or, with leading zeros past 7 digits, reads it: the caller leaves either to saxes).
 */
export function referenceEnd(s: string, a: number): number {
  if (s.charCodeAt(a) !== AMP) return -1;
  const c = s.charCodeAt(a + 1);
  if (c === HASH) {
    let i = a + 2;
    const hex = s.charCodeAt(i) === 120; // lower-case x only, as saxes
    if (hex) i++;
    const from = i;
    let v = 0;
    for (;; i++) {
      const d = s.charCodeAt(i);
      if (d === SEMI) break;
      if (i - from >= 7) return -1;
      if (d >= 48 && d <= 57) v = v * (hex ? 16 : 10) + d - 48;
      else if (hex && (d | 32) >= 97 && (d | 32) <= 102) v = v * 16 + (d | 32) - 87;
      else return -1;
    }
    return i > from && isChar10(v) ? i + 1 : -1;
  }
  switch (c) {
    case 97: // a
      if (s.startsWith('amp;', a + 1)) return a + 5;
      return s.startsWith('apos;', a + 1) ? a + 6 : -1;
    case 108: // l
      return s.startsWith('lt;', a + 1) ? a + 4 : -1;
    case 103: // g
      return s.startsWith('gt;', a + 1) ? a + 4 : -1;
    case 113: // q
      return s.startsWith('quot;', a + 1) ? a + 6 : -1;
    default:
      return -1;
  }
}

/**
 * Line and column after a primer of `primerColumns` characters and the Latin-1 view `s` of a piece, counted as saxes
 * does (code points: UTF-8 continuation bytes do not count; CR LF and a lone CR end a line), into `at`.
 */
export function endPosition(s: string, primerColumns: number, at: { line: number; column: number }): void {
  let lines = 0;
  let last = -1;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) {
    lines++;
    last = i;
  }
  if (s.indexOf('\r') >= 0) {
    for (let i = s.indexOf('\r'); i >= 0; i = s.indexOf('\r', i + 1)) {
      if (s.charCodeAt(i + 1) !== 10) {
        lines++;
        if (i > last) last = i;
      }
    }
  }
  let col = 0;
  for (let i = last + 1; i < s.length; i++) if ((s.charCodeAt(i) & 0xc0) !== 0x80) col++;
  at.line = 1 + lines;
  at.column = last < 0 ? primerColumns + col : col;
}

/** Whether the `len` characters at `a` and at `b` in `s` are the same. */
export function same(s: string, a: number, b: number, len: number): boolean {
  for (let k = 0; k < len; k++) if (s.charCodeAt(a + k) !== s.charCodeAt(b + k)) return false;
  return true;
}

/**
 * The end of the ASCII qname whose first character, at `start`, the caller has checked; its colon's offset goes to
 * `at.colon` (-1: none). -1 when a colon does not stand between two name characters: qnames have one colon between
 * a prefix and a local part, both non-empty (saxes' qname()).
 */
export function qnameEnd(s: string, start: number, at: { colon: number }): number {
  let i = start;
  let colon = -1;
  for (;;) {
    const c = s.charCodeAt(++i);
    if (c < 128 && (NAME_CLASS[c]! & NAME_CHAR) !== 0) continue;
    if (c !== COLON || colon >= 0) break;
    colon = i;
    const d = s.charCodeAt(i + 1);
    if (!(d < 128 && (NAME_CLASS[d]! & NAME_CHAR) !== 0)) return -1;
  }
  at.colon = colon;
  return i;
}
