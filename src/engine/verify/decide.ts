import type { Candidate } from './compare-file.ts';
import type { SideRow } from './side-file.ts';

/**
 * The comparison rule of `verify` (docs/protocol.md X22), per uuid, on what each side's whole sync feed said:
 * "the target holds exactly the source's resources" means every resource live on one side is live on the other with
 * the same canonical payload, and nothing else is live. A tombstone is a resource neither holds: deleted on both
 * sides, or deleted on one and never seen by the other, is equal.
 *
 * | source \ target | absent  | deleted | live                       |
 * |-----------------|---------|---------|----------------------------|
 * | absent          |         | equal   | extra                      |
 * | deleted         | equal   | equal   | deleted (state differs)    |
 * | live            | missing | deleted | payload, if digests differ |
 *
 * With `states`, resources present on both sides whose data agree are also compared by syncState (endpoint and
 * tick): a difference there is a `state` finding, reported but not a failure (the data are equal; see X22). A feed
 * that carries a uuid twice is a `duplicate` finding for that side; its last entry is the one compared.
 */

export type Difference = 'missing' | 'extra' | 'deleted' | 'payload' | 'state' | 'duplicate';

/** Differences that make `verify` fail (exit 8); `state` is reported only. */
export const FAILING: ReadonlySet<Difference> = new Set(['missing', 'extra', 'deleted', 'payload', 'duplicate']);

export interface Finding {
  differs: Difference;
  uuid: string;
  source: SideRow | undefined;
  target: SideRow | undefined;
  /** `duplicate`: the side, and how many entries of its feed carry the uuid. */
  side?: 'source' | 'target';
  count?: number;
}

export function decide(c: Candidate, states: boolean): Finding[] {
  const out: Finding[] = [];
  const [ss, ts] = c.rows;
  const s = ss[ss.length - 1];
  const t = ts[ts.length - 1];
  const finding = (differs: Difference): Finding => ({ differs, uuid: c.uuid, source: s, target: t });
  const [ns, nt] = c.counts;
  if (ns > 1) out.push({ ...finding('duplicate'), side: 'source', count: ns });
  if (nt > 1) out.push({ ...finding('duplicate'), side: 'target', count: nt });
  const sLive = s !== undefined && !s.deleted;
  const tLive = t !== undefined && !t.deleted;
  if (sLive && t === undefined) out.push(finding('missing'));
  else if (tLive && s === undefined) out.push(finding('extra'));
  else if (sLive !== tLive && s !== undefined && t !== undefined) out.push(finding('deleted'));
  else if (sLive && tLive && s.digest !== t.digest) out.push(finding('payload'));
  else if (states && s !== undefined && t !== undefined && (s.endpoint !== t.endpoint || s.tick !== t.tick)) out.push(finding('state'));
  return out;
}
