import { mix32, Rng } from '../gen/rng.ts';
import { contractNamespace, NS } from '../protocol/namespaces.ts';
import { nextTick, type Tick } from '../protocol/ticks.ts';
import { mergeChildLists } from '../provider/payload/child-lists.ts';
import { normalizeFragment } from '../provider/payload/fragment.ts';
import type { KindInfo } from '../provider/store/repositories.ts';
import { nowStamp, Store } from '../provider/store/store.ts';

/**
 * Test data for provider stores (`sdata-sync seed`, `demo`, benches and tests; the server never imports it). A layer
 * of its own above the provider: it draws from the generator's Rng and writes through the provider's store.
 *
 * Deterministic seeding: resource i of seed s is always the same (uuid, values), ~1 KB of UTF-8 with nested
 * elements, a child list with uuids (complete, or created from a delta), a single child, a reference, xsi:nil, non-ASCII text (accents, CJK, emoji) and entity
 * references. Seeded resources are local changes of the store's own endpoint, ticked one by one (docs/protocol.md §3.1).
 */

export interface SeedOptions {
  db: string;
  app: string;
  contract: string;
  dataset?: string;
  kind: string;
  count: number;
  endpointBase?: string;
  priority?: number;
  /** Default 1. */
  seed?: number;
  /** Approximate UTF-8 bytes per payload (default 1024). */
  payloadBytes?: number;
  /** Progress callback every 10,000 resources. */
  onProgress?: (done: number) => void;
}

/** Seed and index are mixed separately first: xor-ing them raw would make (seed 2, i 1) and (seed 3, i 0) collide. */
function hash(seed: number, i: number): number {
  return mix32(mix32(seed ^ 0x9e3779b9) ^ mix32((i >>> 0) + 0x632be5ab) ^ mix32(Math.floor(i / 4294967296)));
}

const HEX = '0123456789abcdef';
/**
 * A v4-shaped uuid. `first` fixes the leading 32 bits: for resource uuids it is a bijection of the index, so a
 * store's uuids never collide (a generator seeded with 32 bits alone repeats after ~65k draws, birthday bound).
 */
function uuid(r: Rng, first?: number): string {
  let s = first === undefined ? '' : (first >>> 0).toString(16).padStart(8, '0');
  for (let k = s.length; k < 32; k++) {
    if (k === 8 || k === 12 || k === 16 || k === 20) s += '-';
    s += HEX[k === 12 ? 4 : k === 16 ? 8 + (r.next() & 3) : r.next() & 15];
  }
  return s;
}

const NAMES = ['Natural Goods Ltd.', 'Société Générale &amp; Fils', 'Größenwahn GmbH', '株式会社サンプル', 'Çağ Ticaret A.Ş.',
  'O&apos;Neil &amp; Sons', 'Ølbryggeriet', 'Les Délices 🍰', 'Chemical Bros Inc.', 'Łódź Logistics'];
const FIRST = ['Anna', 'Jürgen', 'Zoë', 'Søren', 'Hélène', '太郎', 'Ioana', 'Øyvind', 'José', 'Małgorzata'];
const LAST = ['Müller', 'Dubois', 'Nakamura', 'Østergaard', 'García', 'Kowalski', 'Smith', 'Popescu', 'Jensen', 'Ünal'];
const CITIES = ['Zürich', 'Paris', '東京', 'München', 'Kraków', 'Reykjavík', 'Montréal', 'København', 'Αθήνα', 'São Paulo'];
const COUNTRIES = ['CH', 'FR', 'JP', 'DE', 'PL', 'IS', 'CA', 'DK', 'GR', 'BR'];
const WORDS = ['ledger', 'invoice', 'balance', 'naïve', 'façade', 'データ', 'Москва', 'R&amp;D', '&lt;none&gt;', 'caf&#233;',
  'payment', 'terms', '😀', 'quarter', 'Ελλάδα', 'review', 'supply', 'İstanbul', 'credit', 'region'];
const STATUS = ['active', 'prospect', 'inactive', 'on hold'];

const COMPLETE_FLAG = ' sdata:deleteMissing="true"';

export interface SeedResource {
  uuid: string;
  payload: string;
}

