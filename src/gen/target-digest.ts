import { emptyDigest, serializeDigestEntry, setDigestEntry, type Digest } from '../protocol/digest.ts';
import { endpointBase, endpointUrl, entryEndpointIndex } from './synthetic.ts';
import { type ResolvedFeedOptions } from './synthetic-feed.ts';

/** The target side of the synthetic world: its own collection URL (no feed entry ever names it). */
export function targetEndpointUrl(kind = 'accounts'): string {
  return `http://www.example.com/sdata/target/myContract/-/${kind}`;
}

export interface TargetDigestPlan {
  digest: Digest;
  /** Entries `plan` skips against this digest (tick < T[ep]), and the rest, which it forwards. */
  skipped: number;
  forwarded: number;
}

/**
 * A target digest under which exactly round(ratio × count) entries of the feed are skipped by the engine rule
 * (skip iff the digest knows the entry's endpoint and tick < T[ep].tick). Whole endpoints are skipped first, so
 * skipped and forwarded entries interleave along the feed; the last one needed is cut at the right entry.
 * Endpoints that are forwarded alternate between "known at their lowest tick" (tick == first tick: not skipped,
 * the boundary case) and "unknown to the target". One endpoint is written with a differently-cased host and a
 * trailing slash (normalisation), and one the source never mentions is present.
 */
export function targetDigestFor(o: ResolvedFeedOptions, ratio: number): TargetDigestPlan {
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`skip ratio must be within 0..1 (got ${ratio})`);
  const counts = new Array<number>(o.endpoints).fill(0);
  for (let i = 0; i < o.count; i++) counts[entryEndpointIndex(o, i)]!++;
  let need = Math.round(ratio * o.count);
  const skipped = need;
  const cut = new Array<bigint | undefined>(o.endpoints).fill(undefined);
  let partial = -1;
  let partialNeed = 0;
  for (let k = 0; k < o.endpoints && need > 0; k++) {
    if (counts[k]! <= need) {
      cut[k] = endpointBase(k) + BigInt(o.count);
      need -= counts[k]!;
    } else {
      partial = k;
      partialNeed = need;
      need = 0;
    }
  }
  if (partial >= 0) {
    // The first entry of that endpoint not to skip is the (partialNeed+1)-th: its tick is the cut.
    let seen = 0;
    for (let i = 0; i < o.count; i++) {
      if (entryEndpointIndex(o, i) !== partial) continue;
      if (seen === partialNeed) {
        cut[partial] = endpointBase(partial) + BigInt(i);
        break;
      }
      seen++;
    }
  }
  const d = emptyDigest(targetEndpointUrl(o.kind));
  const stamp = '2024-05-01T00:00:00.000Z';
  setDigestEntry(d, { endpoint: targetEndpointUrl(o.kind), tick: '1', stamp, conflictPriority: 3 });
  setDigestEntry(d, { endpoint: 'http://www.example.com/sdata/elsewhere/myContract/-/' + o.kind, tick: '42', stamp, conflictPriority: 9 });
  let forwardedEndpoints = 0;
  for (let k = 0; k < o.endpoints; k++) {
    const spelled = k === 1 ? endpointUrl(k, o.kind).replace('www.example.com', 'WWW.EXAMPLE.com') + '/' : endpointUrl(k, o.kind);
    const c = cut[k];
    if (c !== undefined) {
      setDigestEntry(d, { endpoint: spelled, tick: c.toString(), stamp, conflictPriority: k === 0 ? 1 : 5 });
    } else if (forwardedEndpoints++ % 2 === 0) {
      setDigestEntry(d, { endpoint: spelled, tick: endpointBase(k).toString(), stamp, conflictPriority: 5 });
    }
  }
  return { digest: d, skipped, forwarded: o.count - skipped };
}

/** The digest as the `$syncDigest` Atom entry a target would answer with (fixed `updated`: output is deterministic). */
export function targetDigestEntryXml(o: ResolvedFeedOptions, d: Digest): string {
  return serializeDigestEntry(d, `${targetEndpointUrl(o.kind)}/$syncDigest`, '2024-05-01T00:00:00.000Z');
}
