import type { Digest } from '../../protocol/digest.ts';
import type { SdataError } from '../../protocol/errors.ts';
import type { Tick } from '../../protocol/ticks.ts';

/**
 * What the rest of the provider may know about the store: row shapes and repository interfaces, no SQL. Protocol
 * code (sync/) imports only this module; the schema, tick keys and statements stay behind it, so that a schema change
 * touches store/ alone.
 *
 * Reads are available at any time (`store.resources`, `store.digest`, …). Writes exist only on the `StoreWriter`
 * handed to `Store.tx(fn)`: the transaction that writes the digest rows it touched before COMMIT, so data and digest
 * move together. Every write also checks at run time that a transaction is open.
 */

export { MAX_TICK_DIGITS } from './tick-key.ts';

export interface KindInfo {
  id: number;
  name: string;
  selfEp: number;
  /** The kind's endpoint identity URL: what digests and syncStates name. */
  selfUrl: string;
}

export interface Endpoint {
  id: number;
  norm: string;
  url: string;
  /** `url` escaped for XML text. */
  xml: string;
}

export interface DigestRow {
  ep: number;
  tick: Tick;
  stamp: string;
  prio: number;
}

export interface ResourceRow {
  id: number;
  uuid: string;
  deleted: boolean;
  ep: number;
  tick: Tick;
  stamp: string;
  user: string | null;
  payload: string;
  /**
   * false: the resource has no link yet (spec 1.2). `uuid` is then a random one nobody has seen, kept for its first
   * link, and the payload carries none (sync/links.ts).
   */
  linked: boolean;
}

/** A stored resource's state without its payload: what the target's per-entry decision reads. */
export interface ResourceState {
  id: number;
  deleted: boolean;
  ep: number;
  tick: Tick;
  stamp: string;
  /** Set when the uuid looked up is an alias of the resource (a uuid it held before a re-point): its current one. */
  primary?: string;
}

/** The syncState a local change takes (docs/protocol.md §3.1). */
export interface LocalState {
  ep: number;
  tick: Tick;
  stamp: string;
}

/** Kinds and endpoints. Endpoints are interned: resource rows and digests name them by a small integer. */
export interface Catalog {
  /** The id of an endpoint URL, interned on first sight (compared after normalisation, docs/protocol.md A27). */
  endpointId(raw: string): number;
  /** The id of an endpoint if this store has ever seen it. */
  knownEndpointId(raw: string): number | undefined;
  endpoint(id: number): Endpoint;
  kind(name: string): KindInfo | undefined;
  kindById(id: number): KindInfo;
  readonly kinds: KindInfo[];
}

export interface ResourceReads {
  /** By uuid, matched in either case (docs/protocol.md §2.2), the resource's own or an alias it kept (LinkReads). */
  byUuid(kind: number, uuid: string): ResourceRow | undefined;
  /** By local key (the row id, `accounts('42')`). */
  byId(kind: number, id: number): ResourceRow | undefined;
  /** The state alone, by uuid: one indexed lookup per applied entry (and one of the aliases on a miss, if the store has any). */
  stateOf(kind: number, uuid: string): ResourceState | undefined;
  payloadOf(id: number): string | undefined;
}

/**
 * A payload to write: the fragment's text, or its UTF-8 bytes when they are at hand (a posted page's resource as
 * received): stored as the same TEXT either way.
 */
export type Payload = string | Uint8Array;

export interface ResourceWrites extends ResourceReads {
  /** A new row (live, or a tombstone when `deleted`; `linked` false: not linked yet); returns its local key. */
  insert(kind: number, uuid: string, deleted: boolean, ep: number, tick: Tick, stamp: string, user: string | null, payload: Payload, linked?: boolean): number;
  /**
   * A new linked row unless a resource of the kind answers to `uuid` (its own or an alias); undefined, and nothing
   * written, when one does. The target's create path: one statement instead of a look-up and an insert.
   */
  insertNew(kind: number, uuid: string, deleted: boolean, ep: number, tick: Tick, stamp: string, user: string | null, payload: Payload): number | undefined;
  update(id: number, deleted: boolean, ep: number, tick: Tick, stamp: string, user: string | null, payload: Payload): void;
}