/** Resource i of `seed`: a self-contained `account`-style element of about `bytes` UTF-8 bytes. */
export function seedResource(i: number, seed = 1, contractNs = contractNamespace('crm'), element = 'account', bytes = 1024): SeedResource {
  const r = new Rng(hash(seed, i) | 1);
  const id = uuid(r, mix32((i >>> 0) ^ mix32(seed + 0x51ed27)));
  let s = `<${element} xmlns="${contractNs}" xmlns:sdata="${NS.sdata}" xmlns:xsi="${NS.xsi}" sdata:uuid="${id}">`;
  s += `<name>${r.pick(NAMES)} #${i}</name><accountNumber>ACC-${String(i).padStart(8, '0')}</accountNumber>`;
  s += `<status>${r.pick(STATUS)}</status><creditLimit>${(r.int(10_000_000) / 100).toFixed(2)}</creditLimit>`;
  s += (i & 1) === 0 ? '<fax xsi:nil="true"/>' : `<fax>+41 44 ${100 + r.int(900)} ${1000 + r.int(9000)}</fax>`;
  s += `<primaryContact sdata:uuid="${uuid(r)}"/>`;
  const c = r.int(CITIES.length);
  s += `<address sdata:uuid="${uuid(r)}"><street>${1 + r.int(300)} ${r.pick(WORDS)} Street</street><city>${CITIES[c]}</city>` +
    `<postCode>${10000 + r.int(89999)}</postCode><country>${COUNTRIES[c]}</country></address>`;
  // A child list (docs/protocol.md §3.3): complete and flagged, or, for every fourth resource, written as a delta with
  // a child flagged deleted, as a sender in the 6.1 style would create it; the store keeps what a local create keeps
  // (the complete list, flagged, without the deleted child), which is the same bytes. Its uuid comes from a generator
  // of its own, so that the resource's other values stay what they were.
  const delta = i % 4 === 3;
  s += delta ? '<contacts>' : `<contacts${COMPLETE_FLAG}>`;
  const n = 1 + r.int(2);
  for (let k = 0; k < n; k++) {
    const f = r.pick(FIRST);
    s += `<contact sdata:uuid="${uuid(r)}"><firstName>${f}</firstName><lastName>${r.pick(LAST)}</lastName>` +
      `<email>contact${k}.${i}@example.com</email><phone>+1 555 ${1000 + r.int(9000)}</phone></contact>`;
  }
  const gone = delta ? `<contact sdata:uuid="${uuid(new Rng(hash(seed, i) ^ 0x5eed))}" sdata:isDeleted="true"/>` : '';
  s += `${gone}</contacts><notes>`;
  // Sized as stored: the flag in, the deleted child out.
  let size = Buffer.byteLength(s) - gone.length + (delta ? COMPLETE_FLAG.length : 0) + 20 + element.length;
  for (let w = 0; w < 3 || size < bytes; w++) {
    const w = r.pick(WORDS);
    s += w;
    s += ' ';
    size += Buffer.byteLength(w) + 1;
  }
  s += `</notes></${element}>`;
  const payload = normalizeFragment(s);
  return { uuid: id, payload: delta ? mergeChildLists(undefined, payload, true) : payload };
}

/** Fills a store with `count` generated resources of one kind; returns how many and the kind's endpoint URL. */
export async function seedStore(o: SeedOptions): Promise<{ count: number; endpoint: string }> {
  const store = new Store({
    db: o.db, app: o.app, contract: o.contract, dataset: o.dataset ?? '-', kinds: [o.kind],
    ...(o.endpointBase === undefined ? {} : { endpointBase: o.endpointBase }),
    ...(o.priority === undefined ? {} : { priority: o.priority }),
  });
  try {
    const kind = store.kind(o.kind)!;
    const ns = contractNamespace(store.contract);
    const element = o.kind.endsWith('s') ? o.kind.slice(0, -1) : o.kind;
    const have = store.admin.counts(kind.id);
    const base = have.resources + have.tombstones;
    await fillStore(store, kind, o.count, (i) => seedResource(base + i, o.seed ?? 1, ns, element, o.payloadBytes ?? 1024), o.onProgress);
    return { count: o.count, endpoint: kind.selfUrl };
  } finally {
    store.close();
  }
}

/** A resource to seed; `linked: false` makes one without a link (spec 1.2): `uuid` is then its unseen one. */
export interface SeedRow extends SeedResource {
  linked?: boolean;
}

/**
 * Writes `count` resources made by `make(i)` as local changes of the store's own endpoint, ticked one by one
 * (docs/protocol.md §3.1), in transactions of a few thousand.
 */
export async function fillStore(store: Store, kind: KindInfo, count: number, make: (i: number) => SeedRow, onProgress?: (done: number) => void): Promise<void> {
  const batch = 5000;
  let done = 0;
  while (done < count) {
    const end = Math.min(count, done + batch);
    store.tx((w) => {
      // Ticks straight from the digest row: one local state per resource, the digest moved once per batch.
      const self = w.digest.rows(kind.id).get(kind.selfEp)!;
      let tick: Tick = self.tick;
      const stamp = nowStamp();
      for (let i = done; i < end; i++) {
        const r = make(i);
        w.resources.insert(kind.id, r.uuid, false, kind.selfEp, tick, stamp, null, r.payload, r.linked ?? true);
        tick = nextTick(tick);
      }
      w.digest.advance(kind.id, kind.selfEp, tick, self.prio, stamp);
    });
    done = end;
    if (done % 10_000 === 0 || done === count) onProgress?.(done);
    // Let the event loop breathe between batches (signals, progress output).
    await new Promise((r) => setImmediate(r));
  }
}
