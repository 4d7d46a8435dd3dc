import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SdataError } from '../../src/protocol/errors.ts';
import { NS } from '../../src/protocol/namespaces.ts';
import { EntryFieldReader, type EntryFields } from '../../src/xml/entry-fields.ts';
import { FeedReader } from '../../src/xml/feed-reader.ts';
import type { EntryRecord } from '../../src/xml/feed-types.ts';

/** The fields `link` reads from collection entries: ids, links, the payload root's sdata attributes, property paths. */

function records(feed: string): EntryRecord[] {
  const out: EntryRecord[] = [];
  const r = new FeedReader({ head() {}, entry: (e) => out.push(e), end() {} }, { requireSyncHead: false, source: 'c.xml' });
  r.pushText(feed);
  r.end();
  return out;
}

function fields(paths: string[], feed: string): EntryFields[] {
  const reader = new EntryFieldReader(paths);
  return records(feed).map((rec) => reader.read(rec, 'c.xml'));
}

test('properties by local name, in any namespace or prefix; paths into children; the first of several; nil and absent', () => {
  const feed = `<feed xmlns="${NS.atom}" xmlns:s="${NS.sdata}" xmlns:c="urn:crm" xmlns:xsi="${NS.xsi}">` +
    `<entry><id>urn:a</id><link rel="edit" href="http://h/a('1')/edit"/><link rel="self" href="http://h/a('1')"/>` +
    `<s:payload><c:account s:uuid=" U-1 " s:url="http://h/x('1')" s:key="1"><c:name>  Acme <![CDATA[&]]> Co </c:name>` +
    `<c:address><c:postCode>8000</c:postCode></c:address><c:address><c:postCode>9000</c:postCode></c:address>` +
    `<c:fax xsi:nil="true"/><c:contacts><c:contact><c:name>inner</c:name></c:contact></c:contacts></c:account></s:payload></entry>` +
    // The uuid on sdata:payload (docs/protocol.md A19), a default-namespace resource, no self link: only an edit link.
    `<entry><id> urn:b </id><link rel="edit" href="http://h/a('2')"/><s:payload s:uuid="U-2"><account xmlns="urn:other"><name>B</name>` +
    `<address><postCode>1</postCode></address></account></s:payload></entry></feed>`;
  const [a, b] = fields(['name', 'address/postCode', 'fax', 'missing', 'contacts/contact/name'], feed);
  assert.deepEqual(a, {
    atomId: 'urn:a', self: "http://h/a('1')", uuid: 'U-1', url: "http://h/x('1')", key: '1', element: { local: 'account', uri: 'urn:crm' },
    values: ['  Acme & Co ', '8000', undefined, undefined, 'inner'],
  });
  assert.deepEqual(b, {
    atomId: 'urn:b', self: "http://h/a('2')", uuid: 'U-2', url: undefined, key: undefined, element: { local: 'account', uri: 'urn:other' },
    values: ['B', '1', undefined, undefined, undefined],
  });
});

test('an entry over the size cap is an error naming where it is', () => {
  const recs: EntryRecord[] = [];
  const r = new FeedReader({ head() {}, entry: (e) => recs.push(e), end() {} }, { requireSyncHead: false, maxEntryBytes: 50 });
  r.pushText(`<feed xmlns="${NS.atom}"><entry><id>x</id>${'y'.repeat(200)}</entry></feed>`);
  r.end();
  assert.equal(recs[0]!.text, undefined);
  assert.throws(() => new EntryFieldReader(['name']).read(recs[0]!, 'c.xml'),
    (e: unknown) => e instanceof SdataError && e.code === 'SDATA_E_INVALID_ENTRY' && /^c\.xml:1:\d+: entry #1: /.test(e.message));
});
