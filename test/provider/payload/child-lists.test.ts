import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SaxesParser } from 'saxes';
import { Rng } from '../../../src/gen/rng.ts';
import { NS } from '../../../src/protocol/namespaces.ts';
import { hasListWork, mergeChildLists } from '../../../src/provider/payload/child-lists.ts';
import { elementTree } from '../../../src/provider/payload/element-tree.ts';
import { storedFragment } from '../../../src/provider/payload/fragment.ts';
import { needsListMerge } from '../../../src/provider/payload/list-scan.ts';
import { seedResource } from '../../../src/seeder/seed-store.ts';
import { entriesMeaning, oracleTest, xmllintErrors } from '../../helpers/oracle.ts';
import { randomFragment } from '../../helpers/fragments.ts';
import { OUR_ROOT, recordsOf } from './records.ts';

/** Child lists (docs/protocol.md §3.3, A9): the rule, the merge, and the fast-path test. */

const S = NS.sdata;
const D = `xmlns="urn:c" xmlns:sdata="${S}"`;

function account(body: string, decls = D): string {
  return `<account ${decls} sdata:uuid="A">${body}</account>`;
}

const STORED = account(`<name>old</name>
  <addresses sdata:deleteMissing="true">
    <address sdata:uuid="a1"><street>one</street></address>
    <address sdata:uuid="a2"><street>two</street></address>
    <address sdata:uuid="a3"><street>three</street></address>
  </addresses>
  <primaryContact sdata:uuid="p1"/>
`);

test('a delta list: matched children replaced (any case of the uuid), deleted ones removed, new ones appended, the rest kept', () => {
  const inc = account(`<name>new</name>
  <addresses>
    <address sdata:uuid="A2"><street>TWO</street></address>
    <address sdata:uuid="a3" sdata:isDeleted="true"/>
    <address sdata:uuid="a4"><street>four</street></address>
    <address sdata:uuid="a5"><street>five</street></address>
  </addresses>
  <primaryContact sdata:uuid="p2"/>
`);
  assert.equal(hasListWork(inc), true);
  assert.equal(mergeChildLists(STORED, inc), account(`<name>new</name>
  <addresses sdata:deleteMissing="true">
    <address sdata:uuid="a1"><street>one</street></address>
    <address sdata:uuid="A2"><street>TWO</street></address>
    <address sdata:uuid="a4"><street>four</street></address>
    <address sdata:uuid="a5"><street>five</street></address>
  </addresses>
  <primaryContact sdata:uuid="p2"/>
`));
});

test('isDeleted in the sync namespace (docs/protocol.md A8) removes a child too; a delta of one child keeps its siblings', () => {
  const inc = account(`<name>x</name><addresses><address xmlns:sync="${NS.sync}" sync:isDeleted="true" sdata:uuid="a1"/></addresses>`);
  const m = mergeChildLists(STORED, inc);
  assert.equal(m, account(`<name>x</name><addresses sdata:deleteMissing="true">
    <address sdata:uuid="a2"><street>two</street></address>
    <address sdata:uuid="a3"><street>three</street></address>
  </addresses>`));
  const one = account(`<name>x</name><addresses><address sdata:uuid="a9"><street>nine</street></address></addresses>`);
  assert.deepEqual([...m.matchAll(/uuid="(a\d)"/g)].length, 2);
  assert.deepEqual([...mergeChildLists(STORED, one).matchAll(/sdata:uuid="(a\d)"/g)].map((x) => x[1]), ['a1', 'a2', 'a3', 'a9']);
});

test('a complete list replaces the stored one as it came (the fast path); deleted children in it are dropped', () => {
  const full = account(`<name>x</name><addresses sdata:deleteMissing="true"><address sdata:uuid="a9"><street>nine</street></address></addresses>`);
  assert.equal(hasListWork(full), false);
  // "1" is xs:boolean true.
  assert.equal(hasListWork(full.replace('"true"', '"1"')), false);
  const withDeleted = account(`<name>x</name><addresses sdata:deleteMissing="true">\n <address sdata:uuid="a1" sdata:isDeleted="true"/>\n <address sdata:uuid="a9"/>\n</addresses>`);
  assert.equal(hasListWork(withDeleted), true);
  assert.equal(mergeChildLists(STORED, withDeleted), account(`<name>x</name><addresses sdata:deleteMissing="true">\n <address sdata:uuid="a9"/>\n</addresses>`));
});

