import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NS } from '../../../src/protocol/namespaces.ts';
import { hasListWork } from '../../../src/provider/payload/child-lists.ts';
import { storedFragment } from '../../../src/provider/payload/fragment.ts';
import type { EntryRecord, FeedHandler } from '../../../src/xml/feed-types.ts';
import { ScannedFeedReader } from '../../../src/xml/scanned-feed-reader.ts';
import { Rng } from '../../../src/gen/rng.ts';
import { generatedFeed, page, type TestEntry } from '../../helpers/feeds.ts';
import { randomFragment } from '../../helpers/fragments.ts';

// The target's scanner says, while it reads an entry, whether the resource's child lists need the merge
// (EntryRecord.listWork, xml/list-watch.ts); the provider looked for itself in a second pass over the stored fragment
// (hasListWork, list-scan.ts), which is the oracle here: on every record the scanner made, both must agree.

/** The scanner's answer and the oracle's for every scanned record of `text` (pieces of `piece` bytes). */
function answers(text: string, piece: number): Array<{ id: string | undefined; scanner: boolean; oracle: boolean }> {
  const out: Array<{ id: string | undefined; scanner: boolean; oracle: boolean }> = [];
  const h: FeedHandler = {
    head: () => undefined,
    end: () => undefined,
    entry: (rec: EntryRecord) => {
      if (rec.listWork === undefined || rec.invalid !== undefined) return;
      const f = storedFragment(rec, rec.uuid);
      assert.ok(f !== undefined, `a fragment for ${rec.atomId}`);
      out.push({ id: rec.atomId, scanner: rec.listWork, oracle: hasListWork(f) });
    },
  };
  const r = new ScannedFeedReader(h, { source: 'POST /t', textBytes: true, listWork: true }, piece);
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += 700) r.push(bytes.subarray(at, at + 700));
  r.end();
  return out;
}

const EP = 'http://a.example/sdata/app/c/-/accounts';
const kid = (u: string, extra = ''): string => `<contact sdata:uuid="${u}"${extra}><name>n</name></contact>`;

describe('EntryRecord.listWork = hasListWork of the stored fragment', () => {
  it('generated feeds (child lists, references, deletions, CDATA, entities, namespace styles)', () => {
    let n = 0;
    let yes = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      for (const a of answers(generatedFeed(300, seed).text, 4000)) {
        assert.equal(a.scanner, a.oracle, `seed ${seed}, ${a.id}`);
        n++;
        if (a.scanner) yes++;
      }
    }
    assert.ok(n > 1000 && yes > 0 && yes < n, `${n} records, ${yes} with list work`);
  });

  it('random payloads (the child-list tests\' own: flags, references, text, comments, CDATA, declarations)', () => {
    const r = new Rng(11);
    const entries: TestEntry[] = Array.from({ length: 600 }, (_, i) => ({ endpoint: EP, tick: 10 + i, uuid: `r${i}`, body: `<R${i}/>` }));
    let placed = 0;
    const text = page({ entries }).replace(/<account xmlns="urn:contract" sdata:uuid="[^"]*"><R\d+\/><\/account>/g, () => {
      placed++;
      return randomFragment(r);
    });
    assert.equal(placed, 600);
    const got = answers(text, 3000);
    assert.ok(got.length > 500, `${got.length} records scanned`);
    for (const a of got) assert.equal(a.scanner, a.oracle, a.id);
    assert.ok(got.filter((a) => a.scanner).length > 50 && got.filter((a) => !a.scanner).length > 50);
  });

  it('flags and markup a list may carry', () => {
    const bodies = [
      `<contacts sdata:deleteMissing="true">${kid('a')}${kid('b')}</contacts>`, // complete, nothing deleted: no work
      `<contacts>${kid('a')}${kid('b')}</contacts>`, // a delta
      `<contacts sdata:deleteMissing="true">${kid('a')}${kid('b', ' sdata:isDeleted="true"')}</contacts>`,
      `<contacts sdata:deleteMissing="true">${kid('a')}${kid('b', ` xmlns:y="${NS.sync}" y:isDeleted="1"`)}</contacts>`,
      `<contacts sdata:deleteMissing=" &#x74;rue ">${kid('a')}${kid('b', ' sdata:isDeleted="&#116;rue"')}</contacts>`,
      `<contacts sdata:deleteMissing="&#x74;rue">${kid('a')}${kid('b')}</contacts>`, // references resolved: complete
      `<contacts sdata:deleteMissing="true">${kid('a')}${kid('b', ' sdata:isDeleted="&#49;"')}</contacts>`,
      `<contacts sdata:deleteMissing="true\u00a0">${kid('a')}</contacts>`, // trimmed as characters: complete
      `<contacts sdata:deleteMissing="tr\u00fce">${kid('a')}</contacts>`, // not true: a delta
      `<contacts sdata:deleteMissing="false"/>`, // flagged, not complete, empty
      `<contacts>text${kid('a')}</contacts>`, // text: not a list
      `<contacts><![CDATA[  ]]>${kid('a')}<!-- c --></contacts>`, // blank CDATA and a comment: a list
      `<contacts><![CDATA[x]]>${kid('a')}</contacts>`,
      `<contacts>${kid('a')}<other/></contacts>`, // a child without a uuid: not a list
      `<contacts uuid="u" deleteMissing="true">${kid('a')}</contacts>`, // unprefixed attributes are no flags
      `<contacts xmlns:s="${NS.sdata}" s:deleteMissing="true"><c s:uuid="a"/><c s:uuid="b" s:isDeleted="true"/></contacts>`,
      `<contacts xmlns:q="urn:other" q:deleteMissing="true"><c q:uuid="a"/></contacts>`, // another namespace: no flags
      `<address sdata:uuid="x"><lines>${kid('a')}</lines></address>`, // a delta list inside a child
      `<address sdata:uuid="x" sdata:deleteMissing="true">${kid('a', ' sdata:isDeleted="true"')}</address>`, // a child, not a list
      `${kid('a')}${kid('b')}`, // every child of the resource has a uuid, and so has the resource: not a list
      '<name>\u4e2d\u6587 &amp; \u{1f600}</name>',
    ];
    const entries: TestEntry[] = bodies.flatMap((body, i) => [0, 1].map((k) => ({ endpoint: EP, tick: 10 + 2 * i + k, uuid: `u-${i}-${k}`, body })));
    let text = page({ entries });
    // Half the resources carry no uuid of their own: the payload element's is inserted on the stored root.
    let n = 0;
    text = text.replace(/<sdata:payload><account xmlns="urn:contract" sdata:uuid="([^"]+)"/g, (m, u: string) =>
      (n++ % 2 === 1 ? `<sdata:payload sdata:uuid="${u}"><account xmlns="urn:contract"` : m));
    const got = answers(text, 600);
    assert.ok(got.length >= 30, `${got.length} records scanned`);
    for (const a of got) assert.equal(a.scanner, a.oracle, a.id);
    assert.ok(got.some((a) => a.scanner) && got.some((a) => !a.scanner));
  });
});
