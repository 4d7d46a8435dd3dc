import { SdataError } from '../protocol/errors.ts';

/** An absolute http(s) URL split the way undici wants it, with the path kept byte for byte (core 11.5, 6.4). */
export interface UrlParts {
  origin: string;
  path: string;
}

const ABS = /^(https?):\/\/([^/?#]+)([^#]*)/i;
// undici refuses request targets with bytes outside 0x21..0xff.
const UNSENDABLE = /[^\u0021-\u00ff]/;

/**
 * Splits an absolute URL into origin and request target without re-encoding anything: `Location` values and `next`
 * hrefs are used exactly as the provider wrote them. Only a URL undici could not send at all (raw spaces,
 * characters beyond Latin-1) goes through WHATWG serialisation, which percent-encodes them.
 */
export function splitUrl(raw: string): UrlParts {
  const m = ABS.exec(raw.trim());
  if (!m) throw new SdataError('SDATA_E_USAGE', `'${raw}' is not an absolute http(s) URL`, { url: raw });
  if (m[2]!.includes('@')) {
    throw new SdataError('SDATA_E_USAGE', `${redactUrl(raw)}: credentials in URLs are refused (they would end up in logs and shell history); use SDATA_SOURCE_USER/SDATA_SOURCE_PASSWORD, SDATA_SOURCE_TOKEN or the TARGET equivalents`);
  }
  let path = m[3]!;
  if (path === '') path = '/';
  else if (path[0] === '?') path = `/${path}`;
  if (UNSENDABLE.test(path)) {
    const u = new URL(raw.trim());
    path = u.pathname + u.search;
  }
  return { origin: `${m[1]!.toLowerCase()}://${m[2]!.toLowerCase()}`, path };
}

export function originOf(raw: string): string {
  return splitUrl(raw).origin;
}

/** An href from a response (Location, next link) made absolute; absolute ones are returned unchanged. */
export function resolveHref(href: string, base: string): string {
  const h = href.trim();
  if (ABS.test(h)) return h;
  return new URL(h, base).href;
}

/** Appends query parameters, percent-encoded (docs/protocol.md A31: runName/runStamp properly escaped). */
export function withQuery(url: string, params: Record<string, string | undefined>): string {
  let s = url;
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    s += `${s.includes('?') ? '&' : '?'}${encodeURIComponent(k)}=${encodeURIComponent(v)}`;
  }
  return s;
}

/** `{datasetBase}/{kind}`; the base may carry a trailing slash. */
export function collectionUrl(datasetBase: string, kind: string): string {
  return `${datasetBase.trim().replace(/\/+$/, '')}/${kind}`;
}

/** `{collection}/$syncDigest` etc.; a URL that already names the operation is kept. */
export function operationUrl(collection: string, op: '$syncDigest' | '$syncSource' | '$syncTarget' | '$syncResults'): string {
  const c = collection.trim().replace(/\/+$/, '');
  return c.endsWith(`/${op}`) ? c : `${c}/${op}`;
}

/** A URL for logs: credentials and query values that could hold secrets are never printed. */
export function redactUrl(raw: string): string {
  return raw.replace(/^(https?:\/\/)[^@/]*@/i, '$1');
}