export interface DigestReads {
  /** The kind's digest rows by endpoint id (cached; a rollback replaces the map, so look it up again after one). */
  rows(kind: number): ReadonlyMap<number, Readonly<DigestRow>>;
  /** The digest as the protocol model (origin = the kind's own endpoint). */
  get(kind: KindInfo): Digest;
  /**
   * Replaces the whole digest (PUT $syncDigest), in a transaction of its own. The kind's own entry is kept, and its
   * tick never drops to or below a tick it already gave a resource (4.3: states stay unique and below the digest).
   */
  replace(kind: KindInfo, d: Digest): void;
}

export interface DigestWrites extends DigestReads {
  /** tick[ep] = max(tick[ep], next): 5.5's per-entry rule. A new row copies `prio`. */
  advance(kind: number, ep: number, next: Tick, prio: number, stamp?: string): void;
  /** Gives a local change its state (docs/protocol.md §3.1): (self, tick, now), then the kind's own tick moves on. */
  localState(kind: KindInfo): LocalState;
  /** Takes a newer conflictPriority for a recorded endpoint (docs/protocol.md §3.7, dynamic priorities). */
  setPriority(kind: number, ep: number, prio: number): void;
}

/**
 * Result entries of one context, buffered for the current transaction; flush() writes them (call it last inside the
 * transaction, so results commit with the data they describe). Memory: one transaction's results.
 */
export interface ResultWriter {
  add(xml: string): void;
  /** Entries added so far, flushed or not. */
  readonly count: number;
  flush(): void;
  /** Drops what a rolled-back transaction added. */
  discard(): void;
}

export interface ResultStore {
  writer(ctx: number): ResultWriter;
  /** Stored result entries [from, to) of a context, in order, one transaction's worth in memory at a time. */
  read(ctx: number, from: number, to: number): Iterable<string>;
}

/** Immediate-mode entries held until the whole page has passed the contiguity check. */
export interface StagedEntries {
  add(ctx: number, seq: number, data: string): void;
  /** In `seq` order. */
  each(ctx: number): Iterable<string>;
  clear(ctx: number): void;
}

/** Failed entries per (kind, pass): later pages of the pass neither move that endpoint's tick past them nor merge it. */
export interface PassFailures {
  /** The lowest failed tick per endpoint. */
  lowest(kind: number, pass: string): Array<{ ep: number; tick: Tick }>;
  record(kind: number, pass: string, ep: number, tick: Tick): void;
  clear(kind: number, pass: string): void;
}

// -----------------------------------------------------------------------------------------------------------------
// The source's selection (docs/protocol.md §3.2). Ranges and cursors hold tick keys: opaque outside the store.

export interface SourceRange {
  ep: number;
  /** Tick keys: lower inclusive ('' = none), upper exclusive. */
  lower: string;
  upper: string;
}

export interface DigestSnapshot {
  origin: string;
  entries: Array<{ endpoint: string; tick: Tick; stamp: string; prio: number }>;
}

/** What a $syncSource context stores (JSON in its row): the digest snapshot, the ranges, their row count. */
export interface Selection {
  digest: DigestSnapshot;
  ranges: SourceRange[];
  total: number;
}

/** Position after the last row served: range index, tick key, row id. */
export interface Cursor {
  r: number;
  tick: string;
  id: number;
}

/** A row of the source selection: what a feed entry shows (the payload carries the uuid). */
export interface SourceRow {
  id: number;
  ep: number;
  tick: Tick;
  stamp: string;
  user: string | null;
  /**
   * The stored fragment's UTF-8, as SQLite holds it: a feed writes it as it is, without decoding it into a string
   * and encoding it back (that round trip was a fifth of the source's CPU per entry).
   */
  payload: Uint8Array;
}

