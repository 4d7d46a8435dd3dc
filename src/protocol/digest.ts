import { normalizeEndpoint } from './endpoint.ts';
import { SdataError } from './errors.ts';
import { escapeText } from './escape.ts';
import { NS } from './namespaces.ts';
import { parseTick, type Tick } from './ticks.ts';

export interface DigestEntry {
  /** The endpoint URL as written by its owner (kept for faithful re-serialisation). */
  endpoint: string;
  tick: Tick;
  stamp: string;
  conflictPriority: number;
}

/** An endpoint's vector clock for one resource kind (docs/protocol.md §2.1). Keys are normalised endpoint URLs. */
export interface Digest {
  origin?: string;
  entries: Map<string, DigestEntry>;
}

export function emptyDigest(origin?: string): Digest {
  return origin === undefined ? { entries: new Map() } : { origin, entries: new Map() };
}

export function digestEntryFor(d: Digest, endpoint: string): DigestEntry | undefined {
  return d.entries.get(normalizeEndpoint(endpoint));
}

export function setDigestEntry(d: Digest, e: DigestEntry): void {
  d.entries.set(normalizeEndpoint(e.endpoint), e);
}

/** A canonical key: two digests with equal keys say the same thing (used to keep chunks homogeneous). */
export function digestKey(d: Digest | undefined): string {
  if (!d) return '';
  const parts: string[] = [];
  for (const [k, e] of d.entries) parts.push(`${k}\u0000${e.tick}\u0000${e.conflictPriority}\u0000${e.stamp}`);
  parts.sort();
  return `${d.origin ?? ''}\u0001${parts.join('\u0001')}`;
}

/**
 * Whether two digests say the same thing (digestKey(a) === digestKey(b)), without sorting their entries or making a
 * string of each: what a planner asks of every page's head, 20-30 ms a page with 10,000 endpoints as keys.
 */
export function sameDigest(a: Digest | undefined, b: Digest | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if ((a.origin ?? '') !== (b.origin ?? '') || a.entries.size !== b.entries.size) return false;
  for (const [k, e] of a.entries) {
    const f = b.entries.get(k);
    if (f === undefined || f.tick !== e.tick || f.conflictPriority !== e.conflictPriority || f.stamp !== e.stamp) return false;
  }
  return true;
}

/** Where a parser is: line and column (1-based) just after what it read last. */
export interface Position {
  line: number;
  column: number;
}

/**
 * A copy of `s` that shares no memory with it: V8 makes slices of 13 characters or more views of their parent, which
 * they keep alive. Appending makes a pair that slicing must flatten, into a new string that the result is then a view
 * of: 1–2 ms per 20,000 endpoints, where a round trip through a Buffer took 3–15 ms.
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : `${s}.`.slice(0, -1);
}

/**
 * Builds a Digest from the element events inside `sync:digest`, whichever parser produces them.
 * Feed `begin(local)` / `text` / `end(local)` for sync-namespace children; call `finish()` at `</digest>`.
 * `source` names the document; with `at` (the parser, whose line and column are read when an element begins) an
 * error points at the element that is wrong: `page.xml:14:99: sync:digest: digestEntry for …: tick '-5' is not a
 * non-negative integer`.
 *
 * A digest can have 10,000 entries and lives as long as the pass, so this allocates nothing per element beyond what
 * the digest keeps (docs/decisions/0027-many-endpoints-digest-cost.md): positions are numbers, not an object per element
 * in a map; the current entry is fields, not an object; kept strings are copies, not slices that would keep the
 * parser's whole input chunk (the whole document, for a digest document) alive; a stamp equal to the previous
 * entry's is that same string.
 */
export class DigestBuilder {
  private readonly digest: Digest = emptyDigest();
  private inEntry = false;
  private endpoint = '';
  private tickText: string | undefined;
  private stamp: string | undefined;
  private prioText: string | undefined;
  private lastStamp = '';
  private field = '';
  private text = '';
  private readonly source: string;
  private readonly at: Position | undefined;
  /** Where the current digestEntry, its tick and its conflictPriority began (line 0: not seen). */
  private entryLine = 0;
  private entryColumn = 0;
  private tickLine = 0;
  private tickColumn = 0;
  private prioLine = 0;
  private prioColumn = 0;

  constructor(source = '', at?: Position) {
    this.source = source;
    this.at = at;
  }

  private fail(code: 'SDATA_E_DIGEST' | 'SDATA_E_TICK', element: 'digestEntry' | 'tick' | 'conflictPriority', message: string): SdataError {
    const [line, column] = element === 'tick' && this.tickLine > 0 ? [this.tickLine, this.tickColumn]
      : element === 'conflictPriority' && this.prioLine > 0 ? [this.prioLine, this.prioColumn] : [this.entryLine, this.entryColumn];
    if (line === 0) return new SdataError(code, `${this.source ? `${this.source}: ` : ''}sync:digest: ${message}`, this.source ? { source: this.source } : {});
    return new SdataError(code, `${this.source}:${line}:${column}: sync:digest: ${message}`, { source: this.source, line, column });
  }

