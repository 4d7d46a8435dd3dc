import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSdataError } from '../../src/protocol/errors.ts';
import type { ResultEntry, ResultTail } from '../../src/xml/result-types.ts';
import { ResultReader } from '../helpers/result-reader.ts';
import { ResultScanner } from '../../src/xml/result-scanner.ts';

type Reader = { push(b: Uint8Array): void; end(): ResultTail };

function read(make: (f: (e: ResultEntry) => void) => Reader, bytes: Buffer, step: number): { entries: ResultEntry[]; tail: ResultTail } {
  const entries: ResultEntry[] = [];
  const r = make((e) => entries.push(e));
  for (let i = 0; i < bytes.length; i += step) r.push(bytes.subarray(i, i + step));
  return { entries, tail: r.end() };
}

const saxes = (f: (e: ResultEntry) => void): Reader => new ResultReader(f);
const fast = (f: (e: ResultEntry) => void): Reader => new ResultScanner(f);

const DOCS: Record<string, string> = {
  provider: `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" xmlns:sync="http://schemas.sage.com/sdata/sync/2008/1" xmlns:http="http://schemas.sage.com/sdata/http/2008/1" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"><id>http://h/$syncTarget('x')</id><title>r</title><updated>2024-01-01T00:00:00Z</updated>
<link rel="self" type="application/atom+xml; type=feed" href="http://h/$syncTarget('x')"/><opensearch:totalResults>3</opensearch:totalResults>
<entry><id>http://erp/accounts('1')</id><title>accounts 1</title><updated>2024</updated><link rel="self" href="http://h/accounts('1')"/><http:httpStatus>201</http:httpStatus><http:httpMessage>Created</http:httpMessage><http:httpMethod>POST</http:httpMethod><http:location>http://h/accounts('1')</http:location><http:etag>abc=</http:etag><sync:syncState><sync:endpoint>http://crm/accounts</sync:endpoint><sync:tick>5</sync:tick><sync:stamp>2024</sync:stamp></sync:syncState></entry>
<entry><id>http://erp/accounts('2')</id><http:httpStatus>200</http:httpStatus><http:httpMessage>OK</http:httpMessage><sdata:diagnosis><sdata:severity>warning</sdata:severity><sdata:sdataCode>ApplicationDiagnosis</sdata:sdataCode><sdata:applicationCode>SyncConflictTargetWins</sdata:applicationCode><sdata:message>conflict (5.4 R4): this target's version wins by priority (1 &lt; 5)</sdata:message></sdata:diagnosis><sdata:payload><account xmlns="urn:crm" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" sdata:uuid="u-2"><name>A &amp; B "q" 'a' &#233;&#x1F600;</name><notes><![CDATA[<http:httpStatus>500</http:httpStatus> ]]></notes><sdata:diagnosis>not one</sdata:diagnosis></account></sdata:payload></entry>
<!-- a comment <entry> -->
<entry><id>c</id><http:httpStatus> 422 </http:httpStatus><sdata:diagnoses><sdata:diagnosis><sdata:severity>Error</sdata:severity><sdata:message><![CDATA[bad <ref> ]]>&amp; more</sdata:message><sdata:payloadPath>/a/b</sdata:payloadPath></sdata:diagnosis></sdata:diagnoses></entry>
<link rel="next" href="http://h/$syncTarget('x')?startIndex=4&amp;count=3"/>
</feed>
`,
  prefixes: `<a:feed xmlns:a="http://www.w3.org/2005/Atom" xmlns:h='http://schemas.sage.com/sdata/http/2008/1'>
  <a:entry xmlns:s="http://schemas.sage.com/sdata/2008">
    <a:id>one</a:id><h:httpStatus>200</h:httpStatus><h:httpMethod>delete</h:httpMethod>
    <s:diagnosis><s:severity>info</s:severity><s:applicationCode>SyncIgnored</s:applicationCode></s:diagnosis>
  </a:entry>
  <a:entry><a:id>two</a:id><httpStatus xmlns="http://schemas.sage.com/sdata/http/2008/1">204</httpStatus>
    <b:httpStatus xmlns:b="urn:other">999</b:httpStatus>
    <payload xmlns="http://schemas.sage.com/sdata/2008/1"><x xmlns:q="http://schemas.sage.com/sdata/2008/1" q:uuid=" u-two "/></payload></a:entry>
  <a:link href = "n2" rel = 'next' ></a:link>
  <sdata:diagnosis xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:severity>warning</sdata:severity><sdata:message>feed level</sdata:message></sdata:diagnosis>
</a:feed>`,
  empty: '<feed xmlns="http://www.w3.org/2005/Atom"/>',
};

describe('result scanner (fast path) against the saxes result reader', () => {
  for (const [name, doc] of Object.entries(DOCS)) {
    it(`reads '${name}' exactly as saxes does, in every chunking`, () => {
      const bytes = Buffer.from(doc);
      const want = read(saxes, bytes, bytes.length);
      assert.ok(want.entries.length > 0 || name === 'empty');
      for (let step = 1; step <= Math.min(bytes.length, 97); step++) {
        assert.deepEqual(read(fast, bytes, step), want, `step ${step}`);
      }
      assert.deepEqual(read(fast, bytes, bytes.length), want);
    });
  }

  it('refuses what saxes refuses', () => {
    const bad = [
      '<feed xmlns="http://www.w3.org/2005/Atom"><entry></feed>',
      '<feed xmlns="http://www.w3.org/2005/Atom"><entry>',
      '<feed xmlns="http://www.w3.org/2005/Atom"></feed><feed/>',
      '<feed xmlns="http://www.w3.org/2005/Atom"></feed>junk',
      '<feed xmlns="http://www.w3.org/2005/Atom"><entry><x:y/></entry></feed>',
      '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>&bogus;</id></entry></feed>',
      '<feed xmlns="http://www.w3.org/2005/Atom"><!-- open',
      '<feed xmlns="http://www.w3.org/2005/Atom"><entry a="1></entry></feed>',
    ];
    for (const doc of bad) {
      const b = Buffer.from(doc);
      assert.throws(() => read(saxes, b, b.length), (e: unknown) => isSdataError(e), `saxes accepts ${doc}`);
      assert.throws(() => read(fast, b, 3), (e: unknown) => isSdataError(e) && /MALFORMED|PROTOCOL/.test(e.code), `scanner accepts ${doc}`);
    }
    const doctype = Buffer.from('<!DOCTYPE feed [<!ENTITY x "y">]><feed xmlns="http://www.w3.org/2005/Atom"/>');
    assert.throws(() => read(fast, doctype, 5), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_DOCTYPE');
    assert.throws(() => read(fast, Buffer.from('<entry xmlns="http://www.w3.org/2005/Atom"/>'), 4), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_PROTOCOL');
    assert.throws(() => read(fast, Buffer.from([0x3c, 0x66, 0xff, 0x3e]), 4), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_ENCODING');
  });
});
