import { randomUUID } from 'node:crypto';
import { contractNamespace } from '../protocol/namespaces.ts';
import { Store } from '../provider/store/store.ts';
import { fillStore, seedResource, type SeedRow } from './seed-store.ts';

/**
 * Two stores that already share resources, as two applications do before their first sync (for `link`: tests and
 * bench/link.ts). Deterministic: resources are `seedResource`s whose `accountNumber` is the natural key, `ACC 00000042`.
 *
 * Per side `perSide` resources. Keys 0 … shared-1 exist on both sides; of those, the first `ambiguous` keys have a
 * second resource on one side (even keys: the source, odd: the target), which makes them ambiguous. The rest of each
 * side has keys of its own. The uuids of the one-to-one matches follow key % 5 (spec 1.2's cases):
 *   0 neither side linked · 1 only the source · 2 only the target · 3 both, different uuids · 4 both, the same uuid.
 * Resources without a match are linked every other one. With `variants`, the target writes one key in four
 * differently (lower case, padded, a doubled space, a tab): equal only after `--normalize trim,case,space`.
 */

export interface OverlapSide {
  db: string;
  app: string;
  endpointBase?: string;
  priority?: number;
}

export interface OverlapOptions {
  source: OverlapSide;
  target: OverlapSide;
  contract?: string;
  kind?: string;
  perSide: number;
  /** Keys on both sides. */
  shared: number;
  /** Shared keys made ambiguous (at most `shared`). */
  ambiguous: number;
  variants?: boolean;
  seed?: number;
  payloadBytes?: number;
  onProgress?: (side: 'source' | 'target', done: number) => void;
}

/** What `link` should find (with full normalisation when `variants`). */
export interface OverlapTruth {
  matched: number;
  neither: number;
  sourceOnly: number;
  targetOnly: number;
  different: number;
  same: number;
  ambiguousKeys: number;
  ambiguousResources: [number, number];
  unmatched: [number, number];
}

export const keyText = (j: number): string => `ACC ${String(j).padStart(8, '0')}`;

function variant(j: number): string {
  const k = keyText(j);
  switch (j % 4) {
    case 0: return k.toLowerCase();
    case 1: return `  ${k} `;
    case 2: return k.replace(' ', '  ');
    default: return k.replace(' ', '\t');
  }
}

/** One resource: the seeded payload with its key, and its uuid (or none: no link, a random unseen uuid kept). */
function resource(i: number, seed: number, ns: string, key: string, uuid: string | undefined, bytes: number): SeedRow {
  const r = seedResource(i, seed, ns, 'account', bytes);
  let payload = r.payload.replace(/<accountNumber>[^<]*<\/accountNumber>/, `<accountNumber>${key.replace(/\t/g, '&#9;')}</accountNumber>`);
  if (uuid === undefined) return { uuid: randomUUID(), payload: payload.replace(/ sdata:uuid="[^"]*"/, ''), linked: false };
  payload = payload.replace(/ sdata:uuid="[^"]*"/, ` sdata:uuid="${uuid}"`);
  return { uuid, payload, linked: true };
}

export async function seedOverlap(o: OverlapOptions): Promise<OverlapTruth> {
  const n = o.perSide;
  const shared = Math.min(o.shared, n);
  const amb = Math.min(o.ambiguous, shared);
  const dupSource = Math.ceil(amb / 2);
  const dupTarget = Math.floor(amb / 2);
  if (shared + dupSource > n || shared + dupTarget > n) throw new RangeError('seedOverlap: shared + ambiguous duplicates exceed perSide');
  const seed = o.seed ?? 1;
  const bytes = o.payloadBytes ?? 1024;
  const kind = o.kind ?? 'accounts';
  const uuidOf = (side: 0 | 1, j: number): string => seedResource(j, seed * 2 + side, '', 'u', 0).uuid;
  const truth: OverlapTruth = {
    matched: 0, neither: 0, sourceOnly: 0, targetOnly: 0, different: 0, same: 0, ambiguousKeys: amb,
    ambiguousResources: [amb + dupSource, amb + dupTarget], unmatched: [n - shared - dupSource, n - shared - dupTarget],
  };
  for (let j = amb; j < shared; j++) {
    truth.matched++;
    const c = j % 5;
    if (c === 0) truth.neither++;
    else if (c === 1) truth.sourceOnly++;
    else if (c === 2) truth.targetOnly++;
    else if (c === 3) truth.different++;
    else truth.same++;
  }
  for (const side of [0, 1] as const) {
    const s = side === 0 ? o.source : o.target;
    const store = new Store({
      db: s.db, app: s.app, contract: o.contract ?? 'crm', kinds: [kind],
      ...(s.endpointBase === undefined ? {} : { endpointBase: s.endpointBase }),
      ...(s.priority === undefined ? {} : { priority: s.priority }),
    });
    try {
      const ns = contractNamespace(store.contract);
      const dups = side === 0 ? dupSource : dupTarget;
      const key = (j: number): string => (side === 1 && o.variants ? variant(j) : keyText(j));
      const make = (i: number): SeedRow => {
        const rs = seed * 2 + side;
        if (i < shared) {
          // A shared key: its uuid by the case of its key (ambiguous keys: as an ordinary linked resource).
          const c = i < amb ? -1 : i % 5;
          const mine = c === 3 || c === -1 || (side === 0 ? c === 1 : c === 2);
          const u = c === 4 ? uuidOf(0, i) : mine ? uuidOf(side, i) : undefined;
          return resource(i, rs, ns, key(i), u, bytes);
        }
        if (i < shared + dups) {
          // The second resource of an ambiguous key (even keys on the source, odd on the target).
          const j = 2 * (i - shared) + side;
          return resource(i, rs, ns, key(j), undefined, bytes);
        }
        // A key of this side alone: beyond the shared range, different per side.
        const j = 10 * n + side * n + i;
        return resource(i, rs, ns, key(j), i % 2 === 0 ? uuidOf(side, i) : undefined, bytes);
      };
      await fillStore(store, store.kind(kind)!, n, make, (d) => o.onProgress?.(side === 0 ? 'source' : 'target', d));
    } finally {
      store.close();
    }
  }
  return truth;
}
