// Hostile request bodies against `serve` as users run it (the bin, its provider thread with bounded heap): each
// $syncTarget POST of a test/helpers/hostile.ts input is answered 400 or 413 with an sdata:diagnosis naming the
// limit and its flag (an entry over the cap: that one entry fails, the others apply), before the body has been sent
// (the rest is not read for long), and the provider stays up: the next request works. Its peak RSS is measured
// over all of them. The bodies are generated as they are sent, far past the limits they cross.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawnMeasured, type MeasuredChild } from '../helpers/cli.ts';
import { HOSTILE, plainFeed, postStream, RSS_BOUND_KIB } from '../helpers/hostile.ts';
import { until } from '../helpers/until.ts';
import { diagnosisMessage, get, post, provider, testDir, type TestDir } from './helpers.ts';

describe('serve refuses hostile request bodies and stays up, in bounded memory', () => {
  let dir: TestDir;
  let server: MeasuredChild;
  let base = '';
  before(async () => {
    dir = testDir();
    server = spawnMeasured(['serve', '--db', dir.db('hostile'), '--port', '0', '--app', 'hub', '--kinds', 'accounts']);
    await until(() => server.output().stdout.includes('accounts'), { what: () => `serve to start (${JSON.stringify(server.output())})`, everyMs: 25 });
    base = server.output().stdout.split('\n')[0]!;
  });
  after(() => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    dir.cleanup();
  });

  let n = 10;
  const normalRequestWorks = async (): Promise<void> => {
    const ok = await post(`${base}/accounts/$syncTarget`, plainFeed(++n));
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.text, /httpStatus>201</);
  };

  for (const h of HOSTILE.filter((x) => x.flags === undefined)) {
    it(`$syncTarget POST: ${h.name}`, async () => {
      const r = await postStream(`${base}/accounts/$syncTarget`, h.feed(1));
      if (h.exit === 0) {
        // The entry over the cap fails alone (as any invalid entry), the others apply.
        assert.equal(r.status, 200, r.text);
        assert.match(r.text, /entry is larger than the 16777216-byte limit/);
        // (Entry 1 may have come before, in a body refused after it: applied again, it is ignored.)
        assert.equal((r.text.match(/httpStatus>400</g) ?? []).length, 1);
        assert.equal((r.text.match(/httpStatus>20\d</g) ?? []).length, 2);
      } else {
        assert.equal(r.status, 400, r.text);
        assert.match(diagnosisMessage(r.text), h.message);
      }
      await normalRequestWorks();
    });
  }

  it('a digest over the size of any digest is 413, and the provider goes on', async () => {
    const r = await postStream(`${base}/accounts/$syncDigest`, (function* () {
      yield Buffer.from('<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1">');
      for (let i = 0; i < 64; i++) yield Buffer.alloc(128 * 1024, ' ');
    })());
    assert.equal(r.status, 413, r.text);
    assert.match(diagnosisMessage(r.text), /exceeds this provider's limit of 4194304 bytes \(a digest document is at most 4194304 bytes\)/);
    assert.equal((await get(`${base}/accounts/$syncDigest`)).status, 200);
  });

  it('its peak RSS stays bounded through all of them', async () => {
    await normalRequestWorks();
    server.child.kill('SIGTERM');
    const r = await server.done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.maxRssKiB < RSS_BOUND_KIB, `peak RSS ${r.maxRssKiB} KiB`);
  });
});

describe('the provider takes its limits from its options (serve flags)', () => {
  let dir: TestDir;
  before(() => {
    dir = testDir();
  });
  after(() => dir.cleanup());

  it('--max-depth and --max-entry-bytes: posted feeds and one-entry bodies', async () => {
    const p = await provider(dir, 'limits', { limits: { maxDepth: 10 }, maxEntryBytes: 100_000 });
    try {
      const nest = (n: number): string => '<d>'.repeat(n) + '</d>'.repeat(n);
      const feed = (body: string): string => plainFeed(1).replace('<name>n1</name>', body);
      // feed, entry, payload, account: 6 more levels are 10.
      assert.equal((await post(`${p.url}/accounts/$syncTarget`, feed(nest(6)))).status, 200);
      const deep = await post(`${p.url}/accounts/$syncTarget`, feed(nest(7)));
      assert.equal(deep.status, 400);
      assert.match(diagnosisMessage(deep.text), /nested 11 deep exceeds the limit of 10 levels \(raise it with --max-depth\)/);
      const entry = (body: string): string => `<entry xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:payload><account xmlns="urn:c">${body}</account></sdata:payload></entry>`;
      assert.equal((await post(`${p.url}/accounts`, entry(nest(5)))).status, 201);
      assert.equal((await post(`${p.url}/accounts`, entry(nest(7)))).status, 400);
      const big = await post(`${p.url}/accounts`, entry(`<n>${'x'.repeat(200_000)}</n>`));
      assert.equal(big.status, 413);
      assert.match(diagnosisMessage(big.text), /one entry: --max-entry-bytes 100000/);
    } finally {
      await p.close();
    }
  });
});