export interface SelectionQueries {
  /** For each endpoint the snapshot knows further than the target digest, the ticks the target lacks. */
  ranges(snapshot: DigestSnapshot, target: Digest): SourceRange[];
  count(kind: number, ranges: readonly SourceRange[]): number;
  /** Where a page of `size` rows after `from` ends (inclusive), or undefined when the rest fits in it. */
  pageEnd(kind: number, ranges: readonly SourceRange[], from: Cursor, size: number): Cursor | undefined;
  /** Whether any row follows `after`. */
  more(kind: number, ranges: readonly SourceRange[], after: Cursor): boolean;
  /**
   * Rows after `pos` up to `end` (inclusive; undefined = the last range's end), in feed order. `pos` advances past
   * each row yielded: to pause (backpressure), break, and call again with the same `pos` to resume. No SQLite
   * cursor outlives the loop, so none lives across an await.
   */
  rows(kind: number, ranges: readonly SourceRange[], pos: Cursor, end: Cursor | undefined): Iterable<SourceRow>;
  /** The position before the first row. */
  start(): Cursor;
  /** A cursor as the `after` parameter of a next link, and back (undefined: not one of ours). */
  encodeCursor(c: Cursor): string;
  decodeCursor(s: string | null): Cursor | undefined;
}

// -----------------------------------------------------------------------------------------------------------------
// Links (spec 1.2, 1.3): which uuid a resource answers to, and the older ones it still answers to (aliases).

/** A row as the link operations see it (no state: linking is not a change of the resource, spec 1.3). */
export interface LinkRow {
  id: number;
  uuid: string;
  deleted: boolean;
  linked: boolean;
  payload: string;
}

export interface LinkReads {
  /** The resource holding `uuid` as an alias, if one does. */
  aliasOwner(kind: number, uuid: string): number | undefined;
  /** The aliases of a resource, oldest first. */
  aliasesOf(id: number): string[];
  /**
   * Up to `limit` rows without a link whose state falls in the source ranges (they are about to be sent: sync links
   * them first). Rows leave this set as they are linked, so asking again gives the next ones.
   */
  unlinkedIn(kind: number, ranges: readonly SourceRange[], limit: number): LinkRow[];
}

export interface LinkWrites extends LinkReads {
  /** Gives the row its uuid and link flag, with the payload that goes with them; its state does not change. */
  setUuid(id: number, uuid: string, linked: boolean, payload: string): void;
  addAlias(kind: number, uuid: string, id: number): void;
  removeAlias(kind: number, uuid: string): void;
  dropAliases(id: number): void;
}

// -----------------------------------------------------------------------------------------------------------------

/** What may be written, and only inside `Store.tx()`. */
export interface StoreWriter {
  readonly links: LinkWrites;
  readonly resources: ResourceWrites;
  readonly digest: DigestWrites;
  readonly staged: StagedEntries;
  readonly failures: PassFailures;
}

/** The store as protocol code sees it. */
export interface SyncStore extends Catalog {
  readonly resources: ResourceReads;
  readonly links: LinkReads;
  readonly digest: DigestReads;
  readonly results: ResultStore;
  readonly selection: SelectionQueries;
  /**
   * Runs `fn` in a transaction (joining an enclosing one): the digest rows it touched are written before COMMIT, so
   * the digest is never ahead of the data. No transaction may span an await.
   */
  tx<T>(fn: (w: StoreWriter) => T): T;
  /**
   * The store fault `e` is (full, busy, read-only, corrupt, I/O: store/faults.ts), or undefined for an ordinary
   * error. A fault ends the transaction and the request: code that fails entries one by one rethrows it.
   */
  fault(e: unknown): SdataError | undefined;
}
