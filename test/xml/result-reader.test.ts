import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSdataError } from '../../src/protocol/errors.ts';
import type { ResultEntry } from '../../src/xml/result-types.ts';
import { ResultReader } from '../helpers/result-reader.ts';
import { parseDiagnoses, parseTracking } from '../../src/xml/tracking-reader.ts';

const FEED = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns:sdata="http://schemas.sage.com/sdata/2008/1" xmlns:http="http://schemas.sage.com/sdata/http/2008/1"
      xmlns="http://www.w3.org/2005/Atom">
  <id>/sdata/myApp2/myContract/-/accounts/$syncTarget</id><title>Synchronization Feed</title>
  <entry>
    <id>http://www.example.com/sdata/myApp2/myContract/-/accounts('28004')</id>
    <title>Account Natural Goods</title>
    <http:httpStatus>201</http:httpStatus><http:httpMessage>Created</http:httpMessage>
    <http:location>http://www.example.com/sdata/myApp2/myContract/-/accounts('28004')</http:location>
    <http:httpMethod>POST</http:httpMethod>
    <sdata:payload><account xmlns="urn:c" sdata:uuid="aaaa-1"><name>Natürlich &amp; gut</name>
      <diagnosis>not an sdata diagnosis</diagnosis></account></sdata:payload>
  </entry>
  <entry>
    <id>b</id>
    <http:httpStatus>200</http:httpStatus><http:httpMethod>put</http:httpMethod>
    <sdata:diagnosis><sdata:severity>Warning</sdata:severity><sdata:sdataCode>ApplicationDiagnosis</sdata:sdataCode>
      <sdata:applicationCode>SyncConflictTargetWins</sdata:applicationCode><sdata:message>kept ours</sdata:message></sdata:diagnosis>
  </entry>
  <entry>
    <id>c</id>
    <http:httpStatus>422</http:httpStatus><http:httpMessage>Unprocessable</http:httpMessage>
    <sdata:diagnoses><sdata:diagnosis><sdata:severity>error</sdata:severity><sdata:sdataCode>ApplicationDiagnosis</sdata:sdataCode>
      <sdata:message><![CDATA[unknown <ref>]]></sdata:message><sdata:payloadPath>/account/owner</sdata:payloadPath></sdata:diagnosis></sdata:diagnoses>
  </entry>
  <link rel="next" href="http://h/ctx('x')?startIndex=4
      &amp;count=3"/>
</feed>`;

function readAll(text: string, splitEvery: number): { entries: ResultEntry[]; next: string | undefined } {
  const entries: ResultEntry[] = [];
  const r = new ResultReader((e) => entries.push(e));
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += splitEvery) r.push(bytes.subarray(i, i + splitEvery));
  const t = r.end();
  assert.equal(t.entries, entries.length);
  return { entries, next: t.next };
}

describe('result reader', () => {
  it('reads status, method, location, uuid and diagnoses per entry, in any chunking', () => {
    const whole = readAll(FEED, FEED.length + 10);
    assert.equal(whole.entries.length, 3);
    const [a, b, c] = whole.entries;
    assert.deepEqual({ ...a, diagnoses: a!.diagnoses.length }, {
      index: 0, atomId: "http://www.example.com/sdata/myApp2/myContract/-/accounts('28004')", uuid: 'aaaa-1', status: 201,
      message: 'Created', method: 'POST', location: "http://www.example.com/sdata/myApp2/myContract/-/accounts('28004')", diagnoses: 0,
    });
    assert.equal(b!.method, 'PUT');
    assert.deepEqual(b!.diagnoses, [{ severity: 'warning', sdataCode: 'ApplicationDiagnosis', applicationCode: 'SyncConflictTargetWins', message: 'kept ours' }]);
    assert.equal(c!.status, 422);
    assert.deepEqual(c!.diagnoses, [{ severity: 'error', sdataCode: 'ApplicationDiagnosis', message: 'unknown <ref>', payloadPath: '/account/owner' }]);
    assert.equal(whole.next, "http://h/ctx('x')?startIndex=4&count=3");
    for (const n of [1, 2, 3, 7, 64]) assert.deepEqual(readAll(FEED, n), whole);
  });

  it('rejects what is not a result feed, with a position', () => {
    assert.throws(() => readAll('<entry xmlns="http://www.w3.org/2005/Atom"/>', 100), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_PROTOCOL');
    assert.throws(() => readAll('<feed xmlns="http://www.w3.org/2005/Atom"><entry>', 100), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_MALFORMED' && /:1:\d+:/.test(e.message));
    assert.throws(() => readAll('<!DOCTYPE x [<!ENTITY a "b">]><feed xmlns="http://www.w3.org/2005/Atom"/>', 100), (e: unknown) => isSdataError(e) && e.code === 'SDATA_E_DOCTYPE');
  });
});

describe('tracking and diagnoses bodies', () => {
  it('reads tracking in the proper namespace, the spec typo namespace (docs/protocol.md A6), and none', () => {
    for (const ns of ['http://schemas.sage.com/sdata/2008/1', 'http://schemas.sage.com/sdata/2008']) {
      const t = parseTracking(`<?xml version="1.0"?><tracking xmlns="${ns}"><phase>Initialization</phase><phaseDetail>Starting batch</phaseDetail><progress>0.0</progress><elapsedSeconds>0</elapsedSeconds><remainingSeconds>20</remainingSeconds>\n<pollingMillis>500</pollingMillis></tracking>`);
      assert.deepEqual(t, { phase: 'Initialization', phaseDetail: 'Starting batch', progress: 0, elapsedSeconds: 0, remainingSeconds: 20, pollingMillis: 500 });
    }
    assert.deepEqual(parseTracking('<tracking><pollingMillis>7</pollingMillis></tracking>'), { pollingMillis: 7 });
    assert.equal(parseTracking('<html><body>502 Bad Gateway</body></html>'), undefined);
    assert.equal(parseTracking('not xml at all <'), undefined);
    assert.equal(parseTracking(''), undefined);
  });

  it('reads diagnoses', () => {
    const d = parseDiagnoses('<sdata:diagnoses xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:diagnosis><sdata:severity>Fatal</sdata:severity><sdata:sdataCode>ResourceKindNotFound</sdata:sdataCode><sdata:message>no</sdata:message></sdata:diagnosis></sdata:diagnoses>');
    assert.deepEqual(d, [{ severity: 'fatal', sdataCode: 'ResourceKindNotFound', message: 'no' }]);
  });
});
