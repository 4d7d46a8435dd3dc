/**
 * The one entity policy of every reader, XML 1.0's: the five predefined entities (`&amp;` `&lt;` `&gt;` `&quot;`
 * `&apos;`) and character references (`&#233;`, `&#xE9;`: lower-case `x`) are decoded; anything else after `&` is a
 * well-formedness error at its position: an undefined entity (we refuse every DOCTYPE, so no other can be
 * defined), a reference to a character XML does not allow (`&#0;`, a surrogate, beyond U+10FFFF), or an `&` that
 * starts no reference. saxes applies the same rules to what it reads (test/xml/entities.test.ts holds the two
 * together); this decoder is for text the readers cut out of the source themselves.
 */

const PREDEFINED: ReadonlyMap<string, string> = new Map([['amp', '&'], ['lt', '<'], ['gt', '>'], ['quot', '"'], ['apos', "'"]]);

/** Called with the offset of the offending `&` in the text given and what is wrong; returns the error to throw. */
export type BadReference = (offset: number, problem: string) => Error;

/** XML 1.0's Char production (1.1 also allows U+0001–U+001F, by reference only). */
function isChar(c: number, xml11: boolean): boolean {
  if (c < 0x20) return c === 9 || c === 10 || c === 13 || (xml11 && c >= 1);
  return c <= 0xd7ff || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

const NAME = /^[A-Za-z_:\u00C0-\uFFFF][A-Za-z0-9_:.\-\u00B7-\uFFFF]*$/;

/**
 * Decodes the references in `text` (which holds no markup); see the policy above. `offset` is added to the offsets
 * reported to `bad` (where `text` starts in what the caller reports about); `xml11`: the document is XML 1.1.
 */
export function decodeEntities(text: string, bad: BadReference, offset = 0, xml11 = false): string {
  let amp = text.indexOf('&');
  if (amp < 0) return text;
  let out = '';
  let from = 0;
  while (amp >= 0) {
    out += text.slice(from, amp);
    const semi = text.indexOf(';', amp + 1);
    // A name or a number, never white space or another '&': anything else is no reference.
    const ref = semi < 0 ? '' : text.slice(amp + 1, semi);
    out += referenceValue(ref, offset + amp, bad, xml11);
    from = semi + 1;
    amp = text.indexOf('&', from);
  }
  return out + text.slice(from);
}

function referenceValue(ref: string, at: number, bad: BadReference, xml11: boolean): string {
  if (ref.charCodeAt(0) === 35 /* # */) {
    const hex = ref.charCodeAt(1) === 120 /* x */;
    const digits = ref.slice(hex ? 2 : 1);
    const code = (hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits) ? parseInt(digits, hex ? 16 : 10) : NaN;
    if (!isChar(code, xml11)) throw bad(at, `invalid character reference '&${ref};'`);
    return String.fromCodePoint(code);
  }
  const v = PREDEFINED.get(ref);
  if (v !== undefined) return v;
  if (NAME.test(ref)) throw bad(at, `undefined entity '&${ref};' (only the five predefined entities exist: DOCTYPE is refused)`);
  throw bad(at, "'&' that starts no reference (write it as &amp;)");
}
