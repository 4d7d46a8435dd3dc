import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { AsyncOperation } from '../../src/http/async-op.ts';
import { HttpClient } from '../../src/http/client.ts';
import { ContextJournal, defaultStateDir, hostTag, readJournal, type JournalEntry } from '../../src/engine/journal.ts';
import { deleteLeftovers, type LeftoverSide } from '../../src/engine/leftover-contexts.ts';
import { Logger } from '../../src/engine/log.ts';

/**
 * The journal of open contexts (src/engine/journal.ts) and what the next run does with a dead run's
 * (src/engine/leftover-contexts.ts): against a real provider-like server on 127.0.0.1 and real files.
 */

/** A provider stand-in: contexts by trackingID; DELETE answers as scripted (200 by default). */
function provider() {
  const seen: string[] = [];
  /** trackingID → whether a context exists for it. */
  const contexts = new Set<string>();
  const deleteStatus = new Map<string, number>();
  const postStatus = new Map<string, number>();
  let drop = false;
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = decodeURIComponent(req.url!);
      const body = Buffer.concat(chunks);
      seen.push(`${req.method} ${url}${req.method === 'POST' ? ` (${body.length} bytes)` : ''}`);
      if (drop) {
        req.socket.destroy();
        return;
      }
      const ctx = /\('([^']+)'\)$/.exec(url)?.[1];
      if (req.method === 'DELETE' && ctx) {
        const status = deleteStatus.get(ctx) ?? (contexts.delete(ctx) ? 200 : 410);
        res.writeHead(status).end();
        return;
      }
      const tracking = /trackingID=([^&]+)/.exec(url)?.[1];
      if (req.method === 'POST' && tracking && postStatus.has(tracking)) {
        res.writeHead(postStatus.get(tracking)!).end();
        return;
      }
      if (req.method === 'POST' && tracking) {
        // A known trackingID answers with its context whatever the body (core 11.6); a new one needs a feed.
        if (body.length === 0 && !contexts.has(tracking)) {
          res.writeHead(400).end('empty document');
          return;
        }
        contexts.add(tracking);
        res.writeHead(202, { location: `${base()}/c/$syncTarget('${tracking}')`, 'content-type': 'application/xml' }).end();
        return;
      }
      if (req.method === 'GET' && ctx) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('results');
        return;
      }
      res.writeHead(404).end();
    });
  });
  const base = (): string => `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return { srv, seen, contexts, deleteStatus, postStatus, base, setDrop: (d: boolean) => void (drop = d) };
}

const p = provider();
let dir = '';
const lines: string[] = [];
const log = new Logger('debug', 'text', (l) => void lines.push(l));
const client = new HttpClient({ retry: { retries: 0, baseMs: 1, maxMs: 1, maxRetryAfterMs: 1 } });

before(async () => {
  await new Promise<void>((r) => p.srv.listen(0, '127.0.0.1', r));
});
after(async () => {
  await client.close();
  await new Promise<void>((r) => p.srv.close(() => r()));
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sdata-journal-'));
  lines.length = 0;
  p.seen.length = 0;
  p.deleteStatus.clear();
  p.postStatus.clear();
  p.setDrop(false);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const journal = (o: { pid?: number; host?: string } = {}): ContextJournal => ContextJournal.create({ stateDir: dir, runStamp: '2024-01-01T00:00:00Z', log, ...o })!;
const files = (): string[] => readdirSync(join(dir, 'contexts')).sort();
const target = (): LeftoverSide[] => [{ side: 'target', url: `${p.base()}/c`, client }];
const ctxUrl = (id: string): string => `${p.base()}/c/$syncTarget('${id}')`;
const postUrl = (id: string): string => `${p.base()}/c/$syncTarget?runName=r&trackingID=${id}`;

/** The PID of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => c.once('close', r));
  return c.pid!;
}

describe('the journal of open contexts', () => {
  it('writes a context down when its 202 comes, crosses it out once DELETEd, and goes when the run ends with none open', async () => {
    const j = journal();
    p.contexts.add('t1');
    const op = new AsyncOperation(client, { url: `${p.base()}/c/$syncTarget?runName=r`, trackingId: 't1', body: () => 'feed', contentType: 'text/xml', contexts: j.recorder('target') });
    await (await op.start()).body.dump();
    assert.deepEqual(readJournal(j.file).open, [{ side: 'target', url: ctxUrl('t1'), post: undefined, at: readJournal(j.file).open[0]!.at }]);
    assert.equal(j.openCount, 1);
    assert.equal(await op.delete(), 'deleted');
    assert.deepEqual(readJournal(j.file).open, []);
    assert.equal(j.close(), 0);
    assert.deepEqual(files(), []);
  });

  it('a POST recorded before it is sent stays recorded when no answer comes; its Location replaces it once a 202 names it', async () => {
    const j = journal();
    p.setDrop(true);
    const lost = new AsyncOperation(client, { url: `${p.base()}/c/$syncTarget?runName=r`, trackingId: 'lost', body: () => 'feed', contentType: 'text/xml', contexts: j.recorder('target'), recordPost: true });
    await assert.rejects(lost.start());
    assert.equal(await lost.delete(), 'skipped');
    p.setDrop(false);
    const ok = new AsyncOperation(client, { url: `${p.base()}/c/$syncTarget?runName=r`, trackingId: 'ok', body: () => 'feed', contentType: 'text/xml', contexts: j.recorder('target'), recordPost: true });
    await (await ok.start()).body.dump();
    const open = readJournal(j.file).open.map((e) => [e.post, e.url]);
    assert.deepEqual(open, [[postUrl('lost'), undefined], [undefined, ctxUrl('ok')]]);
    assert.equal(j.close(), 2);
    assert.equal(files().length, 1, 'kept for the next run');
    assert.match(lines.join(''), /2 contexts could not be deleted now: .+ keeps them for the next run to delete/);
  });

  it('stays small: rewritten with only the open contexts every 512 lines', () => {
    const j = journal();
    const rec = j.recorder('source');
    const kept = rec.opened('http://a.example/ctx-kept');
    for (let i = 0; i < 1500; i++) rec.closed(rec.opened(`http://a.example/ctx-${i}`));
    const text = readFileSync(j.file, 'utf8').trim().split('\n');
    assert.ok(text.length <= 513, `${text.length} lines`);
    assert.deepEqual(readJournal(j.file).open.map((e) => e.url), ['http://a.example/ctx-kept']);
    rec.closed(kept);
    assert.equal(j.close(), 0);
    assert.deepEqual(files(), []);
  });

  it('reads a journal whose last line a kill tore: the whole lines count, the torn one does not', () => {
    const j = journal();
    j.recorder('target').opened('http://a.example/ctx-1');
    appendFileSync(j.file, '{"n":2,"side":"target","url":"http://a.exa');
    const r = readJournal(j.file);
    assert.deepEqual(r.open.map((e) => e.url), ['http://a.example/ctx-1']);
    assert.equal(r.torn, 1);
    j.close();
  });

  it('is off, with one warning, where the state directory cannot be made', () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, '');
    assert.equal(ContextJournal.create({ stateDir: file, runStamp: 'x', log }), undefined);
    assert.match(lines.join(''), /warning: state dir .+not-a-dir: cannot keep the journal of open contexts there \(ENOTDIR\)/);
  });

  it('lives in $XDG_STATE_HOME/sdata-sync, else ~/.local/state/sdata-sync (a relative XDG_STATE_HOME is ignored)', () => {
    assert.equal(defaultStateDir({ XDG_STATE_HOME: '/data/state' }), '/data/state/sdata-sync');
    assert.match(defaultStateDir({ XDG_STATE_HOME: 'rel' }), /\/\.local\/state\/sdata-sync$/);
    assert.match(defaultStateDir({}), /\/\.local\/state\/sdata-sync$/);
  });
});

