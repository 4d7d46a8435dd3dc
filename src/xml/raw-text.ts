const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * The character data of an element from its raw source text, for the few small elements the reader reads (ids,
 * ticks, endpoints, stamps). saxes has already checked the text is well-formed, so this only has to undo what XML
 * allows there: entity and character references, CDATA sections, comments, PIs, CR/CRLF line ends; markup of
 * nested elements is dropped (their text kept). Reading slices this way keeps saxes' own text machinery off.
 */
export function rawToText(raw: string): string {
  if (raw.indexOf('&') < 0 && raw.indexOf('<') < 0 && raw.indexOf('\r') < 0) return raw;
  let out = '';
  let i = 0;
  const n = raw.length;
  while (i < n) {
    const c = raw.charCodeAt(i);
    if (c === 60 /* < */) {
      if (raw.startsWith('<![CDATA[', i)) {
        const e = raw.indexOf(']]>', i + 9);
        out += raw.slice(i + 9, e);
        i = e + 3;
      } else if (raw.startsWith('<!--', i)) {
        i = raw.indexOf('-->', i + 4) + 3;
      } else if (raw.startsWith('<?', i)) {
        i = raw.indexOf('?>', i + 2) + 2;
      } else {
        i = raw.indexOf('>', i) + 1;
      }
    } else if (c === 38 /* & */) {
      const e = raw.indexOf(';', i);
      const name = raw.slice(i + 1, e);
      if (name.charCodeAt(0) === 35 /* # */) {
        const code = name.charCodeAt(1) === 120 /* x */ ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        out += String.fromCodePoint(code);
      } else {
        out += PREDEFINED[name] ?? '';
      }
      i = e + 1;
    } else if (c === 13 /* \r */) {
      out += '\n';
      i += raw.charCodeAt(i + 1) === 10 ? 2 : 1;
    } else {
      let j = i + 1;
      while (j < n) {
        const d = raw.charCodeAt(j);
        if (d === 60 || d === 38 || d === 13) break;
        j++;
      }
      out += raw.slice(i, j);
      i = j;
    }
  }
  return out;
}
