import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NS } from '../../../src/protocol/namespaces.ts';
import { normalizeFragment, rootUuid, rootDeclarations, scanRootTag, storedFragment, storedResource, tombstoneFragment } from '../../../src/provider/payload/fragment.ts';
import type { EntryRecord } from '../../../src/xml/feed-types.ts';
import { resourceXml } from '../../../src/xml/feed-writer.ts';
import { parseXml } from '../helpers.ts';
import { OUR_ROOT, recordsOf } from './records.ts';

/** Fragments */

test('a stored fragment is a fixpoint of relaying: embedded in our own feeds and read back, it is byte-identical', () => {
  const inputs = [
    // prefixed payload, uuid only on sdata:payload (docs/protocol.md A19), a URL in the text, a prefixed root
    `<feed xmlns="${NS.atom}" xmlns:s="${NS.sdata}" xmlns:c="urn:c"><entry><s:payload s:uuid="U-1"><c:account><c:web>http://x.example/</c:web></c:account></s:payload></entry></feed>`,
    // an empty prefixed root (a deletion) whose prefix is bound on the feed only
    `<feed xmlns="${NS.atom}" xmlns:s="${NS.sdata}" xmlns:c="urn:c"><entry><s:payload><c:account s:uuid="U-2" s:isDeleted="true"/></s:payload></entry></feed>`,
    // no namespace at all for the resource
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><entry><sdata:payload><account xmlns="" sdata:uuid="U-3"><n>a &amp; b &#233; 🚀</n></account></sdata:payload></entry></feed>`,
  ];
  for (const [i, input] of inputs.entries()) {
    const rec = recordsOf(input)[0]!;
    assert.equal(rec.uuid, `U-${i + 1}`);
    const first = storedFragment(rec, rec.uuid)!;
    // Well-formed on its own, with the uuid on the resource element.
    const el = parseXml(first);
    assert.equal(el.attrs.get(`{${NS.sdata}}uuid`), rec.uuid);
    const relayed = recordsOf(`${OUR_ROOT}<entry><sdata:payload>${first}</sdata:payload></entry></feed>`)[0]!;
    assert.equal(storedFragment(relayed, relayed.uuid), first, input);
  }
});

test('storedFragment skips rescanning what resourceXml tested, with the same result as a full normalisation', () => {
  // The reference: resourceXml, the root's own prefix declared, then normalizeFragment scanning everything.
  const reference = (rec: EntryRecord): string => {
    let f = resourceXml(rec)!;
    const p = scanRootTag(f).qname.includes(':') ? scanRootTag(f).qname.split(':')[0]! : '';
    if (!rootDeclarations(scanRootTag(f)).has(p)) {
      const at = scanRootTag(f).nameEnd;
      f = `${f.slice(0, at)}${p === '' ? ` xmlns="${rec.resourceUri ?? ''}"` : ` xmlns:${p}="${rec.resourceUri ?? ''}"`}${f.slice(at)}`;
    }
    return normalizeFragment(f, undefined, undefined, rec.uuid);
  };
  const feeds = [
    // inherited prefixes used in the body, in attribute values, in text, and only as URL schemes
    `${OUR_ROOT}<entry><sdata:payload><c:a xmlns:c="urn:c" sdata:uuid="U-1" x="sync:1"><http:b/>opensearch:q http://z</c:a></sdata:payload></entry></feed>`,
    // a declaration value that uses a receiver prefix; the resource redeclares an inherited prefix
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="urn:other" xmlns:k="urn:sync:k"><entry><sdata:payload><k:a sdata:uuid="U-2" xmlns:sync="urn:mine"><sync:x/></k:a></sdata:payload></entry></feed>`,
    // prefix bound on the payload only, uuid on the payload (docs/protocol.md A19), an empty prefixed root
    `<feed xmlns="${NS.atom}" xmlns:s="${NS.sdata}"><entry><s:payload xmlns:c="urn:c" xmlns:http="urn:h" s:uuid="U-3"><c:a/></s:payload></entry></feed>`,
    // a root whose own prefix is bound only by the feed, 'sync:' straight after the qname
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:c="urn:c" xmlns:sync="${NS.sync}"><entry><sdata:payload><c:a sync:t="1" sdata:uuid="U-4">opensearch:x</c:a></sdata:payload></entry></feed>`,
    // a declaration value that uses an inherited prefix the body does not (inserted by resourceXml, then as the root's own)
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}" xmlns:k="urn:sync:k"><entry><sdata:payload><k:a sdata:uuid="U-6"><k:b/></k:a></sdata:payload></entry></feed>`,
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}" xmlns:k="urn:sync:k"><entry><sdata:payload><k:a sdata:uuid="U-7"/></sdata:payload></entry></feed>`,
    // no namespace at all
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}"><entry><sdata:payload><a xmlns="" sdata:uuid="U-5"><n>http:thing xhttp:no</n></a></sdata:payload></entry></feed>`,
    // prefixes with characters outside [\w.-], used and unused; a use right before the end tag; a scheme at the end
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:ü="urn:u" xmlns:é="urn:e" xmlns:a.b-c="urn:abc" xmlns:sync="${NS.sync}"><entry><sdata:payload><c xmlns="urn:c" sdata:uuid="U-8"><ü:x/>a.b-c:1 xa.b-c:2 sync:</c></sdata:payload></entry></feed>`,
    `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}" xmlns:http="${NS.http}"><entry><sdata:payload><c xmlns="urn:c" sdata:uuid="U-9">sync:// http:/x :x</c></sdata:payload></entry></feed>`,
    // two prefixes bound to sdata, neither on the uuid (it is on the payload): which one the root's sdata:uuid takes
    `<feed xmlns="${NS.atom}" xmlns:s="${NS.sdata}" xmlns:t="${NS.sdata}"><entry><s:payload s:uuid="U-10"><c xmlns="urn:c" xmlns:u="${NS.sdata}"><t:x/></c></s:payload></entry></feed>`,
    `<feed xmlns="${NS.atom}" xmlns:s="${NS.sdata}"><entry><s:payload s:uuid="U-11"><c xmlns="urn:c" xmlns:sdata="urn:not-sdata"><s:x/></c></s:payload></entry></feed>`,
    // a root without a uuid and without a namespace-bound prefix for one
    `<feed xmlns="${NS.atom}" xmlns:s="${NS.sdata}" xmlns:c="urn:c"><entry><s:payload><c:a xmlns:sdata="urn:x"/></s:payload></entry></feed>`,
  ];
  for (const feed of feeds) {
    const rec = recordsOf(feed)[0]!;
    assert.equal(storedFragment(rec, rec.uuid ?? 'U-0'), reference({ ...rec, uuid: rec.uuid ?? 'U-0' }), feed);
    const stored = storedResource(rec, rec.uuid)!;
    assert.equal(stored.bodyStart, scanRootTag(stored.fragment).end, feed);
  }
});