  begin(local: string): void {
    const at = this.at;
    if (local === 'digestEntry') {
      this.inEntry = true;
      this.endpoint = '';
      this.tickText = this.stamp = this.prioText = undefined;
      this.tickLine = this.prioLine = 0;
      if (at) {
        this.entryLine = at.line;
        this.entryColumn = at.column;
      }
    } else {
      this.field = local;
      if (at && local === 'tick') {
        this.tickLine = at.line;
        this.tickColumn = at.column;
      } else if (at && local === 'conflictPriority') {
        this.prioLine = at.line;
        this.prioColumn = at.column;
      }
    }
    this.text = '';
  }

  addText(t: string): void {
    if (this.field) this.text += t;
  }

  end(local: string): void {
    if (local === 'digestEntry') {
      if (!this.inEntry) return;
      this.inEntry = false;
      this.addEntry(true);
      return;
    }
    this.field = '';
    this.set(local, this.text);
    this.text = '';
  }

  /**
   * The origin element's text, for a reader that has it whole (xml/digest-scanner.ts): what begin, addText and end
   * do, without the positions (that reader leaves errors to a parser that has them).
   */
  origin(text: string): void {
    this.set('origin', text);
  }

  /**
   * A whole digestEntry at once, its children's texts as written (`prio` undefined: none), for a reader that has them
   * (xml/digest-scanner.ts): the strings are kept as given, cut from that reader's own copy of the digest's text.
   */
  entry(endpoint: string, tickText: string, stamp: string, prioText: string | undefined): void {
    this.endpoint = endpoint.trim();
    this.tickText = tickText;
    this.stamp = stamp.trim();
    this.prioText = prioText;
    this.entryLine = 0;
    this.tickLine = this.prioLine = 0;
    this.addEntry(false);
  }

  private set(local: string, text: string): void {
    if (this.inEntry) {
      if (local === 'endpoint') this.endpoint = text.trim();
      else if (local === 'tick') this.tickText = text;
      else if (local === 'stamp') this.stamp = text.trim();
      else if (local === 'conflictPriority') this.prioText = text;
    } else if (local === 'origin') {
      this.digest.origin = ownString(text.trim());
    }
  }

  /** The entry read: checked, and kept (`copy`: with copies of its strings, not slices that would keep a parser's input alive). */
  private addEntry(copy: boolean): void {
    const endpoint = this.endpoint;
    const tickText = this.tickText;
    const prioText = this.prioText;
    const v = entryValues(endpoint, tickText, prioText);
    if (v === 'endpoint') throw this.fail('SDATA_E_DIGEST', 'digestEntry', 'digestEntry without endpoint');
    if (v === 'no tick') throw this.fail('SDATA_E_DIGEST', 'digestEntry', `digestEntry for ${endpoint} has no tick`);
    if (v === 'tick') throw this.fail('SDATA_E_TICK', 'tick', `digestEntry for ${endpoint}: tick '${tickText!.trim()}' is not a non-negative integer`);
    if (v === 'conflictPriority') {
      throw this.fail('SDATA_E_DIGEST', 'conflictPriority', `digestEntry for ${endpoint}: conflictPriority '${prioText!.trim()}' is not an integer`);
    }
    const { tick, prio } = v;
    let stamp = this.stamp ?? '';
    if (stamp === this.lastStamp) stamp = this.lastStamp;
    else stamp = this.lastStamp = copy ? ownString(stamp) : stamp;
    setDigestEntry(this.digest, copy ? { endpoint: ownString(endpoint), tick: ownString(tick), stamp, conflictPriority: prio } : { endpoint, tick, stamp, conflictPriority: prio });
  }

  finish(): Digest {
    return this.digest;
  }
}

/** An entry's tick and conflictPriority from its texts (endpoint trimmed), or what is wrong with it. */
function entryValues(endpoint: string, tickText: string | undefined, prioText: string | undefined): { tick: Tick; prio: number } | 'endpoint' | 'no tick' | 'tick' | 'conflictPriority' {
  if (!endpoint) return 'endpoint';
  if (tickText === undefined) return 'no tick';
  const tick = parseTick(tickText);
  if (tick === undefined) return 'tick';
  let prio = 9;
  if (prioText !== undefined && prioText.trim() !== '') {
    prio = Number(prioText.trim());
    if (!Number.isInteger(prio)) return 'conflictPriority';
  }
  return { tick, prio };
}

/**
 * DigestBuilder.entry's checks without keeping the entries: a reader that makes the digest only when someone asks for
 * its entries (xml/digest-scanner.ts) checks them all as it reads, as the builder would. `entry` throws where
 * DigestBuilder.entry would (the caller's parse then reports it). With `distinct` it counts the endpoints named; with
 * `ticks` it keeps each entry's key and tick, in order (digestTicks).
 */
