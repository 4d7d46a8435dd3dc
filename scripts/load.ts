// Load on one `sdata-sync serve` (issue 13 point 7): CLIENTS concurrent clients over loopback for SECONDS, each a
// keep-alive connection running a mix of what hubs see: digest reads, CRUD (GET, POST, PUT with If-Match, DELETE),
// small $syncTarget pages (async: POST, poll, GET results, DELETE), synchronous $batch, collection pages. Half the
// clients authenticate with a Bearer token, half with a Basic user (scrypt, then the server's cache).
//
// ./node_modules/.bin/node scripts/load.ts [--seconds 30] [--clients 64] [--max-concurrent N] [--seed-count 2000] [--json]
//
// The server is a child process started with the bin's V8 flags (bench/bin-flags.ts), as users run it. Prints
// requests/s, p50/p99 latency per operation, errors (any answer other than the expected one; must be 0), the 503s
// of the concurrency limit (counted apart, retried after Retry-After like the engine does) and the server's peak
// RSS (VmHWM from /proc/PID/status). Exit 1 if there were errors or the peak RSS exceeded 200 MB. Last line: JSON.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { BIN, binFlags } from '../bench/bin-flags.ts';
import { Rng } from '../src/gen/rng.ts';
import { NS } from '../src/protocol/namespaces.ts';
import { hashPassword } from '../src/provider/http/password-hash.ts';
import { seedStore } from '../src/seeder/seed-store.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    clients: { type: 'string', default: '64' },
    'max-concurrent': { type: 'string' },
    'seed-count': { type: 'string', default: '2000' },
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const CLIENTS = Number(values.clients);
const SEEDED = Number(values['seed-count']);
const RSS_BAR_MB = 200;
const TOKEN = 'load-token-0123456789abcdef';
const USER = 'load';
const PASSWORD = 'load password';

type Op = 'digest' | 'get' | 'list' | 'create' | 'update' | 'delete' | 'syncTarget POST' | 'syncTarget poll' | 'syncTarget results' | 'syncTarget DELETE' | 'batch';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const latencies = new Map<Op, number[]>();
let requests = 0;
let busy503 = 0;
const errors: string[] = [];
let errorCount = 0;

function fail(what: string): void {
  errorCount++;
  if (errors.length < 10) errors.push(what);
}

const dir = mkdtempSync(join(tmpdir(), 'sdata-load-'));
const db = join(dir, 'hub.db');
await seedStore({ db, app: 'hub', contract: 'crm', kind: 'accounts', count: SEEDED });
const usersFile = join(dir, 'users');
writeFileSync(usersFile, `${USER}:${hashPassword(PASSWORD)}\n`);

const child = spawn(process.execPath, [...binFlags(), BIN, 'serve', '--db', db, '--port', '0', '--kinds', 'accounts',
  ...(values['max-concurrent'] ? ['--max-concurrent', values['max-concurrent']] : [])],
{ stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SDATA_SERVE_TOKEN: TOKEN, SDATA_SERVE_USERS_FILE: usersFile } });
let out = '';
let serverErr = '';
child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
child.stderr.setEncoding('utf8').on('data', (d: string) => (serverErr += d));
const exited = once(child, 'close');
for (let i = 0; i < 400 && !out.includes('\n') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 25));
const base = out.split('\n')[0]!.trim();
if (!base.startsWith('http')) throw new Error(`serve did not start: ${serverErr}`);
const origin = new URL(base).origin;
const prefix = new URL(base).pathname;
const pool = new Pool(origin, { connections: CLIENTS, pipelining: 1, keepAliveTimeout: 30_000 });

async function call(op: Op, auth: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  for (;;) {
    const t0 = performance.now();
    requests++;
    const res = await pool.request({ method, path: path.startsWith('/') ? path : `${prefix}/${path}`, headers: { authorization: auth, ...headers }, body: body ?? null });
    const text = await res.body.text();
    if (res.statusCode === 503) {
      // The concurrency limit: counted apart, retried after Retry-After (as the engine's retry loop does).
      busy503++;
      const after = Number(res.headers['retry-after'] ?? 1);
      await new Promise((r) => setTimeout(r, Math.min(1000, after * 1000) * (0.5 + Math.random() / 2)));
      continue;
    }
    let l = latencies.get(op);
    if (!l) latencies.set(op, (l = []));
    l.push(performance.now() - t0);
    return { status: res.statusCode, headers: res.headers, text };
  }
}