test('empty lists: deleteMissing="true" empties, deleteMissing="false" changes nothing, a bare empty element is no list', () => {
  assert.equal(hasListWork(account('<addresses sdata:deleteMissing="true"/>')), false);
  const none = mergeChildLists(STORED, account('<name>x</name><addresses sdata:deleteMissing="false"/>'));
  assert.equal(none, account(`<name>x</name><addresses sdata:deleteMissing="true">
    <address sdata:uuid="a1"><street>one</street></address>
    <address sdata:uuid="a2"><street>two</street></address>
    <address sdata:uuid="a3"><street>three</street></address>
  </addresses>`));
  // `<addresses/>` has neither the flag nor children: a property like any other, and the payload is whole.
  assert.equal(hasListWork(account('<addresses/>')), false);
  // A delta that deletes everything leaves an empty list, flagged complete.
  const gone = mergeChildLists(STORED, account('<addresses><address sdata:uuid="a1" sdata:isDeleted="true"/><address sdata:uuid="a2" sdata:isDeleted="true"/><address sdata:uuid="a3" sdata:isDeleted="true"/></addresses>'));
  assert.equal(gone, account('<addresses sdata:deleteMissing="true">\n  </addresses>'));
});

test('a delta with no complete list to apply to is kept as the delta it is (4.4 incomplete storage); a local edit is complete', () => {
  const delta = account('<addresses><address sdata:uuid="a1" sdata:isDeleted="true"/><address sdata:uuid="a2"/></addresses>');
  // A sync create: the list holds what the delta said, deleted marker included, unflagged; storing it again is a no-op.
  assert.equal(mergeChildLists(undefined, delta), delta);
  // Further deltas add to it, replace by uuid, keep what they do not mention; deletions stay markers.
  const more = mergeChildLists(delta, account('<addresses><address sdata:uuid="A2"><n>2</n></address><address sdata:uuid="a3" sdata:isDeleted="true"/></addresses>'));
  assert.equal(more, account('<addresses><address sdata:uuid="a1" sdata:isDeleted="true"/><address sdata:uuid="A2"><n>2</n></address><address sdata:uuid="a3" sdata:isDeleted="true"/></addresses>'));
  // A complete list ends it.
  assert.equal(mergeChildLists(more, account('<addresses sdata:deleteMissing="true"><address sdata:uuid="a4"/></addresses>')),
    account('<addresses sdata:deleteMissing="true"><address sdata:uuid="a4"/></addresses>'));
  // A local create holds all there is: complete, flagged, without the deleted child.
  assert.equal(mergeChildLists(undefined, delta, true), account('<addresses sdata:deleteMissing="true"><address sdata:uuid="a2"/></addresses>'));
});

test('references and single children are never lists; text makes an element no list; lists of references merge by uuid', () => {
  // A reference: only a uuid. A single child: a uuid and children. Neither is merged; the incoming payload is whole.
  assert.equal(hasListWork(account('<primaryContact sdata:uuid="p9"/><billing sdata:uuid="b1"><phones sdata:deleteMissing="true"/></billing>')), false);
  assert.equal(hasListWork(account('<note>see <ref sdata:uuid="r1"/></note>')), false, 'mixed content');
  assert.equal(hasListWork(account('<note><![CDATA[x]]><ref sdata:uuid="r1"/></note>')), false, 'CDATA is text');
  assert.equal(hasListWork(account('<note><!-- c --><?pi x?><ref sdata:uuid="r1"/></note>')), true, 'comments and PIs are not text');
  assert.equal(hasListWork(account('<tags><tag>a</tag><tag sdata:uuid="t"/></tags>')), false, 'children without uuids cannot be matched');
  const stored = account('<members sdata:deleteMissing="true"><member sdata:uuid="m1"/><member sdata:uuid="m2"/></members>');
  assert.equal(mergeChildLists(stored, account('<members><member sdata:uuid="m3"/></members>')),
    account('<members sdata:deleteMissing="true"><member sdata:uuid="m1"/><member sdata:uuid="m2"/><member sdata:uuid="m3"/></members>'));
});

