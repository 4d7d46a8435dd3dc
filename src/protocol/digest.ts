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

/** Where a parser is: line and column (1-based) just after what it read last. */
export interface Position {
  line: number;
  column: number;
}

/**
 * Builds a Digest from the element events inside `sync:digest`, whichever parser produces them.
 * Feed `begin(local)` / `text` / `end(local)` for sync-namespace children; call `finish()` at `</digest>`.
 * `source` names the document; with `at` (the parser's position) an error points at the element that is wrong:
 * `page.xml:14:99: sync:digest: digestEntry for …: tick '-5' is not a non-negative integer`.
 */
export class DigestBuilder {
  private readonly digest: Digest = emptyDigest();
  private cur: Partial<DigestEntry> & { tickText?: string; prioText?: string } | undefined;
  private field = '';
  private text = '';
  private readonly source: string;
  private readonly at: (() => Position) | undefined;
  /** Where the current digestEntry and its fields began. */
  private readonly began = new Map<string, Position>();

  constructor(source = '', at?: () => Position) {
    this.source = source;
    this.at = at;
  }

  private fail(code: 'SDATA_E_DIGEST' | 'SDATA_E_TICK', element: string, message: string): SdataError {
    const p = this.began.get(element) ?? this.began.get('digestEntry');
    if (!p) return new SdataError(code, `${this.source ? `${this.source}: ` : ''}sync:digest: ${message}`, this.source ? { source: this.source } : {});
    return new SdataError(code, `${this.source}:${p.line}:${p.column}: sync:digest: ${message}`, { source: this.source, line: p.line, column: p.column });
  }

  begin(local: string): void {
    if (local === 'digestEntry') {
      this.cur = {};
      this.began.clear();
    } else this.field = local;
    if (this.at) this.began.set(local, this.at());
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
      if (!c.endpoint) throw this.fail('SDATA_E_DIGEST', 'digestEntry', 'digestEntry without endpoint');
      if (c.tickText === undefined) throw this.fail('SDATA_E_DIGEST', 'digestEntry', `digestEntry for ${c.endpoint} has no tick`);
      const tick = parseTick(c.tickText);
      if (tick === undefined) {
        throw this.fail('SDATA_E_TICK', 'tick', `digestEntry for ${c.endpoint}: tick '${c.tickText.trim()}' is not a non-negative integer`);
      }
      let prio = 9;
      if (c.prioText !== undefined && c.prioText.trim() !== '') {
        prio = Number(c.prioText.trim());
        if (!Number.isInteger(prio)) {
          throw this.fail('SDATA_E_DIGEST', 'conflictPriority', `digestEntry for ${c.endpoint}: conflictPriority '${c.prioText.trim()}' is not an integer`);
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
