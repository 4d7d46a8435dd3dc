// The storage anchor of the end-to-end bars (issue 15): bare node:sqlite inserting N rows shaped like the seeded
// ~1 KB resources into a fresh database in DIR — what the target's filesystem and SQLite can do with nothing of ours
// in the way. The bars compare our processes with this, measured in the same run, on the same filesystem.
//
// The anchor, exactly: table `resources(id INTEGER PRIMARY KEY, kind, uuid TEXT, deleted, ep, tick TEXT, stamp, user,
// payload TEXT)` with a UNIQUE index on (kind, uuid) — random v4 uuids as 36-character text —, WAL,
// synchronous=NORMAL, SQLite's default page cache and autocheckpoint, 250 rows per transaction and one digest upsert
// per transaction. Payloads are drawn from a pool of 4096 seeded resources (src/seeder/seed-store.ts, the same
// sizes and bytes as the stores the benches sync), so generating them costs the anchor next to nothing.
//
// node bench/anchor.ts --dir DIR [--count 1000000] [--tx 250]
// One JSON line on stdout: { count, seconds, cpuSeconds, maxRssMiB, writeBytes, dbBytes }. writeBytes is what the
// process had the kernel write to storage (/proc/self/io: WAL, checkpoints, database file).
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { seedResource } from '../src/seeder/seed-store.ts';

const { values } = parseArgs({ options: { dir: { type: 'string' }, count: { type: 'string', default: '1000000' }, tx: { type: 'string', default: '250' } } });
if (values.dir === undefined) throw new Error('anchor: --dir DIR is required');
const count = Number(values.count);
const perTx = Number(values.tx);
const file = join(values.dir, `anchor-${process.pid}.db`);

/** Bytes this process has had written to storage so far. */
function writeBytes(): number {
  try {
    return Number(/write_bytes: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const pool: string[] = [];
for (let i = 0; i < 4096; i++) pool.push(seedResource(i).payload);
const tickKey = (t: number): string => {
  const s = String(t);
  return `${String(s.length).padStart(2, '0')}:${s}`;
};

const cpu0 = process.cpuUsage();
const w0 = writeBytes();
const t0 = performance.now();
const db = new DatabaseSync(file);
db.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL');
db.exec(`CREATE TABLE resources(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, uuid TEXT NOT NULL, deleted INTEGER NOT NULL, ep INTEGER NOT NULL,
  tick TEXT NOT NULL, stamp TEXT NOT NULL, user TEXT, payload TEXT NOT NULL);
  CREATE UNIQUE INDEX resources_uuid ON resources(kind, uuid);
  CREATE TABLE digest(kind INTEGER NOT NULL, ep INTEGER NOT NULL, tick TEXT NOT NULL, stamp TEXT NOT NULL, prio INTEGER NOT NULL, PRIMARY KEY(kind, ep)) WITHOUT ROWID;`);
const ins = db.prepare('INSERT INTO resources(kind, uuid, deleted, ep, tick, stamp, user, payload) VALUES(1, ?, 0, 2, ?, ?, NULL, ?)');
const dig = db.prepare('INSERT INTO digest(kind, ep, tick, stamp, prio) VALUES(1, 2, ?, ?, 5) ON CONFLICT(kind, ep) DO UPDATE SET tick = excluded.tick, stamp = excluded.stamp');
for (let i = 0; i < count;) {
  const end = Math.min(count, i + perTx);
  const stamp = new Date().toISOString();
  db.exec('BEGIN IMMEDIATE');
  for (; i < end; i++) ins.run(randomUUID(), tickKey(i + 1), stamp, pool[i & 4095]!);
  dig.run(tickKey(end + 1), stamp);
  db.exec('COMMIT');
}
db.close();
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const dbBytes = statSync(file).size;
const written = writeBytes() - w0;
for (const x of ['', '-wal', '-shm']) rmSync(file + x, { force: true });
process.stdout.write(`${JSON.stringify({
  count, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMiB: process.resourceUsage().maxRSS / 1024, writeBytes: written, dbBytes,
})}\n`);
