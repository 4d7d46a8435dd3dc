import { decodeDocument } from '../../xml/encoding.ts';
import { serializeDigestEntry } from '../../protocol/digest.ts';
import { parseDigestDocument } from '../../xml/digest-document.ts';
import { ATOM_ENTRY, methodNotAllowed, readBody, sendText } from '../http/http-io.ts';
import { MAX_DIGEST_BYTES } from '../../xml/limits.ts';
import type { Call } from './call.ts';

/**
 * `{kind}/$syncDigest` (spec 4.1; docs/protocol.md A3): GET the digest; PUT replaces it (POST is a synonym). A replace never lowers
 * the store's own tick below a tick it already gave.
 */
export async function handleDigest(c: Call): Promise<void> {
  const { store } = c.core;
  const self = `${c.collection}/$syncDigest`;
  if (c.method === 'GET') {
    sendText(c.res, 200, serializeDigestEntry(store.digest.get(c.kind), self), ATOM_ENTRY);
    return;
  }
  if (c.method === 'PUT' || c.method === 'POST') {
    const text = decodeDocument(await readDigestBody(c), c.url.pathname);
    const d = parseDigestDocument(text, c.url.pathname);
    store.digest.replace(c.kind, d);
    sendText(c.res, 200, serializeDigestEntry(store.digest.get(c.kind), self), ATOM_ENTRY);
    return;
  }
  throw methodNotAllowed(c.method, c.url.pathname, 'GET, PUT, POST');
}

/** A posted digest document, whole: digests are small (xml/limits.ts), so more than MAX_DIGEST_BYTES is refused (413). */
export function readDigestBody(c: Call): Promise<Buffer> {
  return readBody(c.req, Math.min(c.core.maxBodyBytes, MAX_DIGEST_BYTES), `a digest document is at most ${MAX_DIGEST_BYTES} bytes`);
}
