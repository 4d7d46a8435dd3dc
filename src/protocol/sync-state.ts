import { escapeText } from './escape.ts';
import type { Tick } from './ticks.ts';

export type SyncMode = 'catchUp' | 'immediate';

export function parseSyncMode(text: string): SyncMode | undefined {
  const t = text.trim();
  if (t === 'catchUp' || t === 'immediate') return t;
  // Postel: the enum is case-sensitive in the XSD, but nothing is gained by refusing `catchup`.
  const l = t.toLowerCase();
  return l === 'catchup' ? 'catchUp' : l === 'immediate' ? 'immediate' : undefined;
}

/** Per-resource sync state (docs/protocol.md §2.1, spec 4.3). `tick` is canonical; `endpoint` as written. */
export interface SyncState {
  endpoint: string;
  tick: Tick;
  stamp: string;
  user?: string;
}

export function serializeSyncState(s: SyncState, prefix = 'sync'): string {
  const p = `${prefix}:`;
  const user = s.user === undefined ? '' : `<${p}user>${escapeText(s.user)}</${p}user>`;
  return `<${p}syncState><${p}endpoint>${escapeText(s.endpoint)}</${p}endpoint><${p}tick>${s.tick}</${p}tick>` +
    `<${p}stamp>${escapeText(s.stamp)}</${p}stamp>${user}</${p}syncState>`;
}

/** Stamps are compared as UTC instants; zone-less values are UTC (docs/protocol.md A38). NaN when unparseable. */
export function stampMillis(stamp: string): number {
  const s = stamp.trim();
  if (!s) return Number.NaN;
  const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(s);
  return Date.parse(hasZone ? s : `${s}Z`);
}
