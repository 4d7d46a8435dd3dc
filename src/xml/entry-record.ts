import type { SaxesTagNS } from 'saxes';
import { parseTick } from '../protocol/ticks.ts';
import { toChars } from './canonical-text.ts';
import type { EntryRecord } from './feed-types.ts';
import type { UriMatch } from './saxes-adapter.ts';

/**
 * An EntryRecord from its start tag to its end tag, and the rules that make an entry unforwardable (docs/engine-rules.md
 * §1): what the reader found is checked here, where it is read is the reader's business.
 */

export const NO_DECLS: readonly string[] = Object.freeze([]);

/** The prefixes an element declares itself ('' = default), or NO_DECLS (shared) when it declares none. */
export function ownDeclarations(tag: SaxesTagNS): readonly string[] {
  const own = tag.ns;
  if (own) for (const _ in own) return Object.keys(own);
  return NO_DECLS;
}

/**
 * sdata:payload was opened: its sdata:uuid becomes the entry's unless the resource element gives one (docs/protocol.md
 * A19; by namespace, whatever the prefix), and the declarations it makes are a scope of the resource's.
 */
export function payloadOpened(rec: EntryRecord, tag: SaxesTagNS, sdata: UriMatch): void {
  if (rec.uuid === undefined) {
    const attrs = tag.attributes;
    for (const k in attrs) {
      const a = attrs[k]!;
      if (a.local === 'uuid' && sdata.is(a.uri)) rec.uuid = a.value.trim();
    }
  }
  const ns = tag.ns;
  if (ns) for (const _ in ns) {
    rec.scopes = [...rec.scopes, ns];
    break;
  }
}

/** The resource element was opened: its name, namespace and own declarations, its sdata:uuid and its isDeleted (sdata: or sync:). */
export function resourceOpened(rec: EntryRecord, tag: SaxesTagNS, sdata: UriMatch, sync: UriMatch): void {
  rec.resourceLocal = tag.local;
  rec.resourceUri = tag.uri;
  rec.resourceOwnDecls = ownDeclarations(tag);
  const attrs = tag.attributes;
  for (const k in attrs) {
    const a = attrs[k]!;
    if (a.local === 'uuid' && sdata.is(a.uri)) rec.uuid = a.value.trim();
    else if (a.local === 'isDeleted' && (sdata.is(a.uri) || sync.is(a.uri))) {
      const v = a.value.trim();
      rec.isDeleted = v === 'true' || v === '1';
    }
  }
}

/** The record of an entry whose start tag `tag` was just read, at `line`:`column`, inside a feed binding `feed`. */
export function newEntryRecord(index: number, line: number, column: number, tag: SaxesTagNS, feed: Readonly<Record<string, string>>): EntryRecord {
  const ownDecls = ownDeclarations(tag);
  return {
    index,
    line,
    column,
    atomId: undefined,
    uuid: undefined,
    isDeleted: false,
    state: undefined,
    httpMethod: undefined,
    ifMatch: undefined,
    text: undefined,
    nameEnd: 1 + tag.name.length,
    ownDecls,
    resourceStart: -1,
    resourceNameEnd: -1,
    resourceEnd: -1,
    scopes: ownDecls === NO_DECLS ? [feed] : [feed, tag.ns],
    resourceOwnDecls: NO_DECLS,
    resourceLocal: undefined,
    resourceUri: undefined,
    invalid: undefined,
  };
}

/** At the end of `sync:syncState`: its tick (the raw text, undefined when absent) and endpoint must be there. */
export function closeSyncState(rec: EntryRecord, tick: string | undefined): void {
  const st = rec.state!;
  if (tick === undefined) {
    rec.invalid ??= 'sync:syncState has no sync:tick';
  } else {
    const t = parseTick(tick);
    if (t === undefined) rec.invalid ??= `sync:tick '${tick.trim()}' is not a non-negative integer`;
    else st.tick = t;
  }
  if (!st.endpoint) rec.invalid ??= 'sync:syncState has no sync:endpoint';
}

/** At the entry's end tag: its exact text (undefined: over the cap of `maxEntryBytes`), and the last rules. */
export function closeEntry(rec: EntryRecord, text: string | undefined, maxEntryBytes: number): void {
  if (text === undefined) {
    rec.invalid = `entry is larger than the ${maxEntryBytes}-byte limit (--max-entry-bytes)`;
    rec.resourceStart = rec.resourceEnd = rec.resourceNameEnd = -1;
  } else {
    rec.text = text;
  }
  if (rec.invalid === undefined) {
    if (rec.state === undefined) rec.invalid = 'no sync:syncState';
    else if (rec.uuid === undefined || rec.uuid === '') rec.invalid = 'no sdata:uuid on the payload resource';
  }
}

/** UTF-16 units of the UTF-8 bytes [from, to) of the Latin-1 view `s` (whole characters). */
export function utf16Units(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if ((c & 0xc0) !== 0x80) n += c >= 0xf0 ? 2 : 1;
  }
  return n;
}

/**
 * A record whose text is UTF-8 bytes (EntryRecord.textBytes) as the same record in characters, the FeedReader's
 * form: its text decoded and its offsets counted in UTF-16 units. Other records are returned as they are.
 */
export function recordInChars(rec: EntryRecord): EntryRecord {
  const t = rec.text;
  if (rec.textBytes !== true || t === undefined) return rec;
  const unit = (b: number): number => (b < 0 ? b : utf16Units(t, 0, b));
  const { textBytes: _, ...chars } = rec;
  return {
    ...chars, text: toChars(t), nameEnd: unit(rec.nameEnd),
    resourceStart: unit(rec.resourceStart), resourceNameEnd: unit(rec.resourceNameEnd), resourceEnd: unit(rec.resourceEnd),
  };
}
