import type { SaxesTagNS } from 'saxes';
import type { FeedHead, FeedLink, ResumePoint } from './feed-types.ts';

/** What the feed says before its first entry, and the rules it must satisfy; the reader finds where it is said. */

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

export function newFeedHead(): FeedHead {
  return { syncMode: undefined, digest: undefined, bindings: EMPTY, links: [], atomId: undefined, totalResults: undefined };
}

/** An `atom:link` element's link, or undefined when it has no href. */
export function feedLink(tag: SaxesTagNS): FeedLink | undefined {
  const href = tag.attributes['href']?.value;
  if (href === undefined) return undefined;
  const rel = tag.attributes['rel']?.value ?? 'alternate';
  // A URL holds no raw white space; the spec's own example wraps one across lines (docs/protocol.md A32).
  return { rel: rel.trim(), href: href.replace(/\s+/g, '') };
}

/** Why a sync feed's head is not one, when its first entry (or its end) comes; undefined when it is. */
export function syncHeadProblem(head: FeedHead): string | undefined {
  if (head.syncMode === undefined) return 'not a sync feed: no sync:syncMode before the first entry';
  if (head.digest === undefined) return 'not a sync feed: no sync:digest before the first entry';
  return undefined;
}

/** `opensearch:totalResults`, when it is a count. */
export function totalResults(text: string): number | undefined {
  const n = Number(text.trim());
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * How a reader with `continuation` takes the document over after an entry: the root start tag as the document wrote it
 * (`rootTag`, its line breaks made spaces so that it keeps to one line), after an XML declaration if the version is
 * not 1.0, and the entry element's qname.
 */
export function resumePointAfter(xmlVersion: string | undefined, rootTag: string, entryName: string, bindings: Readonly<Record<string, string>>): ResumePoint {
  const decl = xmlVersion !== undefined && xmlVersion !== '1.0' ? `<?xml version="${xmlVersion}"?>` : '';
  const primer = decl + rootTag.replace(/[\t\n\r]/g, ' ');
  let primerColumns = 0;
  for (const _ of primer) primerColumns++;
  return { primer, primerColumns, entryName, bindings };
}
