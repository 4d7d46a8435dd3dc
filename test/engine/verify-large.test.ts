import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NS, contractNamespace } from '../../src/protocol/namespaces.ts';
import { startProvider, type RunningProvider } from '../../src/provider/http/server.ts';
import { seedResource, seedStore } from '../../src/seeder/seed-store.ts';
import { canonicalXml, fragmentPayload, payloadDigest } from '../../src/xml/canonical.ts';
import { DEFAULT_MAX_ENTRY_BYTES } from '../../src/xml/limits.ts';
import { runCli } from '../helpers/cli.ts';

/**
 * `verify` holds whole entries up to --max-entry-bytes (16 MiB by default) under the heap bounds the bin gives it
 * (src/cli/heap-flags.ts VERIFY_HEAP_FLAGS): an entry's text, the reader's characters of it, its canonical form's
 * pieces and the SHA-256 of them. Before docs/decisions/0030, an 8 MiB payload dense with references and non-ASCII
 * text ended verify in a V8 out-of-memory abort, with a stack trace, on one thread or two.
 */

const C = contractNamespace('crm');
const SEED = 23;
/** Bytes of each payload: near the default cap (with the entry around it, still under it). */
const PAYLOAD_BYTES = 15 * 2 ** 20;
const BOUNDS = ['--timeout-connect', '2000', '--timeout-headers', '30000', '--timeout-body', '30000', '--timeout-poll', '30000', '--retries', '1'];

describe('verify with entries near --max-entry-bytes', () => {
  let dir: string;
  let s: RunningProvider;
  let t: RunningProvider;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdata-verify-large-'));
    for (const [f, app] of [['s', 'crm'], ['t', 'erp']] as const) {
      await seedStore({ db: join(dir, `${f}.db`), app, contract: 'crm', kind: 'accounts', count: 2, seed: SEED, endpointBase: `http://${app}.example/sdata/${app}/crm/-`, payloadBytes: PAYLOAD_BYTES });
    }
    s = await startProvider({ db: join(dir, 's.db'), pageSize: 1 });
    t = await startProvider({ db: join(dir, 't.db'), pageSize: 1 });
  });
  after(async () => {
    await s.close();
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('compares them, each side on its own thread, in the heap the bin gives verify (exit 0)', async () => {
    // The test means something only while the payloads are near the cap (not over it: they would not be compared).
    const bytes = Buffer.byteLength(seedResource(0, SEED, C, 'account', PAYLOAD_BYTES).payload);
    assert.ok(bytes > 0.9 * DEFAULT_MAX_ENTRY_BYTES && bytes < 0.99 * DEFAULT_MAX_ENTRY_BYTES, `${bytes} bytes`);
    const r = await runCli(['verify', '--source', s.url, '--target', t.url, '--kind', 'accounts', '--log-format', 'text', '--temp-dir', dir, ...BOUNDS]);
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    assert.match(r.stderr, /verify accounts: the target holds the same data as the source/);
    assert.match(r.stderr, /source +2 entries: 2 resources, 0 tombstones/);
  });

  it('a cap its heap cannot hold is refused up front, with the heap it needs (exit 2), not a crash midway', async () => {
    // --threads 1 holds an entry of each side on one heap: the default cap needs twice the room.
    const one = await runCli(['verify', '--source', s.url, '--target', t.url, '--kind', 'accounts', '--threads', '1', ...BOUNDS]);
    assert.equal(one.code, 2, one.stderr);
    assert.match(one.stderr, /verify --threads 1 \(both sides on one heap\), --max-entry-bytes 16777216: entries that large need about \d+ MiB of heap .* node --max-old-space-size=\d+ .*; or lower --max-entry-bytes/);
    assert.doesNotMatch(one.stderr, /\n\s+at /);
    const two = await runCli(['verify', '--source', s.url, '--target', t.url, '--kind', 'accounts', '--max-entry-bytes', '32MiB', ...BOUNDS]);
    assert.equal(two.code, 2, two.stderr);
    assert.match(two.stderr, /verify, --max-entry-bytes 33554432: entries that large need about \d+ MiB of heap/);
    // Far above the pipe commands' own bound too: the heap asked for is verify's (10 bytes of heap per byte of cap), so
    // that following the advice gets past the check.
    const big = await runCli(['verify', '--source', s.url, '--target', t.url, '--kind', 'accounts', '--max-entry-bytes', '64MiB', ...BOUNDS]);
    assert.equal(big.code, 2, big.stderr);
    const asked = /verify, --max-entry-bytes 67108864: entries that large need about (\d+) MiB of heap .* node --max-old-space-size=(\d+) /.exec(big.stderr);
    assert.ok(asked, big.stderr);
    assert.ok(Number(asked[1]) >= 640 && asked[1] === asked[2], big.stderr);
  });
});

describe('the canonical form of a payload of many pieces', () => {
  // 6000 references: far more output pieces than payloadDigest joins before hashing (it hashes them one by one).
  const notes = Array.from({ length: 6000 }, (_, i) => `caf&#233; n${i} &#x1F600; a&gt;b`).join(' ');
  const xml = `<account xmlns="${C}" xmlns:sdata="${NS.sdata}" sdata:uuid="00000000-0000-4000-8000-000000000001"><notes>${notes}</notes></account>`;
  const sha = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64');

  it('has the digest of its canonical XML, read as characters and as UTF-8 bytes', () => {
    const canonical = canonicalXml(fragmentPayload(xml));
    assert.match(canonical, /<notes>café n0 😀 a&gt;b café n1 /);
    assert.equal(payloadDigest(fragmentPayload(xml)), sha(canonical));
    const asBytes = { ...fragmentPayload(Buffer.from(xml, 'utf8').toString('latin1')), bytes: true };
    assert.equal(canonicalXml(asBytes), canonical);
    assert.equal(payloadDigest(asBytes), sha(canonical));
  });
});
