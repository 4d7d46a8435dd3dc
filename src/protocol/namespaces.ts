/** Namespace URIs of the SData vocabulary. Elements are always matched by URI + local name, never by prefix. */
export const NS = {
  atom: 'http://www.w3.org/2005/Atom',
  sdata: 'http://schemas.sage.com/sdata/2008/1',
  /** The spec's own examples write the tracking namespace without `/1` (docs/protocol.md A6); accept it on input. */
  sdataLegacy: 'http://schemas.sage.com/sdata/2008',
  sync: 'http://schemas.sage.com/sdata/sync/2008/1',
  http: 'http://schemas.sage.com/sdata/http/2008/1',
  opensearch: 'http://a9.com/-/spec/opensearch/1.1/',
  sme: 'http://schemas.sage.com/sdata/sme/2007',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
  xml: 'http://www.w3.org/XML/1998/namespace',
  xmlns: 'http://www.w3.org/2000/xmlns/',
} as const;

/**
 * The namespace of a contract's resource elements (`crm` → http://schemas.sage.com/crm), as the reference provider
 * declares it in `$schema` and its seeded payloads use it.
 */
export const contractNamespace = (contract: string): string => `http://schemas.sage.com/${contract}`;

/**
 * The bindings every feed we write declares on its root. Forwarded entries only re-declare what differs
 * from these (see xml/feed-writer.ts).
 */
export const OUTPUT_ROOT_BINDINGS: ReadonlyMap<string, string> = new Map([
  ['', NS.atom],
  ['sdata', NS.sdata],
  ['sync', NS.sync],
  ['http', NS.http],
  ['opensearch', NS.opensearch],
]);

export const OUTPUT_ROOT_DECLS =
  ` xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}"` +
  ` xmlns:http="${NS.http}" xmlns:opensearch="${NS.opensearch}"`;
