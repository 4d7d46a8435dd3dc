import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NS } from '../../../src/protocol/namespaces.ts';
import { mergeFragment } from '../../../src/provider/payload/merge.ts';
import { kid, parseXml } from '../helpers.ts';

/** Property-level merge (PUT) */

test('merge replaces the named properties, keeps the others byte for byte, appends new ones', () => {
  const stored = `<account xmlns="urn:c" xmlns:sdata="${NS.sdata}" sdata:uuid="U"><name>A</name>\n  <!-- keep --><city>Z</city><tags><t>1</t><t>2</t></tags></account>`;
  const merged = mergeFragment(stored, `<account xmlns="urn:c"><city>Paris</city><tags><t>3</t></tags><vat>x</vat></account>`);
  assert.equal(merged, `<account xmlns="urn:c" xmlns:sdata="${NS.sdata}" sdata:uuid="U"><name>A</name>\n  <!-- keep --><city>Paris</city><tags><t>3</t></tags><vat>x</vat></account>`);
  // An incoming child whose prefix the stored root binds otherwise keeps its meaning.
  const m2 = parseXml(mergeFragment(`<a xmlns="urn:c" xmlns:p="urn:other"><n>1</n></a>`, `<a xmlns="urn:c" xmlns:p="urn:p"><p:n>2</p:n></a>`));
  assert.deepEqual(m2.children.map((c) => [c.uri, c.local, c.text]), [['urn:c', 'n', '1'], ['urn:p', 'n', '2']]);
  const m3 = parseXml(mergeFragment(`<a xmlns="urn:c" k="1"/>`, `<a xmlns="urn:c"><b>1</b></a>`));
  assert.equal(kid(m3, 'urn:c', 'b')?.text, '1');
});
