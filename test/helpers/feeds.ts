import { Readable } from 'node:stream';
import { Rng } from '../../src/gen/rng.ts';
import { pageTexts, resolveFeedOptions } from '../../src/gen/synthetic-feed.ts';
import { targetDigestFor } from '../../src/gen/target-digest.ts';
import type { Digest } from '../../src/protocol/digest.ts';
import { NS } from '../../src/protocol/namespaces.ts';

export interface TestEntry {
  endpoint: string;
  tick: string | number;
  uuid?: string;
  deleted?: boolean;
  /** Inner XML of the resource element. */
  body?: string;
  id?: string;
  /** Raw attributes for the entry start tag (e.g. namespace declarations). */
  entryAttrs?: string;
  noState?: boolean;
}

export interface TestPage {
  digest?: Array<[endpoint: string, tick: string | number, prio?: number]>;
  mode?: string;
  next?: string;
  entries: TestEntry[];
  /** Prefix used for the sync namespace on this page (binds differently per page in tests). */
  syncPrefix?: string;
  /** Extra declarations on the feed element. */
  rootAttrs?: string;
}

/** A small sync feed page as text, built directly (not through our writer) so tests do not test us with us. */
export function page(p: TestPage): string {
  const s = p.syncPrefix ?? 'sync';
  const digest = p.digest ?? [['http://a.example/sdata/app/c/-/accounts', 100, 5]];
  let x = `<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:${s}="${NS.sync}"${p.rootAttrs ?? ''}>\n`;
  x += `<id>urn:test</id><title>t</title><updated>2020-01-01T00:00:00Z</updated>\n`;
  if (p.next) x += `<link rel="next" href="${p.next}"/>\n`;
  x += `<${s}:syncMode>${p.mode ?? 'catchUp'}</${s}:syncMode>\n<${s}:digest><${s}:origin>${digest[0]![0]}</${s}:origin>`;
  for (const [ep, tick, prio] of digest) {
    x += `<${s}:digestEntry><${s}:endpoint>${ep}</${s}:endpoint><${s}:tick>${tick}</${s}:tick><${s}:stamp>2020-01-01T00:00:00Z</${s}:stamp><${s}:conflictPriority>${prio ?? 5}</${s}:conflictPriority></${s}:digestEntry>`;
  }
  x += `</${s}:digest>\n`;
  p.entries.forEach((e, i) => {
    const uuid = e.uuid ?? `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;
    x += `<entry${e.entryAttrs ?? ''}><id>${e.id ?? `urn:e:${i}`}</id><title>e${i}</title><updated>2020-01-01T00:00:00Z</updated>`;
    if (!e.noState) x += `<${s}:syncState><${s}:endpoint>${e.endpoint}</${s}:endpoint><${s}:tick>${e.tick}</${s}:tick><${s}:stamp>2020-01-01T00:00:00Z</${s}:stamp></${s}:syncState>`;
    x += `<sdata:payload><account xmlns="urn:contract" sdata:uuid="${uuid}"${e.deleted ? ' sdata:isDeleted="true"/>' : `>${e.body ?? `<name>n${i}</name>`}</account>`}</sdata:payload></entry>\n`;
  });
  return `${x}</feed>\n`;
}

/** Bytes split at the given offsets, as a stream. */
export function splitStream(bytes: Uint8Array, cuts: number[]): Readable {
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c <= prev || c >= bytes.length) continue;
    parts.push(bytes.subarray(prev, c));
    prev = c;
  }
  parts.push(bytes.subarray(prev));
  return Readable.from(parts, { objectMode: false });
}

/** Deterministic PRNG for reproducible "random" splits: the generator's mulberry32, as floats in [0, 1). */
export function prng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next() / 4294967296;
}

/** One generated page (endpoints, deletions, CDATA, entities, non-ASCII) and a target digest that skips half of it. */
export function generatedFeed(count: number, seed: number): { text: string; target: Digest } {
  const o = resolveFeedOptions({ count, seed });
  return { text: [...pageTexts(o, 0)].join(''), target: targetDigestFor(o, 0.5).digest };
}

/**
 * `count` copies of `text`, each broken at one random place: a stray `<`, `&`, `"`, `]]>` or end tag put in place of
 * a character, or the text cut off there. For the readers' tests that must fail alike wherever a document breaks.
 */
export function brokenCopies(text: string, count = 36, seed = 99): string[] {
  const rnd = prng(seed);
  const kinds = ['<', '&', '"', ']]>', '</x>', ''];
  return Array.from({ length: count }, (_, k) => {
    const at = 1 + Math.floor(rnd() * (text.length - 2));
    return k % 6 === 5 ? text.slice(0, at) : text.slice(0, at) + kinds[k % 6] + text.slice(at + 1);
  });
}
