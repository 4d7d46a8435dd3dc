/**
 * Endpoint identity (docs/protocol.md A27, docs/engine-rules.md §1): compare collection URLs after lower-casing scheme and host,
 * dropping query, fragment and trailing slashes. Path case is significant (core 2.13).
 */
export function normalizeEndpoint(raw: string): string {
  let s = raw.trim();
  const hash = s.indexOf('#');
  if (hash >= 0) s = s.slice(0, hash);
  const q = s.indexOf('?');
  if (q >= 0) s = s.slice(0, q);
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/]*)(.*)$/.exec(s);
  if (m) s = `${m[1]!.toLowerCase()}://${m[2]!.toLowerCase()}${m[3]!}`;
  while (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  return s;
}