test('nested lists: a child\'s own delta list merges with the stored child\'s list, at any depth', () => {
  const stored = account(`<contacts sdata:deleteMissing="true"><contact sdata:uuid="c1"><name>C1</name><phones sdata:deleteMissing="true"><phone sdata:uuid="f1">1</phone><phone sdata:uuid="f2">2</phone></phones></contact><contact sdata:uuid="c2"><name>C2</name></contact></contacts>`);
  // The contacts list is a delta; c1 is updated and its phones list is a delta too.
  const inc = account(`<contacts><contact sdata:uuid="c1"><name>C1b</name><phones><phone sdata:uuid="f2" sdata:isDeleted="true"/><phone sdata:uuid="f3">3</phone></phones></contact></contacts>`);
  assert.equal(mergeChildLists(stored, inc), account(`<contacts sdata:deleteMissing="true"><contact sdata:uuid="c1"><name>C1b</name><phones sdata:deleteMissing="true"><phone sdata:uuid="f1">1</phone><phone sdata:uuid="f3">3</phone></phones></contact><contact sdata:uuid="c2"><name>C2</name></contact></contacts>`));
  // A complete contacts list whose child carries a delta list: the child is matched by uuid for its own list.
  const inc2 = account(`<contacts sdata:deleteMissing="true"><contact sdata:uuid="C1"><phones><phone sdata:uuid="f4">4</phone></phones></contact></contacts>`);
  assert.equal(mergeChildLists(stored, inc2), account(`<contacts sdata:deleteMissing="true"><contact sdata:uuid="C1"><phones sdata:deleteMissing="true"><phone sdata:uuid="f1">1</phone><phone sdata:uuid="f2">2</phone><phone sdata:uuid="f4">4</phone></phones></contact></contacts>`));
  // A list inside a wrapper without a uuid is found by its path of names.
  const sw = account(`<details><addresses sdata:deleteMissing="true"><address sdata:uuid="x1"/></addresses></details>`);
  assert.equal(mergeChildLists(sw, account(`<details><addresses><address sdata:uuid="x2"/></addresses></details>`)),
    account(`<details><addresses sdata:deleteMissing="true"><address sdata:uuid="x1"/><address sdata:uuid="x2"/></addresses></details>`));
});

/** A fragment as one atom:entry, for the expat oracle. */
const asFeed = (...fragments: string[]): string =>
  `<feed xmlns="${NS.atom}">${fragments.map((f) => `<entry>${f}</entry>`).join('')}</feed>`;

oracleTest('namespaces, CDATA, comments and references in copied children mean what they meant (xmllint, expat)', ['xmllint', 'expat'], () => {
  // Stored with a prefixed contract and `s` for sdata, an extension prefix `x` bound on the root, CDATA, a comment and
  // character references; the incoming payload uses a default namespace, `sdata`, and binds `x` to something else.
  const stored = `<c:account xmlns:c="urn:c" xmlns:s="${S}" xmlns:x="urn:ext-1" xmlns:xsi="${NS.xsi}" s:uuid="A"><c:name>old</c:name>` +
    `<c:addresses s:deleteMissing="true"><c:address s:uuid="a1" x:rank="1"><c:street><![CDATA[<b>1</b> & ]]]]><![CDATA[>]]></c:street><!-- kept --><c:city>caf&#233; &amp; co</c:city><c:zip xsi:nil="true"/></c:address>` +
    `<c:address s:uuid="a2"><c:street>two</c:street></c:address></c:addresses></c:account>`;
  const incoming = `<account xmlns="urn:c" xmlns:sdata="${S}" xmlns:x="urn:ext-2" sdata:uuid="A"><name>new</name>` +
    `<addresses><address sdata:uuid="a2" x:rank="2"><street>TWO</street></address></addresses></account>`;
  const merged = mergeChildLists(stored, incoming);
  // What it must mean, written independently: a1 as stored (its x is urn:ext-1), a2 as sent.
  const expected = `<account xmlns="urn:c" xmlns:sdata="${S}" sdata:uuid="A"><name>new</name>` +
    `<addresses sdata:deleteMissing="true"><e1:address xmlns:e1="urn:c" xmlns:x="urn:ext-1" xmlns:xsi="${NS.xsi}" sdata:uuid="a1" x:rank="1"><e1:street>&lt;b&gt;1&lt;/b&gt; &amp; ]]&gt;</e1:street><e1:city>café &amp; co</e1:city><e1:zip xsi:nil="true"/></e1:address>` +
    `<address xmlns:y="urn:ext-2" sdata:uuid="a2" y:rank="2"><street>TWO</street></address></addresses></account>`;
  assert.equal(xmllintErrors(merged), '');
  assert.deepEqual(entriesMeaning(asFeed(merged)), entriesMeaning(asFeed(expected)));
  // The comment and the CDATA sections are copied as they were written.
  assert.ok(merged.includes('<!-- kept -->') && merged.includes(']]]]><![CDATA[>]]>'), merged);
});

