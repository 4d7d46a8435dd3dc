/**
 * Endpoint identity (docs/protocol.md A27, docs/engine-rules.md §1): compare collection URLs after lower-casing scheme and host,
 * dropping query, fragment and trailing slashes. Path case is significant (core 2.13).
 */
export function normalizeEndpoint(raw: string): string {
  if (isNormalEndpoint(raw)) return raw;
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

/**
 * Whether normalizeEndpoint certainly returns `raw` unchanged (false: it may or may not), decided without a regular expression or a new string: the
 * common case (a digest's 10,000 keys, every entry's endpoint) — printable ASCII at both ends (nothing to trim), no
 * query, fragment or trailing slash, no upper-case letter before the path.
 */
export function isNormalEndpoint(raw: string): boolean {
  const n = raw.length;
  if (n === 0) return false;
  const first = raw.charCodeAt(0);
  const last = raw.charCodeAt(n - 1);
  if (first <= 32 || first >= 127 || last <= 32 || last >= 127 || last === 47 /* / */) return false;
  if (raw.indexOf('#') >= 0 || raw.indexOf('?') >= 0) return false;
  const sep = raw.indexOf('://');
  if (sep < 0) return false;
  let end = raw.indexOf('/', sep + 3);
  if (end < 0) end = n;
  for (let k = 0; k < end; k++) {
    const c = raw.charCodeAt(k);
    if (c >= 65 && c <= 90) return false;
  }
  return true;
}
