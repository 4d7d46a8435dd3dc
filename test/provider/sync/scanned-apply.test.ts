import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageTexts, resolveFeedOptions } from '../../../src/gen/synthetic-feed.ts';
import { NS } from '../../../src/protocol/namespaces.ts';
import { isSdataError } from '../../../src/protocol/errors.ts';
import { Store } from '../../../src/provider/store/store.ts';
import { ResultRenderer } from '../../../src/provider/sync/result-entry.ts';
import { TargetApplier } from '../../../src/provider/sync/target-applier.ts';
import { FeedReader } from '../../../src/xml/feed-reader.ts';
import type { FeedHandler } from '../../../src/xml/feed-types.ts';
import { ScannedFeedReader } from '../../../src/xml/scanned-feed-reader.ts';
import { page, type TestEntry } from '../../helpers/feeds.ts';

// The target applies posted pages read by the ScannedFeedReader (handlers/async-context.ts applyStream): the same
// bodies applied through it and through the saxes FeedReader must leave identical stores (every resource row and
// payload, the digest) and identical result feeds, and fail alike. Groups of body bytes per transaction as
// applyStream makes them (smaller, so that pieces and transactions cut entries in many places).

type Reader = { push(b: Uint8Array): void; end(): void; settle?(): void };
type MakeReader = (h: FeedHandler) => Reader;

const SERVING = 'http://t.example/sdata/app/c/-/accounts';

interface Outcome {
  resources: unknown[];
  digest: unknown[];
  results: string[][];
  stats: unknown[];
  errors: string[];
}

function applyAll(bodies: string[], make: MakeReader, group: number): Outcome {
  const store = new Store({ db: ':memory:', kinds: ['accounts'] });
  const out: Outcome = { resources: [], digest: [], results: [], stats: [], errors: [] };
  try {
    const kind = store.kind('accounts')!;
    bodies.forEach((body, ctx) => {
      const applier = new TargetApplier({ store, kind, ctx: ctx + 1, servingCollection: SERVING, source: 'POST /t' });
      const reader = make(applier);
      const bytes = Buffer.from(body);
      try {
        for (let at = 0; at < bytes.length || at === 0; at += group) {
          const last = at + group >= bytes.length;
          store.tx((w) => {
            applier.begin(w);
            reader.push(bytes.subarray(at, at + group));
            if (last) reader.end();
            else reader.settle?.();
            applier.flush();
          });
          if (last) break;
        }
        out.stats.push({ ...applier.stats, mode: applier.mode, merged: applier.merged });
      } catch (e) {
        applier.discard();
        if (!isSdataError(e)) throw e;
        out.errors.push(`${e.code} ${e.message}`);
      }
      const renderer = new ResultRenderer({ store, kind, serving: SERVING, updated: 'T' });
      // Result entries that are not compact carry the transaction's clock.
      out.results.push([...store.results.read(ctx + 1, 0, 1e6)].map((r) => renderer.render(r).replace(/<updated>[^<]*<\/updated>/g, '<updated/>')));
    });
    for (let id = 1; ; id++) {
      const r = store.resources.byId(kind.id, id);
      if (r === undefined) break;
      out.resources.push(r);
    }
    out.digest = [...store.digest.rows(kind.id)].map(([ep, r]) => [store.endpoint(ep).url, r.tick, r.prio]);
  } finally {
    store.close();
  }
  return out;
}

/**
 * The FeedReader's outcome, and the ScannedFeedReader's: as the tests of records read it, and as applyStream reads it
 * (records as UTF-8 bytes, never decoded where the answer is the same, and each resource's received bytes).
 */
function same(bodies: string[], pieces = [300, 2000], group = 5000): Outcome {
  const want = applyAll(bodies, (h) => new FeedReader(h, { source: 'POST /t' }), group);
  for (const p of pieces) {
    const got = applyAll(bodies, (h) => new ScannedFeedReader(h, { source: 'POST /t' }, p), group);
    assert.deepEqual(got, want, `pieces of ${p} bytes`);
    const asServed = applyAll(bodies, (h) => new ScannedFeedReader(h, { source: 'POST /t', textBytes: true, resourceBytes: true, listWork: true }, p), group);
    assert.deepEqual(asServed, want, `pieces of ${p} bytes, read as bytes`);
  }
  return want;
}