export class DigestChecker {
  private readonly keys: Set<string> | undefined;
  readonly ticks: DigestTicks | undefined;

  constructor(o: { distinct: boolean; ticks: boolean }) {
    this.keys = o.distinct ? new Set() : undefined;
    this.ticks = o.ticks ? { keys: [], ticks: [] } : undefined;
  }

  entry(endpoint: string, tickText: string, _stamp: string, prioText: string | undefined): void {
    const trimmed = endpoint.trim();
    const v = entryValues(trimmed, tickText, prioText);
    if (typeof v === 'string') throw new Error(v);
    if (this.keys === undefined && this.ticks === undefined) return;
    const key = normalizeEndpoint(trimmed);
    this.keys?.add(key);
    if (this.ticks !== undefined) {
      this.ticks.keys.push(key);
      this.ticks.ticks.push(v.tick);
    }
  }

  /** The endpoints named, each once (with `distinct`). */
  get size(): number {
    return this.keys?.size ?? 0;
  }
}

/** A digest's keys (normalised endpoints) and their ticks, in the order written: a key named twice, the last counts. */
export interface DigestTicks {
  keys: string[];
  ticks: Tick[];
}

/** How a lazy digest tells its ticks without making its entries, until they are made. */
const lazyTicks = new WeakMap<Digest, () => DigestTicks>();

/**
 * A digest whose entries are made when first asked for, by `make`: a planner that reads one page never asks for the
 * head digest's (only for its element as written), and a planner's decisions need only the target digest's ticks
 * (`ticks`, see digestTicks): making 10,000 entries cost ~15 ms, and their young collections more.
 */
export function lazyDigest(origin: string | undefined, make: () => Map<string, DigestEntry>, ticks?: () => DigestTicks): Digest {
  let entries: Map<string, DigestEntry> | undefined;
  const d = {
    get entries(): Map<string, DigestEntry> {
      if (entries === undefined) {
        entries = make();
        lazyTicks.delete(d);
      }
      return entries;
    },
  } as Digest;
  if (origin !== undefined) d.origin = origin;
  if (ticks !== undefined) lazyTicks.set(d, ticks);
  return d;
}

/**
 * The digest's keys and ticks (a key named twice: the last counts), without making the entries of a lazy digest that
 * can tell them. `normal`: every key is what normalizeEndpoint made of an endpoint (a lazy digest's, as its reader
 * makes them), so none is an endpoint as written unless it is its own normalisation: normalising again changes only a
 * key that ends in white space (a space before a trailing slash), and endpoints are trimmed. False for a digest's own
 * Map, which may have been filled by hand.
 */
export function digestTicks(d: Digest): DigestTicks & { normal: boolean } {
  const told = lazyTicks.get(d)?.();
  if (told !== undefined) return { ...told, normal: true };
  const keys: string[] = [];
  const ticks: Tick[] = [];
  for (const [k, e] of d.entries) {
    keys.push(k);
    ticks.push(e.tick);
  }
  return { keys, ticks, normal: false };
}

/** `<sync:digest>` element; `prefix` is the prefix bound to the sync namespace in the output ('' = declare it). */
export function serializeDigest(d: Digest, prefix = 'sync'): string {
  const p = prefix ? `${prefix}:` : '';
  const decl = prefix ? '' : ` xmlns="${NS.sync}"`;
  // Pieces joined once at the end into one flat string. A template literal per entry made ~20 concatenations each, a
  // rope that the join then flattened: 30-35 ms cold for 10,000 entries against 11 with every piece its own item.
  const parts = [`<${p}digest${decl}>`];
  if (d.origin !== undefined) parts.push(`<${p}origin>${escapeText(d.origin)}</${p}origin>`);
  const entries = [...d.entries.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  const endpoint = `<${p}digestEntry><${p}endpoint>`;
  const tick = `</${p}endpoint><${p}tick>`;
  const stamp = `</${p}tick><${p}stamp>`;
  const prio = `</${p}stamp><${p}conflictPriority>`;
  const end = `</${p}conflictPriority></${p}digestEntry>`;
  for (const e of entries) parts.push(endpoint, escapeText(e.endpoint), tick, e.tick, stamp, escapeText(e.stamp), prio, String(e.conflictPriority), end);
  parts.push(`</${p}digest>`);
  return parts.join('');
}

/** The `$syncDigest` Atom entry (docs/protocol.md §1.3 step 1). */
export function serializeDigestEntry(d: Digest, selfUrl: string, updated = new Date().toISOString()): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}">` +
    `<id>${escapeText(selfUrl)}</id><title>Synchronization digest</title><updated>${updated}</updated>` +
    `<link rel="self" type="application/atom+xml; type=entry" title="Refresh" href="${escapeText(selfUrl)}"/>` +
    `<sdata:payload>${serializeDigest(d)}</sdata:payload></entry>\n`;
}