test('deleteMissing goes on the list with a prefix bound to sdata there, or a declaration of its own', () => {
  const m = mergeChildLists(undefined, `<a xmlns="urn:c" xmlns:q="${S}" q:uuid="A"><l><i q:uuid="1"/></l></a>`, true);
  assert.equal(m, `<a xmlns="urn:c" xmlns:q="${S}" q:uuid="A"><l q:deleteMissing="true"><i q:uuid="1"/></l></a>`);
  // No prefix binds sdata at the list (the root's is re-bound on the way, the children declare their own) and
  // `sdata` means something else there: the list gets a free prefix of its own. normalizeFragment then declares the
  // receivers' prefixes on the root, as for any stored fragment.
  const m2 = mergeChildLists(undefined, `<a xmlns="urn:c" xmlns:sdata="urn:not-sdata" xmlns:u="${S}" u:uuid="A"><w xmlns:u="urn:u"><l><i xmlns:s="${S}" s:uuid="1"/></l></w></a>`, true);
  const l = elementTree(m2).children[0]!.children[0]!;
  assert.equal(l.deleteMissing?.value, 'true');
  assert.match(m2, new RegExp(`<l xmlns:sdata1="${S}" sdata1:deleteMissing="true">`));
  assert.equal(hasListWork(m2), false);
});

test('a merged fragment is complete and a fixpoint of relaying: our feeds carry it byte for byte', () => {
  const cases: Array<[string | undefined, string]> = [
    [STORED, account('<addresses><address sdata:uuid="a4"/></addresses>')],
    // The incoming payload names sdata `s` and uses the sync namespace, which the stored children do not.
    [STORED, `<account xmlns="urn:c" xmlns:s="${S}" xmlns:sync="${NS.sync}" s:uuid="A"><addresses><address s:uuid="a1" sync:isDeleted="true"/></addresses></account>`],
    [`<c:account xmlns:c="urn:c" xmlns:sdata="${S}" xmlns:sync="${NS.sync}" sdata:uuid="A"><c:addresses sdata:deleteMissing="true"><c:address sdata:uuid="a1"><c:t sync:x="1"/></c:address></c:addresses></c:account>`,
      `<account xmlns="urn:c" xmlns:s="${S}" s:uuid="A"><addresses><address s:uuid="a2"/></addresses></account>`],
  ];
  for (const [stored, incoming] of cases) {
    const merged = mergeChildLists(stored, incoming);
    assert.equal(hasListWork(merged), false, merged);
    const rec = recordsOf(`${OUR_ROOT}<entry><sdata:payload>${merged}</sdata:payload></entry></feed>`)[0]!;
    assert.equal(storedFragment(rec, rec.uuid), merged);
  }
});

function xmlOk(f: string, context = ''): boolean {
  try {
    new SaxesParser({ xmlns: true }).write(f).close();
    return true;
  } catch (e) {
    assert.fail(`${(e as Error).message}: ${context}${f}`);
  }
}

test('the fast-path scanner agrees with the element tree on random payloads; merges are well-formed and settle', () => {
  const r = new Rng(7);
  let work = 0;
  for (let k = 0; k < 3000; k++) {
    const f = randomFragment(r);
    xmlOk(f);
    const w = elementTree(f).work;
    assert.equal(needsListMerge(f), w, f);
    if (!w) continue;
    work++;
    // A local edit leaves nothing to merge; a sync create stores what a second pass would store again.
    const local = mergeChildLists(undefined, f, true);
    assert.equal(xmlOk(local, `${f}\n→ `) && elementTree(local).work, false, `${f}\n→ ${local}`);
    const created = mergeChildLists(undefined, f);
    xmlOk(created, `${f}\n→ `);
    assert.equal(mergeChildLists(undefined, created), created, f);
    const stored = randomFragment(r);
    xmlOk(mergeChildLists(stored, f), `${stored}\n+ ${f}\n→ `);
  }
  assert.ok(work > 300, `only ${work} payloads needed a merge`);
});

test('seeded payloads are in the stored form: complete lists, nothing to merge (the delta-style ones included)', () => {
  for (let i = 0; i < 400; i++) {
    const p = seedResource(i, 3).payload;
    assert.equal(hasListWork(p), false, p);
    assert.match(p, /<contacts sdata:deleteMissing="true"><contact sdata:uuid=/);
    assert.ok(!p.includes('isDeleted'));
  }
});