const EP = 'http://a.example/sdata/app/c/-/accounts';
const EP2 = 'http://b.example/sdata/app/c/-/accounts';
const uuid = (i: number): string => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;
const address = (u: string, street: string, extra = ''): string => `<address sdata:uuid="${u}"${extra}><street>${street}</street></address>`;

describe('target apply: ScannedFeedReader = FeedReader, store and results', () => {
  it('generated pages (deletions, CDATA, entities, non-ASCII, several endpoints), posted twice', () => {
    const o = resolveFeedOptions({ count: 150, seed: 11 });
    const text = [...pageTexts(o, 0)].join('');
    const r = same([text, text]);
    assert.ok(r.resources.length > 100 && r.errors.length === 0, `${r.resources.length} resources, ${r.errors.join('; ')}`);
  });

  it('child lists, references, deletes of unknown resources, tombstones, httpMethod, conflicts, odd prefixes, invalid entries', () => {
    const first: TestEntry[] = Array.from({ length: 40 }, (_, i) => ({
      endpoint: i % 3 === 0 ? EP2 : EP, tick: 10 + i, uuid: uuid(i),
      body: `<name>v1 \u00e9${i}</name><primaryContact sdata:uuid="P${i}"/><addresses sdata:deleteMissing="true">${address(`a${i}`, 'one')}${address(`b${i}`, 'two')}</addresses>`,
    }));
    const second: TestEntry[] = Array.from({ length: 40 }, (_, i) => ({
      endpoint: i % 3 === 0 ? EP2 : EP, tick: [5, 60 + i, 60 + i, 'x'][i % 4]!, uuid: i % 7 === 6 ? uuid(100 + i) : uuid(i), deleted: i % 5 === 4,
      body: `<name><![CDATA[v2 <${i}>]]> &amp; &#x4e2d;</name><addresses>${address(`A${i}`, 'ONE')}<address xmlns:s="${NS.sync}" sdata:uuid="b${i}" s:isDeleted="true"/>${address(`c${i}`, 'three')}</addresses>`,
      entryAttrs: i % 6 === 1 ? ` xmlns:q="urn:q"` : undefined,
    }));
    const digest: Array<[string, number, number]> = [[EP, 200, 5], [EP2, 200, 3]];
    let p2 = page({ entries: second, digest, syncPrefix: 'zz' });
    p2 = p2.replace('<title>e2</title>', `<title>e2</title><h:httpMethod xmlns:h="${NS.http}">delete</h:httpMethod>`)
      .replace('<title>e8</title>', `<title>e8</title><httpMethod xmlns="${NS.http}">PATCH</httpMethod>`)
      .replace(`sdata:uuid="${uuid(10)}"`, `sdata:uuid="${uuid(10)}" sdata:isDeleted="1"`);
    const r = same([page({ entries: first, digest }), p2, page({ entries: first, digest, mode: 'immediate' })]);
    assert.equal(r.errors.length, 0, r.errors.join('; '));
    assert.ok(r.results[1]!.some((x) => x.includes('SyncEntryFailed')) && r.results[1]!.some((x) => x.includes('SyncIgnored')));
  });

  it('records read as bytes: what needs characters is read in characters (non-ASCII prefixes, URIs, uuids, flags)', () => {
    const lists = `<contacts sdata:deleteMissing="true\u00a0"><contact sdata:uuid="k1"/><contact sdata:uuid="k2" sdata:isDeleted="true"/></contacts>`;
    const bodies = [
      '<name>\u4e2d\u6587 \u{1f600} \u00e9</name>', // self-contained (half the roots declare sdata below): stored as received
      '<c:x>\u00e7</c:x>', // a prefix of the feed's, bound to a URI that is not ASCII
      lists, // a flag with a no-break space: true once trimmed as characters, so the deleted child goes
      `<contacts sdata:deleteMissing="true\u00a0"><contact sdata:uuid="k5"/><contact sdata:uuid="k6"/></contacts>`, // complete: replaces
      `<contacts sdata:deleteMissing="1"><contact sdata:uuid="k7"/><contact sdata:uuid="k8" sdata:isDeleted="true\u00a0"/></contacts>`,
      lists.replace('true\u00a0', '\u00a0true\u2003'),
      '<contacts><contact sdata:uuid="k3"/></contacts>', // a delta list
      `<contacts sdata:deleteMissing="tr\u00fce"><contact sdata:uuid="k4" sdata:isDeleted="true"/></contacts>`,
    ];
    const entries = (from: number, n: number, body: (i: number) => string): TestEntry[] => Array.from({ length: n }, (_, k) => {
      const i = from + k;
      return { endpoint: EP, tick: 10 + i, uuid: i % 7 === 3 ? `\u00fc-${i}` : uuid(i), body: body(i), deleted: i % 13 === 12 };
    });
    let plain = page({ entries: entries(0, 36, (i) => bodies[i % bodies.length]!), rootAttrs: ' xmlns:c="urn:\u00e7"' });
    // Half the payloads declare what they use on their root (stored as received), the others inherit sdata.
    let n = 0;
    plain = plain.replace(/<account xmlns="urn:contract"/g, (m) => (n++ % 2 === 0 ? `${m} xmlns:sdata="${NS.sdata}"` : m));
    // Empty roots whose own prefix only the entry declares.
    plain = plain.replace(/<entry>((?:(?!<\/entry>)[\s\S])*?)<account xmlns="urn:contract"( xmlns:sdata="[^"]*")? sdata:uuid="([^"]*)" sdata:isDeleted="true"\/>/g,
      (_m, head: string, _d, u: string) => `<entry xmlns:r="urn:\u0155">${head}<r:account sdata:uuid="${u}" sdata:isDeleted="true"/>`);
    assert.equal(plain.match(/<r:account /g)?.length, 2);
    // A feed binding a prefix that is not ASCII, which a payload's text uses as usesPrefix reads it.
    const odd = page({ entries: entries(100, 20, (i) => (i % 2 ? '<note>\u00e9:x</note>' : '<name>n</name>')), rootAttrs: ' xmlns:\u00e9="urn:e"' });
    // The same entries later, the complete lists one child shorter: a list read as a delta would keep it.
    const later = plain.replace(/<sync:tick>(\d+)</g, (_m, t: string) => `<sync:tick>${Number(t) + 100}<`).replaceAll('<contact sdata:uuid="k6"/>', '');
    const r = same([plain, odd, later]);
    assert.equal(r.errors.length, 0, r.errors.join('; '));
    assert.equal(r.resources.length, 56);
    const stored = JSON.stringify(r.resources);
    assert.ok(stored.includes('k5') && !stored.includes('k6') && stored.includes('k7') && !stored.includes('k8'));
  });

  it('a body that is not well-formed, or over a limit, fails alike after the same entries', () => {
    const entries: TestEntry[] = Array.from({ length: 30 }, (_, i) => ({ endpoint: EP, tick: i + 1, uuid: uuid(i) }));
    const good = page({ entries });
    const broken = good.replace('<title>e20</title>', '<title>e20</titel>');
    const deep = good.replace('<name>n25</name>', '<a>'.repeat(300) + '</a>'.repeat(300));
    const r = same([broken, deep]);
    // Transactions of fewer bytes than a piece: what a commit holds is still every entry received before it (settle).
    assert.deepEqual(same([broken, deep], [2000], 700), same([broken, deep], [300], 700));
    assert.equal(r.errors.length, 2);
    assert.match(r.errors[0]!, /^SDATA_E_MALFORMED POST \/t:\d+:\d+: /);
    assert.match(r.errors[1]!, /^SDATA_E_LIMIT POST \/t:\d+:\d+: .*--max-depth/);
  });
});
