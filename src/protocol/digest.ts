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
 * Builds a Digest from the element events inside `sync:digest`, whichever parser produces them.
 * Feed `begin(local)` / `text` / `end(local)` for sync-namespace children; call `finish()` at `</digest>`.
 */
export class DigestBuilder {
  private readonly digest: Digest = emptyDigest();
  private cur: Partial<DigestEntry> & { tickText?: string; prioText?: string } | undefined;
  private field = '';
  private text = '';
  private readonly where: string;

  constructor(where = 'sync:digest') {
    this.where = where;
  }

  begin(local: string): void {
    if (local === 'digestEntry') this.cur = {};
    else this.field = local;
    this.text = '';
  }

  addText(t: string): void {
    if (this.field) this.text += t;
  }

  end(local: string): void {
    if (local === 'digestEntry') {
      const c = this.cur;
      this.cur = undefined;
      if (!c) return;
      if (!c.endpoint) throw new SdataError('SDATA_E_DIGEST', `${this.where}: digestEntry without endpoint`);
      if (c.tickText === undefined) throw new SdataError('SDATA_E_DIGEST', `${this.where}: digestEntry for ${c.endpoint} has no tick`);
      const tick = parseTick(c.tickText);
      if (tick === undefined) {
        throw new SdataError('SDATA_E_TICK', `${this.where}: digestEntry for ${c.endpoint}: tick '${c.tickText.trim()}' is not a non-negative integer`);
      }
      let prio = 9;
      if (c.prioText !== undefined && c.prioText.trim() !== '') {
        prio = Number(c.prioText.trim());
        if (!Number.isInteger(prio)) {
          throw new SdataError('SDATA_E_DIGEST', `${this.where}: digestEntry for ${c.endpoint}: conflictPriority '${c.prioText.trim()}' is not an integer`);
        }
      }
      setDigestEntry(this.digest, { endpoint: c.endpoint, tick, stamp: c.stamp ?? '', conflictPriority: prio });
      return;
    }
    const t = this.text.trim();
    if (this.cur) {
      if (local === 'endpoint') this.cur.endpoint = t;
      else if (local === 'tick') this.cur.tickText = this.text;
      else if (local === 'stamp') this.cur.stamp = t;
      else if (local === 'conflictPriority') this.cur.prioText = this.text;
    } else if (local === 'origin') {
      this.digest.origin = t;
    }
    this.field = '';
    this.text = '';
  }

  finish(): Digest {
    return this.digest;
  }
}

/** `<sync:digest>` element; `prefix` is the prefix bound to the sync namespace in the output ('' = declare it). */
export function serializeDigest(d: Digest, prefix = 'sync'): string {
  const p = prefix ? `${prefix}:` : '';
  const decl = prefix ? '' : ` xmlns="${NS.sync}"`;
  let s = `<${p}digest${decl}>`;
  if (d.origin !== undefined) s += `<${p}origin>${escapeText(d.origin)}</${p}origin>`;
  const entries = [...d.entries.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  for (const e of entries) {
    s += `<${p}digestEntry><${p}endpoint>${escapeText(e.endpoint)}</${p}endpoint><${p}tick>${e.tick}</${p}tick>` +
      `<${p}stamp>${escapeText(e.stamp)}</${p}stamp><${p}conflictPriority>${e.conflictPriority}</${p}conflictPriority></${p}digestEntry>`;
  }
  return `${s}</${p}digest>`;
}

/** The `$syncDigest` Atom entry (docs/protocol.md §1.3 step 1). */
export function serializeDigestEntry(d: Digest, selfUrl: string, updated = new Date().toISOString()): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}">` +
    `<id>${escapeText(selfUrl)}</id><title>Synchronization digest</title><updated>${updated}</updated>` +
    `<link rel="self" type="application/atom+xml; type=entry" title="Refresh" href="${escapeText(selfUrl)}"/>` +
    `<sdata:payload>${serializeDigest(d)}</sdata:payload></entry>\n`;
}
