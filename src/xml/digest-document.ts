import type { Digest } from '../protocol/digest.ts';
import { SdataError } from '../protocol/errors.ts';
import { NS } from '../protocol/namespaces.ts';
import { DigestElement } from './digest-element.ts';
import { isAscii, SkippedText } from './digest-scanner.ts';
import { documentText, encodingError } from './encoding.ts';
import { guardDocument } from './limit-guard.ts';
import { DEFAULT_LIMITS, MAX_DIGEST_BYTES } from './limits.ts';
import { createParser, drive, inTextState, openElements } from './saxes-adapter.ts';

/**
 * Parses a digest from a `$syncDigest` Atom entry (digest inside sdata:payload), a feed carrying one, or a bare
 * `sync:digest` document. Small documents only (a digest has one entry per endpoint), so this takes the whole text,
 * up to MAX_DIGEST_BYTES.
 *
 * The first `sync:digest` element is read as the feed reader reads its head's (xml/digest-element.ts): saxes reads the
 * document up to its start tag, the scanner its content where it can, and saxes goes on from the end tag, its
 * positions shifted by what it did not read; where the scanner declines, saxes reads the content too. `scan` false:
 * saxes reads it all (the tests' oracle).
 */
export function parseDigestDocument(xml: string, source = '<digest>', scan = true): Digest {
  const p = createParser(source);
  // Where saxes is in the document, past the digest's content when the scanner read it.
  const where = new SkippedText(p);
  let depth = 0;
  /** Characters given to saxes so far. */
  let fed = 0;
  let found: Digest | undefined;
  const fail = (msg: string): SdataError =>
    new SdataError('SDATA_E_DIGEST', `${source}:${where.line}:${where.column}: ${msg}`, { source, line: where.line, column: where.column });
  const malformed = (message: string, cause: Error): Error =>
    new SdataError('SDATA_E_MALFORMED', `${source}:${where.line}:${where.column}: not well-formed XML: ${message}`, { source, line: where.line, column: where.column, cause });
  const digest = new DigestElement({
    readText: (t) => {
      fed += t.length;
      drive(p, t, source, malformed);
    },
    checkpoint: () => undefined,
    standsAfter: (end) => end === fed && inTextState(p),
    limits: () => ({ maxText: Infinity, maxNameBytes: DEFAULT_LIMITS.maxNameBytes, depthLeft: DEFAULT_LIMITS.maxDepth - openElements(p) }),
    scanned: (d, content) => {
      where.skip(content);
      found = d;
    },
    // A document all ASCII is one-byte text as every reader of ours makes it (decodeDocument, a latin1 or UTF-8
    // decoding of ASCII bytes): its digest's content is scanned as a slice of it.
    asciiText: isAscii(xml),
    // A target's digest: a planner's decisions need only its keys and ticks (Decider), the rest when asked for.
    made: 'ticks',
  }, source);
  p.on('doctype', () => {
    throw fail('DOCTYPE declarations are refused');
  });
  p.on('opentag', (t) => {
    depth++;
    if (digest.reading) digest.child(t);
    else if (t.uri === NS.sync && t.local === 'digest' && found === undefined) digest.begin(t.name, depth, p.position, where);
  });
  // CDATA sections are character data too, as in the feed reader's head digest.
  p.on('text', (t) => digest.reading && digest.text(t));
  p.on('cdata', (t) => digest.reading && digest.text(t));
  p.on('closetag', (t) => {
    if (digest.reading) found = digest.close(t, depth - 1) ?? found;
    depth--;
  });
  const text = documentText(xml);
  if (typeof text !== 'string') throw encodingError(source, text);
  guardDocument(p, text, source, 'the digest document', MAX_DIGEST_BYTES, where);
  if (scan) {
    digest.read(text);
    // A digest that never ended: saxes reads it, and says what is wrong.
    digest.giveUp();
  } else drive(p, text, source, malformed);
  drive(p, null, source, malformed);
  if (!found) throw fail('no sync:digest element found');
  return found;
}
