import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Store } from '../../../src/provider/store/store.ts';
import type { ResourceWrites, StoreWriter } from '../../../src/provider/store/repositories.ts';
import { ResultRenderer } from '../../../src/provider/sync/result-entry.ts';
import { TargetApplier } from '../../../src/provider/sync/target-applier.ts';
import { seedResource } from '../../../src/seeder/seed-store.ts';
import { FeedReader } from '../../../src/xml/feed-reader.ts';
import { ScannedFeedReader } from '../../../src/xml/scanned-feed-reader.ts';
import { page, type TestEntry } from '../../helpers/feeds.ts';

// After an entry that created its resource, the target inserts the next one first and looks it up only when its uuid
// is known (ResourceRepo.insertNew: INSERT … ON CONFLICT DO NOTHING; docs/decisions/0028-target-cpu.md). The oracle is
// the same applier whose insertNew looks the uuid up first (stateOf, then insert), as every entry was applied
// before: both must leave identical rows, digests and result feeds, on pages where creates, updates, ignored and
// conflicting versions, deletions of unknown and known resources, aliases of re-pointed resources, child lists and
// invalid entries follow each other in every order.

const SERVING = 'http://t.example/sdata/app/c/-/accounts';
const EP = 'http://a.example/sdata/app/c/-/accounts';
const EP2 = 'http://b.example/sdata/app/c/-/accounts';
const uuid = (i: number): string => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;

interface Counts { inserted: number; known: number; bytes: number }

/** The resource writes of `w`, with insertNew counted, or replaced by a look-up first (`lookUpFirst`: the oracle). */
function resources(w: StoreWriter, lookUpFirst: boolean, counts: Counts): ResourceWrites {
  const r = w.resources;
  const seen = (p: string | Uint8Array): void => {
    if (typeof p !== 'string') counts.bytes++;
  };
  return {
    byUuid: (k, u) => r.byUuid(k, u),
    byId: (k, id) => r.byId(k, id),
    stateOf: (k, u) => r.stateOf(k, u),
    payloadOf: (id) => r.payloadOf(id),
    insert: (...a) => {
      seen(a[7]);
      return r.insert(...a);
    },
    update: (...a) => {
      seen(a[6]);
      r.update(...a);
    },
    insertNew: (k, u, ...rest) => {
      seen(rest[5]);
      const id = lookUpFirst ? (r.stateOf(k, u) === undefined ? r.insert(k, u, ...rest) : undefined) : r.insertNew(k, u, ...rest);
      if (id === undefined) counts.known++;
      else counts.inserted++;
      return id;
    },
  };
}

function applyAll(bodies: string[], lookUpFirst: boolean, counts: Counts, saxes = false): unknown {
  const store = new Store({ db: ':memory:', kinds: ['accounts'] });
  try {
    const kind = store.kind('accounts')!;
    // Resource 1 (created here) also answers to uuid 900, as after a re-point (docs/protocol.md §3.11).
    store.tx((w) => {
      const id = w.resources.insert(kind.id, uuid(1), false, store.endpointId(EP2), '3', '2020-01-01T00:00:00Z', null, `<account xmlns="urn:x" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" sdata:uuid="${uuid(1)}"><name>local</name></account>`);
      w.links.addAlias(kind.id, uuid(900), id);
    });
    const results: string[][] = [];
    const stats: unknown[] = [];
    bodies.forEach((body, ctx) => {
      const applier = new TargetApplier({ store, kind, ctx: ctx + 1, servingCollection: SERVING, source: 'POST /t' });
      const reader = saxes ? new FeedReader(applier, { source: 'POST /t' }) : new ScannedFeedReader(applier, { source: 'POST /t', resourceBytes: true }, 400);
      const bytes = Buffer.from(body);
      for (let at = 0; at < bytes.length; at += 700) {
        store.tx((w) => {
          applier.begin({ ...w, resources: resources(w, lookUpFirst, counts) });
          reader.push(bytes.subarray(at, at + 700));
          if (at + 700 >= bytes.length) reader.end();
          applier.flush();
        });
      }
      stats.push(applier.stats);
      const renderer = new ResultRenderer({ store, kind, serving: SERVING, updated: 'T' });
      results.push([...store.results.read(ctx + 1, 0, 1e6)].map((r) => renderer.render(r).replace(/<updated>[^<]*<\/updated>/g, '<updated/>')));
    });
    const rows: unknown[] = [];
    for (let id = 1; ; id++) {
      const r = store.resources.byId(kind.id, id);
      if (r === undefined) break;
      rows.push(r);
    }
    const digest = [...store.digest.rows(kind.id)].map(([ep, r]) => [store.endpoint(ep).url, r.tick, r.prio]);
    return { rows, digest, results, stats };
  } finally {
    store.close();
  }
}

