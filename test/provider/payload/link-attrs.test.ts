import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NS } from '../../../src/protocol/namespaces.ts';
import { withRootUuid, withSdataAttrs } from '../../../src/provider/payload/link-attrs.ts';
import { parseXml } from '../helpers.ts';

/** The root attributes linking changes: uuid set, replaced, removed; url and key added; the rest kept byte for byte. */

const uuidOf = (f: string): string | undefined => parseXml(f).attrs.get(`{${NS.sdata}}uuid`);

test('withRootUuid sets, replaces and removes sdata:uuid whatever prefix binds the namespace; the content is untouched', () => {
  const body = '<name a="1">x &amp; y</name><sub sdata:uuid="CHILD"/>';
  const plain = `<account xmlns="urn:c" xmlns:sdata="${NS.sdata}">${body}</account>`;
  const set = withRootUuid(plain, 'U-1');
  assert.equal(uuidOf(set), 'U-1');
  assert.ok(set.endsWith(`>${body}</account>`));
  const replaced = withRootUuid(set, 'U-2');
  assert.equal(uuidOf(replaced), 'U-2');
  assert.equal((replaced.match(/uuid=/g) ?? []).length, 2, 'the root has one uuid, the child keeps its own');
  assert.equal(uuidOf(withRootUuid(replaced, undefined)), undefined);
  assert.ok(withRootUuid(replaced, undefined).endsWith(`>${body}</account>`));
  // Another prefix for sdata; `sdata` bound to something else; no declaration at all; a self-closing root.
  assert.equal(uuidOf(withRootUuid(`<a xmlns:s="${NS.sdata}" s:uuid="OLD"/>`, 'N')), 'N');
  assert.equal(uuidOf(withRootUuid('<a xmlns:sdata="urn:not-sdata" sdata:x="1"/>', 'N')), 'N');
  assert.equal(uuidOf(withRootUuid('<a xmlns="urn:c"/>', 'N')), 'N');
  // A single-quoted value holding a double quote survives the rewrite.
  assert.equal(parseXml(withRootUuid(`<a t='say "hi"' xmlns:sdata="${NS.sdata}"/>`, 'N')).attrs.get('t'), 'say "hi"');
});

test('withSdataAttrs adds url and key (escaped), and with attrsOnly drops the content', () => {
  const f = `<account xmlns="urn:c" xmlns:sdata="${NS.sdata}" sdata:uuid="U"><name>n</name></account>`;
  const out = parseXml(withSdataAttrs(f, { url: "http://h/a('1')?x=1&y=2", key: '1' }));
  assert.deepEqual([out.attrs.get(`{${NS.sdata}}uuid`), out.attrs.get(`{${NS.sdata}}url`), out.attrs.get(`{${NS.sdata}}key`), out.children.length],
    ['U', "http://h/a('1')?x=1&y=2", '1', 1]);
  const bare = parseXml(withSdataAttrs(f, { key: '1' }, true));
  assert.deepEqual([bare.children.length, bare.attrs.get(`{${NS.sdata}}uuid`)], [0, 'U']);
});