function expect(op: string, a: Answer, ...statuses: number[]): boolean {
  if (statuses.includes(a.status)) return true;
  fail(`${op}: HTTP ${a.status}: ${a.text.slice(0, 200)}`);
  return false;
}

const entry = (uuid: string, name: string): string =>
  `<entry xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}"><sdata:payload><account xmlns="urn:load" sdata:uuid="${uuid}"><name>${name}</name><city>Zürich</city></account></sdata:payload></entry>`;

function syncPage(endpoint: string, firstTick: number, n: number, rng: Rng): string {
  let x = `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:sync="${NS.sync}"><id>urn:load</id><title>load</title><updated>2020-01-01T00:00:00Z</updated>`;
  x += `<sync:syncMode>catchUp</sync:syncMode><sync:digest><sync:origin>${endpoint}</sync:origin><sync:digestEntry><sync:endpoint>${endpoint}</sync:endpoint>`;
  x += `<sync:tick>${firstTick + n}</sync:tick><sync:stamp>2020-01-01T00:00:00Z</sync:stamp><sync:conflictPriority>5</sync:conflictPriority></sync:digestEntry></sync:digest>`;
  for (let i = 0; i < n; i++) {
    x += `<entry><id>urn:e:${firstTick + i}</id><title>e</title><updated>2020-01-01T00:00:00Z</updated><sync:syncState><sync:endpoint>${endpoint}</sync:endpoint>`;
    x += `<sync:tick>${firstTick + i}</sync:tick><sync:stamp>2020-01-01T00:00:00Z</sync:stamp></sync:syncState>`;
    x += `<sdata:payload><account xmlns="urn:load" sdata:uuid="${uuidOf(rng)}"><name>synced ${firstTick + i}</name></account></sdata:payload></entry>`;
  }
  return `${x}</feed>`;
}

function uuidOf(rng: Rng): string {
  const h = (): string => rng.next().toString(16).padStart(8, '0');
  const a = h() + h() + h() + h();
  return `${a.slice(0, 8)}-${a.slice(8, 12)}-4${a.slice(13, 16)}-8${a.slice(17, 20)}-${a.slice(20, 32)}`;
}

const keyOf = (location: string | string[] | undefined): string | undefined => /\('(\d+)'\)$/.exec(String(location ?? ''))?.[1];

