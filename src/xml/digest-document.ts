import { DigestBuilder, type Digest } from '../protocol/digest.ts';
import { SdataError } from '../protocol/errors.ts';
import { NS } from '../protocol/namespaces.ts';
import { asciiBytes, DIGEST_START_TAG, scanDigest, SkippedText } from './digest-scanner.ts';
import { documentText, encodingError } from './encoding.ts';
import { guardDocument } from './limit-guard.ts';
import { DEFAULT_LIMITS, MAX_DIGEST_BYTES } from './limits.ts';
import { createParser, drive, inTextState, openElements } from './saxes-adapter.ts';

const DIGEST_START = new RegExp(DIGEST_START_TAG, 'g');

/**
 * Parses a digest from a `$syncDigest` Atom entry (digest inside sdata:payload), a feed carrying one, or a bare
 * `sync:digest` document. Small documents only (a digest has one entry per endpoint), so this takes the whole text,
 * up to MAX_DIGEST_BYTES.
 *
 * saxes reads the document up to the digest's start tag; the digest's content is read by the scanner
 * (xml/digest-scanner.ts) where it can, and saxes goes on from the end tag, its positions shifted by what it did not
 * read; where the scanner declines, saxes reads the content too. `scan` false: saxes reads it all (the tests' oracle).
 */
export function parseDigestDocument(xml: string, source = '<digest>', scan = true): Digest {
  const p = createParser(source);
  let builder: DigestBuilder | undefined;
  let digestDepth = -1;
  let depth = 0;
  let found: Digest | undefined;
  /** A digest start tag has just been read, at this depth (its prefix): the scanner may take its content. */
  let opened: { prefix: string } | undefined;
  // Where saxes is in the document, past the digest's content when the scanner read it.
  const where = new SkippedText(p);
  const fail = (msg: string): SdataError =>
    new SdataError('SDATA_E_DIGEST', `${source}:${where.line}:${where.column}: ${msg}`, { source, line: where.line, column: where.column });
  p.on('doctype', () => {
    throw fail('DOCTYPE declarations are refused');
  });
  p.on('opentag', (t) => {
    depth++;
    opened = undefined;
    if (builder) {
      if (t.uri === NS.sync) builder.begin(t.local);
    } else if (t.uri === NS.sync && t.local === 'digest' && found === undefined) {
      builder = new DigestBuilder(source, where);
      digestDepth = depth;
      opened = { prefix: t.prefix };
    }
  });
  // CDATA sections are character data too, as in the feed reader's head digest.
  p.on('text', (t) => builder?.addText(t));
  p.on('cdata', (t) => builder?.addText(t));
  p.on('closetag', (t) => {
    opened = undefined;
    if (builder) {
      if (depth === digestDepth) {
        found = builder.finish();
        builder = undefined;
      } else if (t.uri === NS.sync) builder.end(t.local);
    }
    depth--;
  });
  const text = documentText(xml);
  if (typeof text !== 'string') throw encodingError(source, text);
  guardDocument(p, text, source, 'the digest document', MAX_DIGEST_BYTES, where);
  const malformed = (message: string, cause: Error): Error =>
    new SdataError('SDATA_E_MALFORMED', `${source}:${where.line}:${where.column}: not well-formed XML: ${message}`, { source, line: where.line, column: where.column, cause });
  let from = 0;
  DIGEST_START.lastIndex = 0;
  for (let m = scan ? DIGEST_START.exec(text) : null; m !== null && found === undefined; m = DIGEST_START.exec(text)) {
    const start = m.index + m[0].length;
    drive(p, text.slice(from, start), source, malformed);
    from = start;
    // Taken only when saxes has just read this very tag as the sync digest, and stands after it.
    if (opened === undefined || opened.prefix !== (m[1] ?? '') || !inTextState(p)) continue;
    const endTag = `</${m[0].slice(1)}`;
    const end = text.indexOf(endTag, start);
    if (end < 0) continue;
    const content = asciiBytes(text.slice(start, end));
    const d = content && scanDigest(content, opened.prefix, { maxText: Infinity, maxNameBytes: DEFAULT_LIMITS.maxNameBytes, depthLeft: DEFAULT_LIMITS.maxDepth - openElements(p) }, source);
    if (!d) continue;
    where.skip(content);
    // saxes goes on from the end tag, which closes the digest with no builder left to finish.
    builder = undefined;
    found = d;
    from = end;
    break;
  }
  drive(p, text.slice(from), source, malformed);
  drive(p, null, source, malformed);
  if (!found) throw fail('no sync:digest element found');
  return found;
}
