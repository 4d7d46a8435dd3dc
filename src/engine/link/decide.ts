import { uuidKey } from '../../protocol/uuid.ts';
import type { JoinRow, KeyGroup, Side } from './join-file.ts';

/**
 * What `link` does with the resources that share a natural key (spec 1.2's three cases, 1.4's external linking
 * utility; docs/protocol.md §3.11). Pure: the caller gives the winner of a uuid disagreement and a uuid generator.
 *
 * - one resource on each side (a match):
 *   - the same uuid on both: already linked, nothing to do;
 *   - neither has one: a new uuid for both (POST `$linked` on each side);
 *   - one has one: the other takes it (POST `$linked` on that side);
 *   - two different ones: the winner's is kept and the loser re-points it to its resource (PUT `$linked('{uuid}')`
 *     on the loser's side; a provider like ours keeps the loser's old uuid as an alias);
 * - several resources on a side: ambiguous, reported, never linked;
 * - resources on one side only: unmatched; resources without the key fields: no key.
 */

export type Action =
  | 'already-linked' | 'link-both' | 'copy-to-target' | 'copy-to-source' | 'repoint-target' | 'repoint-source'
  | 'uuid-taken' | 'ambiguous' | 'unmatched-source' | 'unmatched-target' | 'no-key-source' | 'no-key-target';

/** A `$linked` request on one side: POST links `url` to `uuid`; PUT points `uuid` at `url`. */
export interface LinkOp {
  /** The natural key it comes from (for the report). */
  key: string;
  side: Side;
  method: 'POST' | 'PUT';
  url: string;
  uuid: string;
}

export interface Decision {
  action: Action;
  key: string | undefined;
  /** How many resources of each side share the key. */
  counts: [number, number];
  /** A match: the pair. */
  source?: JoinRow;
  target?: JoinRow;
  /** Ambiguous, unmatched, no key: the resources (the first few per side, KeyGroup.rows). */
  rows?: [JoinRow[], JoinRow[]];
  /** The uuid the pair ends up with. */
  uuid?: string;
  /** uuid-taken: the resource of the receiving side that already answers to that uuid. */
  heldBy?: string;
  ops: LinkOp[];
}

export const SIDE_NAMES = ['source', 'target'] as const;

/** The decision for one key group. `winner`: the side whose uuid is kept when both have a different one. */
export function decide(g: KeyGroup, winner: Side, newUuid: () => string): Decision {
  const [ns, nt] = g.counts;
  if (g.key === undefined) return { action: ns > 0 ? 'no-key-source' : 'no-key-target', key: undefined, counts: g.counts, rows: g.rows, ops: [] };
  if (ns === 0 || nt === 0) return { action: ns > 0 ? 'unmatched-source' : 'unmatched-target', key: g.key, counts: g.counts, rows: g.rows, ops: [] };
  if (ns > 1 || nt > 1) return { action: 'ambiguous', key: g.key, counts: g.counts, rows: g.rows, ops: [] };
  return pair(g.key, g.rows[0][0]!, g.rows[1][0]!, winner, newUuid);
}

function pair(key: string, s: JoinRow, t: JoinRow, winner: Side, newUuid: () => string): Decision {
  const base = { key, counts: [1, 1] as [number, number], source: s, target: t };
  if (s.uuid !== undefined && t.uuid !== undefined) {
    if (uuidKey(s.uuid) === uuidKey(t.uuid)) return { ...base, action: 'already-linked', uuid: s.uuid, ops: [] };
    const [w, l] = winner === 0 ? [s, t] : [t, s];
    const loser: Side = winner === 0 ? 1 : 0;
    return { ...base, action: loser === 1 ? 'repoint-target' : 'repoint-source', uuid: w.uuid!, ops: [{ key, side: loser, method: 'PUT', url: l.url, uuid: w.uuid! }] };
  }
  if (s.uuid !== undefined) return { ...base, action: 'copy-to-target', uuid: s.uuid, ops: [{ key, side: 1, method: 'POST', url: t.url, uuid: s.uuid }] };
  if (t.uuid !== undefined) return { ...base, action: 'copy-to-source', uuid: t.uuid, ops: [{ key, side: 0, method: 'POST', url: s.url, uuid: t.uuid }] };
  const u = newUuid();
  return { ...base, action: 'link-both', uuid: u, ops: [{ key, side: 0, method: 'POST', url: s.url, uuid: u }, { key, side: 1, method: 'POST', url: t.url, uuid: u }] };
}

/** Which side's uuid survives a disagreement: the lower conflictPriority (spec 4.2), then the smaller endpoint (docs/protocol.md A37). */
export function winnerOf(prio: [number, number], endpoints: [string, string]): Side {
  if (prio[0] !== prio[1]) return prio[0] < prio[1] ? 0 : 1;
  return endpoints[0] <= endpoints[1] ? 0 : 1;
}

export interface KeyNormalization {
  trim: boolean;
  case: boolean;
  space: boolean;
}

/**
 * The natural key of a resource from its field values (undefined if any is missing): each value normalised as
 * asked (trim the ends, lower-case, collapse inner white space to one space), joined by U+0001, which XML 1.0 text
 * cannot contain (so two different tuples never give one key).
 */
export function naturalKey(values: ReadonlyArray<string | undefined>, n: KeyNormalization): string | undefined {
  let k = '';
  for (let i = 0; i < values.length; i++) {
    let v = values[i];
    if (v === undefined) return undefined;
    if (n.space) v = v.replace(/\s+/g, ' ');
    if (n.trim) v = v.trim();
    if (n.case) v = v.toLowerCase();
    k += i === 0 ? v : `\u0001${v}`;
  }
  return k;
}