describe('the next run and the contexts a dead run left open', () => {
  /** A journal "of" a dead process of this host that left these entries open. */
  async function deadRun(entries: Array<Omit<JournalEntry, 'at'>>): Promise<string> {
    const j = journal({ pid: await deadPid() });
    for (const e of entries) {
      const rec = j.recorder(e.side);
      if (e.url && e.post) rec.located(rec.posting(e.post), e.url);
      else if (e.url) rec.opened(e.url);
      else rec.posting(e.post!);
    }
    j.close();
    return j.file;
  }

  it('DELETEs them by Location, or finds a context whose 202 never came by its trackingID (an empty-body POST), then removes the journal', async () => {
    p.contexts.add('done-1');
    p.contexts.add('applied-no-202');
    const dead = await deadRun([
      { side: 'target', url: ctxUrl('done-1') },
      { side: 'target', post: postUrl('applied-no-202') },
      { side: 'target', post: postUrl('never-arrived') },
    ]);
    const me = journal();
    const r = await deleteLeftovers(me, target(), log);
    assert.deepEqual({ ...r }, { runs: 1, deleted: 2, gone: 0, unknown: 1, failed: 0, kept: 0, expired: 0 });
    assert.deepEqual(p.seen.sort(), [
      `DELETE /c/$syncTarget('applied-no-202')`,
      `DELETE /c/$syncTarget('done-1')`,
      `POST /c/$syncTarget?runName=r&trackingID=applied-no-202 (0 bytes)`,
      `POST /c/$syncTarget?runName=r&trackingID=never-arrived (0 bytes)`,
    ]);
    assert.equal(existsSync(dead), false);
    assert.equal(me.openCount, 0);
    assert.match(lines.join(''), /contexts left open by 1 earlier run \(.+\): 2 deleted, 1 gone already\n/);
    assert.equal(me.close(), 0);
    assert.deepEqual(files(), []);
  });

  it('leaves a live run\'s journal alone (two runs at once), and takes a dead one\'s', async () => {
    p.contexts.add('live-1');
    p.contexts.add('dead-1');
    const live = journal(); // this process: alive
    live.recorder('target').opened(ctxUrl('live-1'));
    const dead = await deadRun([{ side: 'target', url: ctxUrl('dead-1') }]);
    const me = journal();
    const r = await deleteLeftovers(me, target(), log);
    assert.equal(r.deleted, 1);
    assert.deepEqual(p.seen, [`DELETE /c/$syncTarget('dead-1')`]);
    assert.ok(existsSync(live.file));
    assert.equal(existsSync(dead), false);
    assert.deepEqual(readJournal(live.file).open.map((e) => e.url), [ctxUrl('live-1')]);
    me.close();
    live.close();
  });

  it('on another host sharing the directory, a run is taken for dead only after two minutes without a heartbeat', async () => {
    p.contexts.add('far-1');
    const far = journal({ host: hostTag() === 'ffffffff' ? 'eeeeeeee' : 'ffffffff' });
    far.recorder('target').opened(ctxUrl('far-1'));
    far.close();
    const me = journal();
    const t = Date.now() / 1000;
    utimesSync(far.file, t - 60, t - 60);
    assert.equal((await deleteLeftovers(me, target(), log)).runs, 0);
    assert.deepEqual(p.seen, []);
    utimesSync(far.file, t - 180, t - 180);
    assert.equal((await deleteLeftovers(me, target(), log)).deleted, 1);
    assert.deepEqual(p.seen, [`DELETE /c/$syncTarget('far-1')`]);
    me.close();
  });

  it('keeps what it cannot do now for a later run: another provider\'s or side\'s contexts, a DELETE that fails, a POST not let in; drops a day-old one', async () => {
    p.contexts.add('fails');
    p.deleteStatus.set('fails', 503);
    p.postStatus.set('unauthorized', 401);
    const dead = await deadRun([
      { side: 'target', url: 'http://other.example/c/$syncTarget(\'x\')' },
      { side: 'source', url: `${p.base()}/c/$syncSource('s')` },
      { side: 'target', url: ctxUrl('fails') },
      { side: 'target', post: postUrl('unauthorized') },
    ]);
    // A day-old entry, as an old journal holds it.
    appendFileSync(dead, `${JSON.stringify({ n: 9, side: 'target', url: ctxUrl('old'), at: Date.now() - 25 * 3_600_000 })}\n`);
    const me = journal();
    const r = await deleteLeftovers(me, target(), log);
    assert.deepEqual({ ...r }, { runs: 1, deleted: 0, gone: 0, unknown: 0, failed: 2, kept: 2, expired: 1 });
    assert.equal(me.openCount, 4);
    assert.equal(me.close(), 4);
    // The next run, after this one is gone, has them all again (this run's journal is "dead" from its point of view).
    const left = readJournal(join(dir, 'contexts', files()[0]!)).open.map((e) => e.url ?? e.post).sort();
    assert.deepEqual(left, ['http://other.example/c/$syncTarget(\'x\')', `${p.base()}/c/$syncSource('s')`, ctxUrl('fails'), postUrl('unauthorized')].sort());
  });

  it('begins no DELETE after its time budget: the rest waits for a later run', async () => {
    for (const id of ['b1', 'b2', 'b3']) p.contexts.add(id);
    await deadRun([{ side: 'target', url: ctxUrl('b1') }, { side: 'target', url: ctxUrl('b2') }, { side: 'target', url: ctxUrl('b3') }]);
    const me = journal();
    let t = 0;
    // Each look at the clock moves it on a second: the 2 s budget lets one DELETE begin per worker at most.
    const r = await deleteLeftovers(me, target(), log, { budgetMs: 2_000, concurrency: 1, now: () => (t += 1_000) });
    assert.equal(r.deleted + r.kept, 3);
    assert.ok(r.kept >= 1 && r.deleted >= 1, JSON.stringify(r));
    assert.equal(me.openCount, r.kept);
    me.close();
  });

  it('is found by the next run in the same directory whatever its name: a claimed file of a run that died mid-claim too', async () => {
    p.contexts.add('claimed-1');
    const dead = await deadRun([]);
    // A run that died after claiming a journal, before moving its entries into its own.
    const claimed = dead.replace(/\.jsonl$/, '.claim-1.jsonl');
    writeFileSync(claimed, `${JSON.stringify({ n: 1, side: 'target', url: ctxUrl('claimed-1'), at: Date.now() })}\n`);
    const me = journal();
    const r = await deleteLeftovers(me, target(), log);
    assert.equal(r.deleted, 1);
    assert.equal(existsSync(claimed), false);
    me.close();
    assert.deepEqual(files(), []);
  });
});
