import type { Digest } from '../protocol/digest.ts';
import type { SyncMode, SyncState } from '../protocol/sync-state.ts';
import type { XmlLimits } from './limits.ts';

// The feed reader's public types: what it reports (FeedHead, EntryRecord, FeedTail) and how it is set up. Modules
// that take records without reading feeds themselves import this, not the reader.

export interface FeedLink {
  rel: string;
  href: string;
}

/** What the feed says before its first entry. */
export interface FeedHead {
  syncMode: SyncMode | undefined;
  digest: Digest | undefined;
  /**
   * `digest`'s element as it stood in the feed (UTF-8, in pieces), when the digest scanner read it and it says exactly
   * what serializeDigest(digest) would (xml/digest-scanner.ts ScannedDigest): what a chunk's head can carry as it is.
   */
  digestWritten?: readonly Uint8Array[];
  /** Namespace declarations on the feed element, prefix → URI ('' is the default namespace). */
  bindings: Readonly<Record<string, string>>;
  links: FeedLink[];
  atomId: string | undefined;
  totalResults: number | undefined;
}

/**
 * Where a document can be resumed by another reader (see FeedReaderOptions.continuation): the text that puts a fresh
 * parser in the state the document's own parser has between two entries, and the entry element's qname as written,
 * whose end tag marks the places where that holds.
 */
export interface ResumePoint {
  /** The XML declaration's version (if not 1.0) and the root start tag, white space inside it made spaces: one line. */
  primer: string;
  /** The primer's length as saxes counts columns (code points). */
  primerColumns: number;
  entryName: string;
  /** The root's namespace declarations (FeedHead.bindings). */
  bindings: Readonly<Record<string, string>>;
}

/** One `atom:entry`, decided on by the planner and forwarded as its exact source text. */
export interface EntryRecord {
  /** 0-based position of the entry in its document. */
  index: number;
  line: number;
  column: number;
  atomId: string | undefined;
  uuid: string | undefined;
  isDeleted: boolean;
  state: SyncState | undefined;
  /** `http:httpMethod` / `http:ifMatch` children (batch requests, the 5.3 seed). */
  httpMethod: string | undefined;
  ifMatch: string | undefined;
  /** Exact source text of `<entry …>…</entry>`; undefined when the entry was over the size cap. */
  text: string | undefined;
  /**
   * `text` holds the entry's UTF-8 bytes, one per character (a latin1 string), and the offsets below count bytes:
   * records of a ScannedFeedReader asked for it (FeedReaderOptions.textBytes) that its scanner made. Otherwise
   * `text` holds the characters.
   */
  textBytes?: boolean;
  /**
   * Whether the resource element has a child list that needs the merge (the rule of child-list-rule.ts), found while
   * the entry was read: records of a ScannedFeedReader asked for it (FeedReaderOptions.listWork) that its scanner
   * made. Undefined otherwise: the consumer looks for itself.
   */
  listWork?: boolean;
  /** Offset in `text` just after the start tag's qname: where namespace declarations may be inserted. */
  nameEnd: number;
  /** Prefixes ('' = default) declared on the entry start tag itself. */
  ownDecls: readonly string[];
  /** Span of the resource element inside sdata:payload, as offsets in `text` (-1 when absent). */
  resourceStart: number;
  resourceNameEnd: number;
  resourceEnd: number;
  /**
   * Declarations in force above the resource element, outermost first: the feed's, the entry's, the payload's
   * (shared objects, never copied per entry; `resourceScope()` merges them when someone needs it).
   */
  scopes: ReadonlyArray<Readonly<Record<string, string>>>;
  /** Prefixes ('' = default) the resource element declares itself. */
  resourceOwnDecls: readonly string[];
  resourceLocal: string | undefined;
  resourceUri: string | undefined;
  /** Why the entry cannot be forwarded (docs/engine-rules.md §1), if it cannot. */
  invalid: string | undefined;
}

export interface FeedTail {
  /** Every feed-level link, wherever it stood (Atom allows links after entries). */
  links: FeedLink[];
  next: string | undefined;
  entries: number;
}

export interface FeedHandler {
  head(head: FeedHead): void;
  /**
   * `resourceBytes`, when the reader has them at hand and was asked for them (the ScannedFeedReader's scanner, with
   * FeedReaderOptions.resourceBytes): the resource element's
   * UTF-8 bytes as received, the very text of `entry.text.slice(resourceStart, resourceEnd)`. A view of the reader's
   * buffer, valid only during the call.
   */
  entry(entry: EntryRecord, resourceBytes?: Uint8Array): void;
  end(tail: FeedTail): void;
}

export interface FeedReaderOptions {
  /** Name used in messages (file name or URL). */
  source?: string;
  /** Entries larger than this (UTF-8 bytes) are invalid and never held whole. Default 16 MiB. */
  maxEntryBytes?: number;
  /** Require sync:syncMode and sync:digest before the first entry (sync feeds). Default true. */
  requireSyncHead?: boolean;
  /**
   * The input resumes a document after one of its entries: it starts with ResumePoint.primer (pushText it first),
   * and the head has been read elsewhere, so no head event is sent and the head rules are those after an entry.
   * Positions are then relative to the primer's start; whoever knows where the piece began translates them.
   */
  continuation?: boolean;
  /** Offset of the first pushed byte in the whole input, for messages about bytes (and where slices end: feed-reader.ts). */
  byteOffset?: number;
  /** Limits on depth, attributes, names and text between entries (xml/limits.ts); the defaults for those not given. */
  limits?: Partial<XmlLimits>;
  /**
   * ScannedFeedReader only: the records its scanner makes carry their text as bytes (EntryRecord.textBytes), for a
   * consumer that reads the text itself and would rather not have it decoded (verify's canonical form). Records the
   * FeedReader makes (a head page's first entries, pieces the scanner refused) carry characters as always.
   */
  textBytes?: boolean;
  /** ScannedFeedReader only: hand the handler each scanned record's resource bytes (FeedHandler.entry's second argument). */
  resourceBytes?: boolean;
  /** ScannedFeedReader only: its scanner's records say whether their child lists need the merge (EntryRecord.listWork). */
  listWork?: boolean;
  /**
   * false: saxes reads the head's digest too, where the digest scanner would have read its content
   * (xml/digest-scanner.ts): the tests' oracle. Default true.
   */
  digestScanner?: boolean;
}

/** The namespace bindings a resource element inherits (some may be re-declared by its `resourceOwnDecls`). */
export function resourceScope(rec: EntryRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const sc of rec.scopes) for (const k in sc) out[k] = sc[k]!;
  return out;
}