test('normalizeFragment adds the uuid and the declarations a receiver would add; tombstones keep name and uuid', () => {
  const f = normalizeFragment(`<a xmlns="urn:c"><b>see http://x</b><c>sync:thing</c></a>`, undefined, undefined, 'u-9');
  const rt = scanRootTag(f);
  const d = rootDeclarations(rt);
  assert.equal(d.get('sdata'), NS.sdata);
  // A URL is not a use of a prefix named http; a QName-like text may be a use of sync.
  assert.equal(d.get('http'), undefined);
  assert.equal(d.get('sync'), NS.sync);
  assert.equal(rootUuid(rt, d), 'u-9');
  const t = parseXml(tombstoneFragment(f, 'ignored'));
  assert.deepEqual([t.uri, t.local, t.attrs.get(`{${NS.sdata}}uuid`), t.attrs.get(`{${NS.sdata}}isDeleted`), t.children.length], ['urn:c', 'a', 'u-9', 'true', 0]);
  const p = parseXml(tombstoneFragment(`<x:a xmlns:x="urn:x" xmlns:sdata="${NS.sdata}" sdata:uuid="Q"><x:b/></x:a>`, 'q'));
  assert.deepEqual([p.uri, p.local, p.attrs.get(`{${NS.sdata}}uuid`)], ['urn:x', 'a', 'Q']);
});

test('A19: a uuid on sdata:payload is found by namespace, whatever the prefix; a look-alike prefix is not sdata', () => {
  const feed = (payload: string): string => `<feed xmlns="${NS.atom}"><entry>${payload}</entry></feed>`;
  const r1 = recordsOf(feed(`<q:payload xmlns:q="${NS.sdata}" q:uuid=" U-9 "><account xmlns="urn:c"><n>1</n></account></q:payload>`))[0]!;
  assert.equal(r1.uuid, 'U-9');
  const f = storedFragment(r1, r1.uuid)!;
  assert.equal(parseXml(f).attrs.get(`{${NS.sdata}}uuid`), 'U-9');
  // `sdata` bound to something else: not the sdata namespace, so no uuid (the entry is then invalid).
  const r2 = recordsOf(feed(`<q:payload xmlns:q="${NS.sdata}" xmlns:sdata="urn:not-sdata" sdata:uuid="U-10"><account xmlns="urn:c"/></q:payload>`))[0]!;
  assert.equal(r2.uuid, undefined);
  // The resource element's own uuid wins over the payload's.
  const r3 = recordsOf(feed(`<q:payload xmlns:q="${NS.sdata}" q:uuid="U-11"><account xmlns="urn:c" q:uuid="U-12"/></q:payload>`))[0]!;
  assert.equal(r3.uuid, 'U-12');
});
