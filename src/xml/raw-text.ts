import { decodeEntities, type BadReference } from './entities.ts';

/**
 * The character data of an element from its raw source text, for the few small elements the reader reads (ids,
 * ticks, endpoints, stamps). saxes has already checked the text is well-formed, so this only has to undo what XML
 * allows there: references (entities.ts, the one policy), CDATA sections, comments, PIs, CR/CRLF line ends (in CDATA
 * too, as saxes and XML 1.0 §2.11 do); markup
 * of nested elements is dropped (their text kept). Reading slices this way keeps saxes' own text machinery off.
 * `bad` gets offsets in `raw`; `xml11`: the document is XML 1.1.
 */
export function rawToText(raw: string, bad: BadReference, xml11 = false): string {
  if (raw.indexOf('&') < 0 && raw.indexOf('<') < 0 && raw.indexOf('\r') < 0) return raw;
  let out = '';
  let i = 0;
  const n = raw.length;
  while (i < n) {
    if (raw.charCodeAt(i) === 60 /* < */) {
      if (raw.startsWith('<![CDATA[', i)) {
        const e = raw.indexOf(']]>', i + 9);
        const data = raw.slice(i + 9, e);
        out += data.indexOf('\r') < 0 ? data : data.replace(/\r\n?/g, '\n');
        i = e + 3;
      } else if (raw.startsWith('<!--', i)) {
        i = raw.indexOf('-->', i + 4) + 3;
      } else if (raw.startsWith('<?', i)) {
        i = raw.indexOf('?>', i + 2) + 2;
      } else {
        i = raw.indexOf('>', i) + 1;
      }
      continue;
    }
    let j = raw.indexOf('<', i);
    if (j < 0) j = n;
    // Line ends are normalised before references are decoded: a `&#13;` stays a CR.
    for (let cr = raw.indexOf('\r', i); cr >= 0 && cr < j; cr = raw.indexOf('\r', i)) {
      out += decodeEntities(raw.slice(i, cr), bad, i, xml11) + '\n';
      i = raw.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
    }
    out += decodeEntities(raw.slice(i, j), bad, i, xml11);
    i = j;
  }
  return out;
}