async function client(c: number, deadline: number): Promise<void> {
  const rng = new Rng(1000 + c);
  const auth = c % 2 === 0 ? `Bearer ${TOKEN}` : `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const endpoint = `http://load-${c}.example/sdata/app/c/-/accounts`;
  let tick = 1;
  // Resources this client created: it alone updates and deletes them, so a 412 is an error, not a race.
  const mine: Array<{ key: string; etag: string }> = [];
  while (performance.now() < deadline) {
    const roll = rng.int(100);
    try {
      if (roll < 20) {
        expect('digest', await call('digest', auth, 'GET', 'accounts/$syncDigest'), 200);
      } else if (roll < 42) {
        expect('get', await call('get', auth, 'GET', `accounts('${1 + rng.int(SEEDED)}')`), 200);
      } else if (roll < 47) {
        expect('list', await call('list', auth, 'GET', `accounts?count=20&startIndex=1&after=${rng.int(SEEDED)}`), 200);
      } else if (roll < 57 || (roll < 72 && mine.length === 0)) {
        const r = await call('create', auth, 'POST', 'accounts', entry(uuidOf(rng), `created by ${c}`), { 'content-type': 'application/atom+xml; type=entry' });
        const key = keyOf(r.headers['location']);
        if (expect('create', r, 201) && key) mine.push({ key, etag: String(r.headers['etag']) });
      } else if (roll < 67) {
        const m = mine[rng.int(mine.length)]!;
        const r = await call('update', auth, 'PUT', `accounts('${m.key}')`, entry('', `updated by ${c}`), { 'content-type': 'application/atom+xml; type=entry', 'if-match': m.etag });
        if (expect('update', r, 200)) m.etag = String(r.headers['etag']);
      } else if (roll < 72) {
        const m = mine.splice(rng.int(mine.length), 1)[0]!;
        expect('delete', await call('delete', auth, 'DELETE', `accounts('${m.key}')`, undefined, { 'if-match': m.etag }), 200);
      } else if (roll < 88) {
        const n = 5 + rng.int(16);
        const posted = await call('syncTarget POST', auth, 'POST', `accounts/$syncTarget?trackingID=${uuidOf(rng)}`, syncPage(endpoint, tick, n, rng), { 'content-type': 'application/atom+xml; type=feed' });
        tick += n;
        if (!expect('syncTarget POST', posted, 202)) continue;
        const loc = new URL(String(posted.headers['location'])).pathname;
        let results = await call('syncTarget poll', auth, 'GET', loc);
        while (results.status === 202) results = await call('syncTarget poll', auth, 'GET', loc);
        if (expect('syncTarget poll', results, 200)) {
          const again = await call('syncTarget results', auth, 'GET', `${loc}?startIndex=1&count=${n}`);
          if (expect('syncTarget results', again, 200) && (again.text.match(/<entry>/g)?.length ?? 0) !== n) fail(`syncTarget results: expected ${n} entries`);
        }
        expect('syncTarget DELETE', await call('syncTarget DELETE', auth, 'DELETE', loc), 200);
      } else {
        const feed = `<feed xmlns="${NS.atom}" xmlns:sdata="${NS.sdata}" xmlns:http="${NS.http}"><id>urn:b</id><title/><updated>2020-01-01T00:00:00Z</updated>` +
          [0, 1, 2].map(() => `<entry><id/><http:httpMethod>POST</http:httpMethod><sdata:payload><account xmlns="urn:load" sdata:uuid="${uuidOf(rng)}"><name>batch</name></account></sdata:payload></entry>`).join('') +
          '</feed>';
        const r = await call('batch', auth, 'POST', 'accounts/$batch', feed, { 'content-type': 'application/atom+xml; type=feed' });
        if (expect('batch', r, 200) && (r.text.match(/<http:httpStatus>201</g)?.length ?? 0) !== 3) fail(`batch: expected 3 creations: ${r.text.slice(0, 300)}`);
      }
    } catch (e) {
      fail(`client ${c}: ${(e as Error).message}`);
    }
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c, started + SECONDS * 1000)));
const elapsed = (performance.now() - started) / 1000;
const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
await pool.close();
child.kill('SIGTERM');
await exited;
rmSync(dir, { recursive: true, force: true });

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const ops = Object.fromEntries([...latencies].sort(([a], [b]) => a.localeCompare(b)).map(([op, xs]) => [op, { count: xs.length, p50Ms: +pct(xs, 50).toFixed(2), p99Ms: +pct(xs, 99).toFixed(2) }]));
const peakMiB = peakKiB / 1024;
const summary = {
  seconds: +elapsed.toFixed(1), clients: CLIENTS, requests, requestsPerSecond: Math.round(requests / elapsed), errors: errorCount,
  busy503, peakRssMiB: +peakMiB.toFixed(1), peakRssMB: +((peakKiB * 1024) / 1e6).toFixed(1), ops,
};
if (!values.json) {
  process.stdout.write(`${CLIENTS} clients, ${summary.seconds} s: ${requests} requests, ${summary.requestsPerSecond} requests/s, ${errorCount} errors, ${busy503} 503s (concurrency limit), server peak RSS ${summary.peakRssMiB} MiB\n`);
  process.stdout.write(`${'operation'.padEnd(20)}${'count'.padStart(8)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}\n`);
  for (const [op, o] of Object.entries(ops)) process.stdout.write(`${op.padEnd(20)}${String(o.count).padStart(8)}${o.p50Ms.toFixed(2).padStart(10)}${o.p99Ms.toFixed(2).padStart(10)}\n`);
  for (const e of errors) process.stdout.write(`error: ${e}\n`);
}
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exitCode = errorCount > 0 || summary.peakRssMB > RSS_BAR_MB ? 1 : 0;
