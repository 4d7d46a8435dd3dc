import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import type { EntryRecord } from '../../src/xml/feed-types.ts';
import { resourceXml } from '../../src/xml/feed-writer.ts';
import { page } from '../helpers/feeds.ts';
import { entriesMeaning, oracleCheck } from '../helpers/oracle.ts';

function entries(xml: string): EntryRecord[] {
  const out: EntryRecord[] = [];
  const r = new FeedReader({ head: () => {}, entry: (e) => out.push(e), end: () => {} });
  r.pushText(xml);
  r.end();
  return out;
}

const FEED = page({
  rootAttrs: ' xmlns:p="urn:outer" xmlns:unused="urn:unused"',
  entries: [
    { endpoint: 'http://a/x', tick: 1, body: '<p:n p:k="1">outer</p:n>' },
    { endpoint: 'http://a/x', tick: 2, entryAttrs: ' xmlns:p="urn:entry"', body: '<p:n>entry-level</p:n>' },
  ],
}).replace('<account xmlns="urn:contract" sdata:uuid="00000000-0000-0000-0000-000000000001">',
  '<account xmlns="urn:contract" xmlns:p="urn:own" sdata:uuid="00000000-0000-0000-0000-000000000001">');

test('resourceXml: a self-contained fragment, no duplicate or missing declarations', async (t) => {
  const recs = entries(FEED);
  const frags = recs.map((r) => resourceXml(r)!);
  // Re-declared by the resource itself: kept once, with the resource's own URI.
  assert.equal((frags[1]!.match(/xmlns:p=/g) ?? []).length, 1);
  assert.match(frags[1]!, /xmlns:p="urn:own"/);
  // Inherited and used: declared; unused: left out.
  assert.match(frags[0]!, /xmlns:p="urn:outer"/);
  assert.doesNotMatch(frags[0]!, /urn:unused/);
  // Embedded in a document whose default namespace is Atom, each fragment means what it meant in the feed.
  await oracleCheck(t, 'embedded in an Atom-default document, each fragment means for expat what it meant in the feed', ['expat'], () => {
    const wrap = (xs: string[]) => `<feed xmlns="http://www.w3.org/2005/Atom">${xs.map((x) => `<entry>${x}</entry>`).join('')}</feed>`;
    const inFeed = entriesMeaning(FEED).map((e) => {
      const payload = (e as unknown[])[3] as unknown[][];
      const p = payload.find((c) => String(c[0]).endsWith('}payload'))!;
      return (p[3] as unknown[][])[0]!.slice(0, 4);
    });
    const standalone = entriesMeaning(wrap(frags)).map((e) => ((e as unknown[])[3] as unknown[][])[0]!.slice(0, 4));
    assert.deepEqual(standalone, inFeed);
  });
});

test('resourceXml: unprefixed names keep their namespace, or their lack of one', () => {
  // Under a default-namespace (Atom) feed, an undeclared <account> is an Atom element, and stays one.
  const xml = page({ entries: [{ endpoint: 'http://a/x', tick: 1 }] }).replace('<account xmlns="urn:contract"', '<account');
  assert.match(resourceXml(entries(xml)[0]!)!, /^<account xmlns="http:\/\/www\.w3\.org\/2005\/Atom" xmlns:sdata=/);
  // Under a feed with no default namespace, it is in no namespace, and stays so wherever it is embedded later.
  const bare = `<a:feed xmlns:a="http://www.w3.org/2005/Atom" xmlns:s="http://schemas.sage.com/sdata/sync/2008/1" xmlns:d="http://schemas.sage.com/sdata/2008/1">` +
    `<s:syncMode>catchUp</s:syncMode><s:digest/><a:entry><s:syncState><s:endpoint>http://a/x</s:endpoint><s:tick>1</s:tick><s:stamp>t</s:stamp></s:syncState>` +
    `<d:payload><account d:uuid="u1"><name>x</name></account></d:payload></a:entry></a:feed>`;
  assert.equal(resourceXml(entries(bare)[0]!)!, '<account xmlns:d="http://schemas.sage.com/sdata/2008/1" xmlns="" d:uuid="u1"><name>x</name></account>');
});

test('resourceXml: a URL in the text is not a use of a prefix named like its scheme', () => {
  const xml = page({ rootAttrs: ' xmlns:http="urn:h" xmlns:q="urn:q"', entries: [
    { endpoint: 'http://a/x', tick: 1, body: '<url>http://example.com/x</url>' },
    { endpoint: 'http://a/x', tick: 2, body: '<url>http://example.com/x</url><http:status>1</http:status>' },
    { endpoint: 'http://a/x', tick: 3, body: '<v q:a="1"/>' },
  ] });
  const frags = entries(xml).map((r) => resourceXml(r)!);
  assert.doesNotMatch(frags[0]!, /xmlns:http=/);
  assert.match(frags[1]!, /xmlns:http="urn:h"/);
  assert.match(frags[2]!, /xmlns:q="urn:q"/);
});
