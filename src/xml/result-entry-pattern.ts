import { NS } from '../protocol/namespaces.ts';

/**
 * The result entry a target writes for an entry it applied without diagnoses, in the spelling our provider writes
 * it (provider/sync/result-entry.ts): `<entry><id>…</id><title>…</title><updated>…</updated>`, optionally the self
 * link, `http:httpStatus`, `http:httpMessage`, optionally `http:httpMethod`, `http:location`, `http:etag` and the
 * `sync:syncState` (endpoint, tick, stamp, optionally user), `</entry>`; and that spelling without the title, the
 * updated element or the message, which terser targets leave out (`<entry><id>…</id><http:httpStatus>201</…>
 * <http:httpMethod>POST</…></entry>`, decision 0037). No attributes but the link's, no white space,
 * no reference, comment or CDATA section. One sticky regular expression reads such an entry whole, where the flat
 * pass (flat-result-entry.ts) walks its ~14 tags one by one: at a million result entries per pass that walk was the
 * engine's largest cost after the source feed (~3.5 CPU-s). Whatever does not match exactly is left to the flat pass,
 * which reads it as before; what matches is what that pass would read (test/xml/flat-result-entry.test.ts compares them).
 */

/** A text without markup or reference. */
const T = '[^<&]*';

export interface ResultEntryPattern {
  re: RegExp;
  /** Characters of atom's prefix with its colon (in the link's tag). */
  atomPrefix: number;
  /** The longest tag of the entry but the link's (whose href varies): `</sync:syncState>` or so, as spelt here. */
  longestTag: number;
}

/** The expression for the bindings `ns` (in force directly inside the feed's root); undefined where a name has no spelling. */
export function resultEntryPattern(ns: ReadonlyMap<string, string>): ResultEntryPattern | undefined {
  const q = (uri: string): string | undefined => {
    for (const [p, u] of ns) if (u === uri) return p === '' ? '' : `${p}:`;
    return undefined;
  };
  const a = q(NS.atom);
  const h = q(NS.http);
  const s = q(NS.sync);
  if (a === undefined || h === undefined || s === undefined) return undefined;
  const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const [A, H, S] = [esc(a), esc(h), esc(s)];
  const el = (p: string, local: string, capture: boolean): string => `<${p}${local}>${capture ? `(${T})` : T}</${p}${local}>`;
  const longestTag = Math.max(...[[a, 'entry'], [a, 'updated'], [h, 'httpStatus'], [h, 'httpMessage'], [h, 'httpMethod'], [h, 'location'],
    [h, 'etag'], [s, 'syncState'], [s, 'endpoint'], [s, 'stamp'], [s, 'user']].map(([p, l]) => `</${p}${l}>`.length));
  const re = new RegExp(
    `<${A}entry>${el(A, 'id', true)}(?:${el(A, 'title', false)})?(?:${el(A, 'updated', false)})?` +
      `(?:<${A}link rel="self" type="application/atom\\+xml; type=entry" href="([^"<&]*)"/>)?` +
      `${el(H, 'httpStatus', true)}(?:${el(H, 'httpMessage', true)})?(?:${el(H, 'httpMethod', true)})?(?:${el(H, 'location', true)})?` +
      `(?:${el(H, 'etag', false)})?` +
      `(?:<${S}syncState>${el(S, 'endpoint', false)}${el(S, 'tick', false)}${el(S, 'stamp', false)}(?:${el(S, 'user', false)})?</${S}syncState>)?` +
      `</${A}entry>`,
    'y',
  );
  return { re, atomPrefix: a.length, longestTag };
}

/** The self link's start tag but for its prefix and its href's value (the flat pass holds a tag to a length limit). */
export const LINK_TAG_CHARS = '<link rel="self" type="application/atom+xml; type=entry" href=""/>'.length;

/** The captures of a match: atom:id, the link's href, status, message, method, location. */
export const GROUP = { Id: 1, Href: 2, Status: 3, Message: 4, Method: 5, Location: 6 } as const;