describe('target apply: insert first after a create = look up first', () => {
  it('creates, updates, ignored and conflicting versions, deletions, aliases, child lists and invalid entries in every order', () => {
    const list = (i: number, flag: string): string =>
      `<addresses${flag}><address sdata:uuid="a${i}"><street>s${i}</street></address></addresses>`;
    // Page 1: creates, then a known uuid (resource 1), its alias, a deletion of an unknown uuid, child lists.
    const first: TestEntry[] = [
      ...Array.from({ length: 6 }, (_, i) => ({ endpoint: EP, tick: 10 + i, uuid: uuid(100 + i) })),
      { endpoint: EP, tick: 20, uuid: uuid(1), body: '<name>newer from a</name>' },
      { endpoint: EP, tick: 21, uuid: uuid(200) },
      { endpoint: EP, tick: 22, uuid: uuid(900), body: '<name>through the alias</name>' },
      { endpoint: EP, tick: 23, uuid: uuid(201), deleted: true },
      { endpoint: EP, tick: 24, uuid: uuid(202), body: list(202, '') },
      { endpoint: EP, tick: 25, uuid: uuid(203) },
      { endpoint: EP, tick: 26, uuid: uuid(204), body: list(204, ' sdata:deleteMissing="true"') },
      { endpoint: EP, tick: 27, uuid: uuid(100).toUpperCase() },
      { endpoint: EP, tick: 28, uuid: uuid(205) },
      { endpoint: EP, tick: 'x', uuid: uuid(206) },
      { endpoint: EP, tick: 29, uuid: uuid(207) },
      { endpoint: EP, tick: 30, uuid: uuid(208), deleted: true },
      { endpoint: EP, tick: 31, uuid: uuid(201) },
    ];
    // Page 2, another origin: conflicts with page 1's resources, and new ones between them.
    const second: TestEntry[] = Array.from({ length: 24 }, (_, i) => ({
      endpoint: EP2, tick: 40 + i, uuid: i % 3 === 0 ? uuid(300 + i) : uuid(100 + (i % 9)), deleted: i % 5 === 4,
      body: i % 4 === 1 ? list(i, '') : `<name>b${i}</name>`,
    }));
    const digest: Array<[string, number, number]> = [[EP, 100, 5], [EP2, 100, 3]];
    const bodies = [page({ entries: first, digest, next: 'http://s.example/next' }), page({ entries: second, digest }), page({ entries: first, digest })];
    const oracle: Counts = { inserted: 0, known: 0, bytes: 0 };
    const counts: Counts = { inserted: 0, known: 0, bytes: 0 };
    const want = applyAll(bodies, true, oracle);
    const got = applyAll(bodies, false, counts);
    assert.deepEqual(got, want);
    // Both paths of insertNew ran: rows it created, and uuids it found known (its own or an alias) and wrote nothing for.
    assert.deepEqual(counts, oracle);
    assert.ok(counts.inserted >= 10 && counts.known >= 3, JSON.stringify(counts));
  });
});

describe('target apply: payloads as received are stored from their bytes', () => {
  it('the same rows as from the strings the FeedReader makes: self-contained payloads, non-ASCII, created and updated', () => {
    // Payloads as a store serves them (self-contained, declaring what they use): stored as they came, the scanner's
    // bytes bound in place of the string. Page 2 updates page 1's resources (newer ticks) and creates others.
    const entry = (i: number, tick: number): string => {
      const r = seedResource(i);
      return `<entry><id>urn:e:${i}</id><title>e${i}</title><updated>2020-01-01T00:00:00Z</updated><sync:syncState><sync:endpoint>${EP}</sync:endpoint>` +
        `<sync:tick>${tick}</sync:tick><sync:stamp>2020-01-01T00:00:00Z</sync:stamp></sync:syncState><sdata:payload>${r.payload}</sdata:payload></entry>\n`;
    };
    const body = (entries: string[]): string => page({ entries: [], digest: [[EP, 100, 5]] }).replace('</feed>', `${entries.join('')}</feed>`);
    const bodies = [body(Array.from({ length: 30 }, (_, i) => entry(i, 10 + i))), body(Array.from({ length: 30 }, (_, i) => entry(i + 15, 50 + i)))];
    const viaStrings: Counts = { inserted: 0, known: 0, bytes: 0 };
    const viaBytes: Counts = { inserted: 0, known: 0, bytes: 0 };
    const want = applyAll(bodies, false, viaStrings, true) as { rows: Array<{ payload: unknown }> };
    const got = applyAll(bodies, false, viaBytes);
    assert.deepEqual(got, want);
    // applyAll's resource 1, then the 45 resources of the pages, stored as text, most of them beyond Latin-1.
    assert.equal(want.rows.length, 46);
    assert.ok(want.rows.every((r) => typeof r.payload === 'string'));
    assert.ok(want.rows.filter((r) => /[^\x00-\xff]/.test(r.payload as string)).length >= 35);
    assert.equal(viaStrings.bytes, 0);
    // Every entry but the few the FeedReader reads (the head and the first entry of each page, pieces of 400 bytes).
    assert.ok(viaBytes.bytes >= 50, JSON.stringify(viaBytes));
  });
});

describe('ResourceRepo: look-ups skip the aliases of a store that has none', () => {
  it('an alias added inside the transaction that found none is seen by the next look-up and insertNew', () => {
    const store = new Store({ db: ':memory:', kinds: ['accounts'] });
    try {
      const k = store.kind('accounts')!.id;
      const ep = store.endpointId(EP);
      store.tx((w) => {
        const id = w.resources.insert(k, uuid(1), false, ep, '1', 'T', null, '<a/>');
        assert.equal(w.resources.stateOf(k, uuid(2)), undefined);
        w.links.addAlias(k, uuid(2), id);
        assert.equal(w.resources.stateOf(k, uuid(2))?.id, id);
        assert.equal(w.resources.insertNew(k, uuid(2), false, ep, '2', 'T', null, '<a/>'), undefined);
        assert.equal(w.resources.insertNew(k, uuid(1), false, ep, '2', 'T', null, '<a/>'), undefined);
        assert.equal(w.resources.insertNew(k, uuid(3), false, ep, '2', 'T', null, '<a/>'), id + 1);
      });
      // The next transaction reads the table again; outside one, look-ups always read the aliases.
      store.tx((w) => assert.equal(w.resources.stateOf(k, uuid(2).toUpperCase())?.id, 1));
      assert.equal(store.resources.stateOf(k, uuid(2))?.id, 1);
      assert.equal(store.resources.byUuid(k, uuid(2))?.uuid, uuid(1));
    } finally {
      store.close();
    }
  });
});
