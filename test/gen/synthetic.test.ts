import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { SaxesParser } from 'saxes';
import { generateFeed, generatePage, writePage, writePageFiles } from '../../src/gen/stream.ts';
import { CONTRACT_NS, EXT_A_NS, EXT_B_NS, entryHash, entryTick, syntheticResource } from '../../src/gen/synthetic.ts';
import { PAGE_STYLE_COUNT, resolveFeedOptions, type FeedOptions } from '../../src/gen/synthetic-feed.ts';
import { targetDigestEntryXml, targetDigestFor } from '../../src/gen/target-digest.ts';
import { normalizeEndpoint } from '../../src/protocol/endpoint.ts';
import { NS } from '../../src/protocol/namespaces.ts';
import { parseDigestDocument } from '../../src/xml/digest-document.ts';
import { oracleCheck, xmllintErrors, xmllintFileErrors } from '../helpers/oracle.ts';
import { planPages } from '../helpers/plan-text.ts';

async function bytesOf(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function pagesOf(o: FeedOptions): Promise<Buffer[]> {
  const r = resolveFeedOptions(o);
  const out: Buffer[] = [];
  for (let p = 0; p < r.pages; p++) out.push(await bytesOf(generatePage(r, p)));
  return out;
}

interface SeenEntry {
  endpoint: string;
  tick: bigint;
  uuid: string | undefined;
  deleted: boolean;
  resourceChildren: number;
  resourceUri: string | undefined;
}

interface Scan {
  entries: SeenEntry[];
  rootBindings: Record<string, string>;
  cdata: number;
  astral: boolean;
  cjk: boolean;
  accents: boolean;
  nils: number;
  prefixedAttrs: Set<string>;
  nextLinks: number;
  digestTicks: string[];
}

/** An independent reading of a generated page with bare saxes (namespaces on): what tests check against. */
function scan(text: string): Scan {
  const p = new SaxesParser({ xmlns: true });
  const s: Scan = { entries: [], rootBindings: {}, cdata: 0, astral: false, cjk: false, accents: false, nils: 0, prefixedAttrs: new Set(), nextLinks: 0, digestTicks: [] };
  const stack: Array<{ uri: string; local: string }> = [];
  let cur: SeenEntry | undefined;
  let txt = '';
  let resourceDepth = -1;
  p.on('error', (e) => {
    throw e;
  });
  p.on('opentag', (t) => {
    const d = stack.length;
    stack.push({ uri: t.uri, local: t.local });
    txt = '';
    if (d === 0) s.rootBindings = { ...(t.ns ?? {}) };
    if (d === 1 && t.uri === NS.atom && t.local === 'entry') cur = { endpoint: '', tick: -1n, uuid: undefined, deleted: false, resourceChildren: 0, resourceUri: undefined };
    if (d === 1 && t.uri === NS.atom && t.local === 'link' && t.attributes['rel']?.value === 'next') s.nextLinks++;
    for (const a of Object.values(t.attributes)) {
      if (a.prefix && a.prefix !== 'xmlns') s.prefixedAttrs.add(`${a.uri} ${a.local}`);
      if (a.uri === NS.xsi && a.local === 'nil' && a.value === 'true') s.nils++;
    }
    if (cur && d === 3 && stack[2]!.uri === NS.sdata && stack[2]!.local === 'payload') {
      resourceDepth = d;
      cur.resourceUri = t.uri;
      for (const a of Object.values(t.attributes)) {
        if (a.uri === NS.sdata && a.local === 'uuid') cur.uuid = a.value;
        if (a.uri === NS.sdata && a.local === 'isDeleted') cur.deleted = a.value === 'true';
      }
    } else if (cur && resourceDepth >= 0 && d === resourceDepth + 1) {
      cur.resourceChildren++;
    }
  });
  p.on('text', (t) => {
    txt += t;
    if (/[\u{10000}-\u{10FFFF}]/u.test(t)) s.astral = true;
    if (/[\u4e00-\u9fff\u30a0-\u30ff]/.test(t)) s.cjk = true;
    if (/[éüøçÆ]/.test(t)) s.accents = true;
  });
  p.on('cdata', (t) => {
    s.cdata++;
    txt += t;
  });
  p.on('closetag', (t) => {
    const d = stack.length - 1;
    stack.pop();
    if (t.uri === NS.sync && t.local === 'tick') {
      if (cur) cur.tick = BigInt(txt.trim());
      else s.digestTicks.push(txt.trim());
    }
    if (cur && t.uri === NS.sync && t.local === 'endpoint') cur.endpoint = normalizeEndpoint(txt);
    if (d === resourceDepth) resourceDepth = -1;
    if (d === 1 && cur && t.uri === NS.atom && t.local === 'entry') {
      s.entries.push(cur);
      cur = undefined;
    }
    txt = '';
  });
  p.write(text).close();
  return s;
}

test('same seed, same bytes; another seed, other bytes; the resource API agrees with the feed', async () => {
  const a = await bytesOf(generateFeed({ count: 300, seed: 7 }));
  const b = await bytesOf(generateFeed({ count: 300, seed: 7 }));
  const c = await bytesOf(generateFeed({ count: 300, seed: 8 }));
  assert.ok(a.length > 300 * 500);
  assert.ok(a.equals(b), 'same seed must give identical bytes');
  assert.ok(!a.equals(c), 'another seed must change the feed');
  // Random access: resource i does not depend on what was generated before it.
  assert.deepEqual(syntheticResource(123, { seed: 7 }), syntheticResource(123, { seed: 7 }));
  const seen = scan(a.toString('utf8')).entries;
  for (const i of [0, 1, 2, 3, 123, 299]) {
    const r = syntheticResource(i, { seed: 7 });
    assert.equal(seen[i]!.uuid, r.uuid, `uuid of entry ${i}`);
    assert.equal(seen[i]!.deleted, r.deleted);
    assert.equal(seen[i]!.endpoint, r.endpoint);
    assert.equal(seen[i]!.tick.toString(), r.tick);
  }
});

test('syntheticResource xml is a self-contained, well-formed element in the contract namespace', () => {
  let deleted = 0;
  for (let i = 0; i < 200; i++) {
    const r = syntheticResource(i, { seed: 3 });
    const p = new SaxesParser({ xmlns: true });
    let root: { uri: string; uuid: string | undefined } | undefined;
    p.on('error', (e) => assert.fail(`resource ${i}: ${e.message}`));
    p.on('opentag', (t) => {
      root ??= { uri: t.uri, uuid: t.attributes['sdata:uuid']?.value };
    });
    p.write(r.xml).close();
    assert.equal(root?.uri, CONTRACT_NS);
    assert.equal(root?.uuid, r.uuid);
    assert.match(r.uuid, /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/);
    if (r.deleted) {
      deleted++;
      assert.match(r.xml, /sdata:isDeleted="true"\/>$/);
    }
  }
  assert.ok(deleted > 0 && deleted < 50, `some deletions (${deleted})`);
});

test('every page style is well-formed (saxes, and libxml2 in streaming mode), with next links and one digest', async (t) => {
  const o: FeedOptions = { count: 60, pageSize: 10, seed: 11 };
  const pages = await pagesOf(o);
  assert.equal(pages.length, 6);
  assert.ok(pages.length >= PAGE_STYLE_COUNT * 2);
  let digest: string | undefined;
  pages.forEach((bytes, p) => {
    const s = scan(bytes.toString('utf8'));
    assert.equal(s.entries.length, 10);
    assert.equal(s.nextLinks, p === pages.length - 1 ? 0 : 1, `page ${p + 1} next link`);
    const d = s.digestTicks.join(',');
    digest ??= d;
    assert.equal(d, digest, 'the same digest on every page');
  });
  await oracleCheck(t, 'six page files of 100 entries are well-formed for libxml2 in streaming mode', ['xmllint'], async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sdata-gen-'));
    try {
      const { files } = await writePageFiles({ ...o, count: 600, pageSize: 100 }, dir);
      assert.equal(files.length, 6);
      assert.equal(xmllintFileErrors(files), '');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test('namespace variety: a prefix bound to different URIs on different pages, default-ns payloads, prefixed attributes', async () => {
  const pages = (await pagesOf({ count: 30, pageSize: 10, seed: 2 })).map((b) => scan(b.toString('utf8')));
  assert.equal(pages[0]!.rootBindings['c'], CONTRACT_NS);
  assert.equal(pages[0]!.rootBindings['x'], EXT_A_NS);
  assert.equal(pages[1]!.rootBindings['c'], EXT_B_NS, 'page 2 rebinds c');
  assert.equal(pages[1]!.rootBindings[''], undefined, 'page 2 has no default namespace on its root');
  assert.equal(pages[2]!.rootBindings['sync'], undefined, 'page 3 declares sync where used');
  for (const s of pages) for (const e of s.entries) assert.equal(e.resourceUri, CONTRACT_NS, 'every payload resolves to the contract');
  const attrs = new Set(pages.flatMap((s) => [...s.prefixedAttrs]));
  for (const a of [`${NS.sdata} uuid`, `${NS.sdata} key`, `${NS.sdata} deleteMissing`, `${NS.xsi} nil`, `${EXT_A_NS} rank`, `${EXT_B_NS} note`]) {
    assert.ok(attrs.has(a), `prefixed attribute ${a}`);
  }
});

test('content variety: deletions without children, CDATA, entities, accents, CJK, astral emoji, xsi:nil, child lists', async () => {
  const text = (await bytesOf(generateFeed({ count: 400, seed: 5 }))).toString('utf8');
  const s = scan(text);
  const del = s.entries.filter((e) => e.deleted);
  assert.ok(del.length > 5, 'deletions present');
  for (const e of del) assert.equal(e.resourceChildren, 0, 'a deleted resource has no children');
  assert.ok(s.entries.filter((e) => !e.deleted).every((e) => e.resourceChildren >= 5));
  assert.ok(s.cdata > 50 && s.astral && s.cjk && s.accents && s.nils > 100);
  assert.match(text, /&amp;/);
  assert.match(text, /&lt;/);
  assert.match(text, /&#x1F600;|&#x1F680;/);
  assert.match(text, /]]]]><!\[CDATA\[>/, 'a literal ]]> split across CDATA sections');
  // Child lists in both styles (docs/protocol.md A9): complete and flagged, or a delta, some with a deleted child.
  assert.match(text, /<addresses sdata:deleteMissing="true">\s*<address sdata:uuid=/);
  assert.match(text, /<addresses>\s*<address sdata:uuid=/, 'delta lists');
  assert.match(text, /<address sdata:uuid="[^"]+" sdata:isDeleted="true"\/>\s*<\/addresses>/, 'a deleted child');
  assert.match(text, /<primaryContact sdata:uuid="[^"]+"\/>/, 'references carry only a uuid');
  const avg = Buffer.byteLength(text) / 400;
  assert.ok(avg > 700 && avg < 1600, `about 1 KB per entry by default (${avg.toFixed(0)})`);
  const big = await bytesOf(generateFeed({ count: 100, seed: 5, entryBytes: 8192 }));
  assert.ok(big.length / 100 > 6000, 'entryBytes is honoured');
});

test('ticks are distinct and ascending per endpoint along the whole feed, across pages, one endpoint past 2^53', async () => {
  const pages = await pagesOf({ count: 900, pageSize: 250, seed: 9, endpoints: 5 });
  const last = new Map<string, bigint>();
  let n = 0;
  let huge = false;
  for (const b of pages) {
    for (const e of scan(b.toString('utf8')).entries) {
      n++;
      const prev = last.get(e.endpoint);
      if (prev !== undefined) assert.ok(e.tick > prev, `tick ${e.tick} after ${prev} on ${e.endpoint}`);
      last.set(e.endpoint, e.tick);
      if (e.tick > 2n ** 53n) huge = true;
    }
  }
  assert.equal(n, 900);
  assert.equal(last.size, 5, 'every endpoint appears');
  assert.ok(huge, 'ticks beyond 2^53 are present');
});

test('the target digest makes plan skip exactly the announced share, entry by entry', async (t) => {
  for (const [ratio, pageSize, endpoints] of [[0.5, 400, 4], [0.3, 150, 4], [0, 400, 3], [1, 200, 2], [0.77, 90, 6]] as const) {
    const o = resolveFeedOptions({ count: 400, pageSize, seed: 21, endpoints });
    const plan = targetDigestFor(o, ratio);
    assert.equal(plan.skipped, Math.round(ratio * 400));
    // Through the serialised $syncDigest entry, as plan --digest reads it.
    const digest = parseDigestDocument(targetDigestEntryXml(o, plan.digest), 'digest.xml');
    const pages: Buffer[] = [];
    for (let p = 0; p < o.pages; p++) pages.push(await bytesOf(generatePage(o, p)));
    const r = await planPages(pages, { target: digest, chunkEntries: 10_000, chunkBytes: 1e9 });
    assert.equal(r.stats.read, 400);
    assert.equal(r.stats.invalid, 0, JSON.stringify(r.invalid[0]));
    assert.equal(r.stats.skipped, plan.skipped, `ratio ${ratio}`);
    assert.equal(r.stats.forwarded, plan.forwarded);
    // Which entries: exactly those whose tick is below the digest's tick for their endpoint.
    // Everything skipped, and the digest already covers the source's: nothing is written (docs/protocol.md X2).
    if (plan.forwarded === 0) assert.deepEqual([r.chunks.length, r.stats.ending], [0, 'none']);
    const forwardedUuids = new Set(r.chunks.length === 0 ? [] : scan(r.chunks.join('')).entries.map((e) => e.uuid));
    for (let i = 0; i < 400; i++) {
      const res = syntheticResource(i, o);
      const t = digest.entries.get(normalizeEndpoint(res.endpoint))?.tick;
      const skip = t !== undefined && BigInt(res.tick) < BigInt(t);
      assert.equal(!forwardedUuids.has(res.uuid), skip, `entry ${i}`);
      assert.equal(entryTick(o, i).toString(), res.tick);
    }
    if (ratio === 0.5) await oracleCheck(t, 'half skipped: the chunks are well-formed for libxml2', ['xmllint'], () => assert.equal(xmllintErrors(r.chunks.join('')), ''));
  }
});

test('half skipped interleaves: both decisions occur throughout the feed', async () => {
  const o = resolveFeedOptions({ count: 1000, seed: 1 });
  const digest = targetDigestFor(o, 0.5).digest;
  const tenth = (k: number): number => {
    let skipped = 0;
    for (let i = k * 100; i < (k + 1) * 100; i++) {
      const r = syntheticResource(i, o);
      const t = digest.entries.get(normalizeEndpoint(r.endpoint))?.tick;
      if (t !== undefined && BigInt(r.tick) < BigInt(t)) skipped++;
    }
    return skipped;
  };
  for (let k = 0; k < 10; k++) {
    const s = tenth(k);
    assert.ok(s > 20 && s < 80, `slice ${k}: ${s} of 100 skipped`);
  }
});

test('streaming with backpressure: a slow consumer keeps the generator to a bounded lead', async () => {
  // The Readable generates only inside read(), so whatever was generated and not yet consumed sits in its buffer or
  // in the consumer's: their sum is the generator's lead.
  let consumed = 0;
  let maxLead = 0;
  const src = generateFeed({ count: 20_000, seed: 4 });
  const slow: Writable = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      consumed += chunk.length;
      maxLead = Math.max(maxLead, src.readableLength + slow.writableLength);
      setImmediate(cb);
    },
  });
  await new Promise<void>((resolve, reject) => {
    src.pipe(slow).on('finish', resolve).on('error', reject);
  });
  assert.ok(consumed > 15_000_000, `a large feed went through (${consumed} bytes)`);
  assert.ok(maxLead < 512 * 1024, `generator lead stayed bounded: ${maxLead} bytes`);

  // writePage honours write() === false the same way.
  let inFlight = 0;
  let maxInFlight = 0;
  const slow2 = new Writable({
    highWaterMark: 32 * 1024,
    write(chunk: Buffer, _enc, cb) {
      inFlight += chunk.length;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setImmediate(() => {
        inFlight -= chunk.length;
        cb();
      });
    },
  });
  const bytes = await writePage({ count: 10_000, seed: 4 }, 0, slow2);
  assert.ok(bytes > 7_000_000);
  assert.ok(maxInFlight < 512 * 1024, `writePage lead stayed bounded: ${maxInFlight} bytes`);
});

test('the feed bytes equal the page files, and writePageFiles leaves no temporaries', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdata-gen-'));
  try {
    const o: FeedOptions = { count: 50, pageSize: 20, seed: 6 };
    await writePageFiles(o, dir);
    assert.deepEqual((await readdir(dir)).sort(), ['page-000001.xml', 'page-000002.xml', 'page-000003.xml']);
    const pages = await pagesOf(o);
    for (let p = 0; p < 3; p++) assert.ok((await readFile(join(dir, `page-00000${p + 1}.xml`))).equals(pages[p]!));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('uuids never repeat, even for two entries whose generators are seeded alike', () => {
  const o = resolveFeedOptions({ count: 0, seed: 1, entryBytes: 0 });
  const uuids = (i: number): string[] => {
    const r = syntheticResource(i, o);
    return [r.uuid, ...[...r.xml.matchAll(/sdata:uuid="([^"]+)"/g)].map((m) => m[1]!).slice(1)].map((u) => u.toLowerCase());
  };
  // Each entry's draws come from a 32-bit-seeded generator, whose seed once dropped its low bit: two indexes whose
  // hashes differ only there drew identical digits (the uuid repeats first seen past ~77k entries). Such a pair must
  // not share a uuid, whatever the generator does.
  const bySeed = new Map<number, number>();
  let pair: [number, number] | undefined;
  for (let i = 0; i < 2_000_000 && !pair; i++) {
    const h = (entryHash(o.seed, i, 0) | 1) >>> 0;
    const j = bySeed.get(h);
    if (j !== undefined) pair = [j, i];
    else bySeed.set(h, i);
  }
  assert.ok(pair, 'such a pair exists within 2M entries');
  const [a, b] = pair;
  const ua = uuids(a);
  const ub = new Set(uuids(b));
  for (const u of ua) assert.ok(!ub.has(u), `entries ${a} and ${b} share uuid ${u}`);
  // And across a run of entries, every uuid (entry, children, reference) is distinct.
  const seen = new Set<string>();
  let n = 0;
  for (let i = 0; i < 20_000; i++) for (const u of uuids(i)) {
    seen.add(u);
    n++;
  }
  assert.equal(seen.size, n);
});

test('digestEndpoints: the head digest names more endpoints than the entries do, and plan skips the same entries', async () => {
  const o = resolveFeedOptions({ count: 120, seed: 8, endpoints: 3, digestEndpoints: 50 });
  const few = resolveFeedOptions({ count: 120, seed: 8, endpoints: 3 });
  const [page] = await pagesOf(o);
  const s = scan(page!.toString('utf8'));
  assert.equal(s.digestTicks.length, 50, 'the head digest names 50 endpoints');
  assert.equal(new Set(s.entries.map((e) => normalizeEndpoint(e.endpoint))).size, 3, 'the entries name 3');
  // The same entries as the feed without the extra endpoints, so the same decisions against the same target.
  const [plain] = await pagesOf(few);
  assert.deepEqual(s.entries, scan(plain!.toString('utf8')).entries);
  const digest = parseDigestDocument(targetDigestEntryXml(few, targetDigestFor(few, 0.5).digest), 'digest.xml');
  const a = await planPages([page!], { target: digest, chunkEntries: 10_000, chunkBytes: 1e9 });
  const b = await planPages([plain!], { target: digest, chunkEntries: 10_000, chunkBytes: 1e9 });
  assert.deepEqual([a.stats.skipped, a.stats.forwarded], [b.stats.skipped, b.stats.forwarded]);
  assert.equal(a.stats.skipped, 60);
});
