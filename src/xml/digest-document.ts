import { DigestBuilder, type Digest } from '../protocol/digest.ts';
import { SdataError } from '../protocol/errors.ts';
import { NS } from '../protocol/namespaces.ts';
import { documentText, encodingError } from './encoding.ts';
import { guardDocument } from './limit-guard.ts';
import { MAX_DIGEST_BYTES } from './limits.ts';
import { createParser, drive } from './saxes-adapter.ts';

/**
 * Parses a digest from a `$syncDigest` Atom entry (digest inside sdata:payload), a feed carrying one, or a bare
 * `sync:digest` document. Small documents only (a digest has one entry per endpoint), so this takes the whole text,
 * up to MAX_DIGEST_BYTES.
 */
export function parseDigestDocument(xml: string, source = '<digest>'): Digest {
  const p = createParser(source);
  let builder: DigestBuilder | undefined;
  let digestDepth = -1;
  let depth = 0;
  let found: Digest | undefined;
  const fail = (msg: string): SdataError =>
    new SdataError('SDATA_E_DIGEST', `${source}:${p.line}:${p.column}: ${msg}`, { source, line: p.line, column: p.column });
  p.on('doctype', () => {
    throw fail('DOCTYPE declarations are refused');
  });
  p.on('opentag', (t) => {
    depth++;
    if (builder) {
      if (t.uri === NS.sync) builder.begin(t.local);
    } else if (t.uri === NS.sync && t.local === 'digest' && found === undefined) {
      builder = new DigestBuilder(source, p);
      digestDepth = depth;
    }
  });
  // CDATA sections are character data too, as in the feed reader's head digest.
  p.on('text', (t) => builder?.addText(t));
  p.on('cdata', (t) => builder?.addText(t));
  p.on('closetag', (t) => {
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
  guardDocument(p, text, source, 'the digest document', MAX_DIGEST_BYTES);
  const malformed = (message: string, cause: Error): Error =>
    new SdataError('SDATA_E_MALFORMED', `${source}:${p.line}:${p.column}: not well-formed XML: ${message}`, { source, line: p.line, column: p.column, cause });
  drive(p, text, source, malformed);
  drive(p, null, source, malformed);
  if (!found) throw fail('no sync:digest element found');
  return found;
}
