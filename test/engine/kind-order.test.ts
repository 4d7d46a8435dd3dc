import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpClient } from '../../src/http/client.ts';
import { Logger } from '../../src/engine/log.ts';
import { kindOrder, runKinds } from '../../src/engine/run.ts';
import { kindWaves, type SchemaKind } from '../../src/xml/schema-kinds.ts';
import { FakeProvider } from './fake-provider.ts';

const kind = (name: string, syncOrder?: number): SchemaKind => ({ name, syncOrder, isSyncSource: true, isSyncTarget: true, supportsLinking: false, linkedBatchingMode: undefined });

describe('kind order from sme:syncOrder (docs/protocol.md X20)', () => {
  it('the target orders, the source breaks its ties, unordered kinds last in the given order; equal orders share a wave', () => {
    const source = [kind('accounts', 1), kind('contacts', 2), kind('notes', 2), kind('leads', 3)];
    assert.deepEqual(kindWaves(['notes', 'leads', 'contacts', 'accounts', 'misc'], source, undefined).waves,
      [['accounts'], ['notes', 'contacts'], ['leads'], ['misc']]);
    // The target disagrees about leads: it wants them first. Its ties (contacts = notes = 5) are the source's to order.
    const target = [kind('leads', 0), kind('accounts', 5), kind('contacts', 5), kind('notes', 5)];
    const r = kindWaves(['notes', 'leads', 'contacts', 'accounts'], source, target);
    assert.deepEqual(r.waves, [['leads'], ['accounts'], ['notes', 'contacts']]);
    assert.deepEqual(r.disagreements, [['notes', 'leads'], ['contacts', 'leads'], ['accounts', 'leads']]);
    // No order anywhere: one wave, as given; a kind named twice never runs beside itself.
    assert.deepEqual(kindWaves(['b', 'a', 'b'], undefined, undefined).waves, [['b', 'a'], ['b']]);
  });
});

describe('kind order and waves against providers without $schema', () => {
  let src: FakeProvider;
  let tgt: FakeProvider;
  let spool = '';
  const client = new HttpClient({ retry: { retries: 0 } });
  before(async () => {
    spool = await mkdtemp(join(tmpdir(), 'sdata-kinds-'));
    src = new FakeProvider({ app: 'src' });
    tgt = new FakeProvider({ app: 'tgt' });
    await src.start();
    await tgt.start();
  });
  after(async () => {
    await client.close();
    await src.stop();
    await tgt.stop();
    await rm(spool, { recursive: true, force: true });
  });

  it('a 404 for $schema keeps the given order, said at debug level; without --kind it is an error', async () => {
    const lines: string[] = [];
    const log = new Logger('debug', 'text', (l) => lines.push(l));
    const waves = await kindOrder({ source: client, sourceBase: src.datasetBase(), target: client, targetBase: tgt.datasetBase(), given: ['contacts', 'accounts'], log });
    assert.deepEqual(waves, [['contacts', 'accounts']]);
    assert.equal(lines.filter((l) => /no (source|target) \$schema .*404.*kinds run in the order given/.test(l)).length, 2, lines.join(''));
    assert.ok(lines.every((l) => !l.includes('warning')));
    await assert.rejects(kindOrder({ source: client, sourceBase: src.datasetBase(), target: client, targetBase: tgt.datasetBase(), log }), /\$schema.*404/);
  });

  it('waves: passes of one wave may run at once; after a failed pass, later waves do not run', async () => {
    for (const k of ['a', 'b', 'c']) src.seed(k, 3, k);
    // Kind a's target digest cannot be read: its pass fails.
    tgt.hook = (_req, res, i) => {
      if (i.kind === 'a' && i.op === '$syncDigest') {
        res.writeHead(500).end();
        return true;
      }
      return false;
    };
    const r = await runKinds({
      kinds: ['a', 'b', 'c'], waves: [['a', 'b'], ['c']], concurrency: 2, sourceBase: src.datasetBase(), targetBase: tgt.datasetBase(),
      source: client, target: client, runName: 'waves', runStamp: '2024-01-01T00:00:00Z', chunkEntries: 10, chunkBytes: 1 << 20,
      maxEntryBytes: 1 << 20, spoolDir: spool, log: new Logger('error', 'text', () => undefined), poll: { pollMinMs: 0, pollDefaultMs: 1 },
    });
    assert.deepEqual(r.passes.map((p) => [p.kind, p.ok]), [['a', false], ['b', true]]);
    assert.deepEqual(r.notRun, ['c']);
    assert.equal(tgt.liveCount('b'), 3);
    assert.equal(tgt.liveCount('c'), 0);
  });
});
