// Crash convergence (issue 13): kill points in a real pass between two `sdata-sync serve` processes, each behind a
// loopback proxy that counts bytes (test/harness). The engine is SIGKILLed at --points random moments of a pass
// (seeded; by bytes through the proxies or by time) and rerun; killed --in-a-row times in successive passes, then
// rerun; the target SIGKILLed mid-chunk and the source mid-pass, each restarted (while the engine retries, and after
// it gave up); the engine SIGTERMed at start-up (as it loads the command, and up to 50 ms after), while the source
// selects, and mid-chunk (exit 130, contexts released). After every kill both stores pass PRAGMA integrity_check;
// every case must converge (the target's $checksum equals the source's). Prints per case the exits, time, retries,
// the engine's peak RSS (sampled from /proc) and the contexts left open on both providers. `npm test` runs a short
// version (test/reliability/crash.test.ts).
//
// Usage: node scripts/crash-converge.ts [--points 50] [--entries 3000] [--page-size 200] [--chunk-entries 250]
//                                       [--seed 1] [--by bytes|time] [--in-a-row 5]
// Exit 0 when every case converged with no problem and left no context open on either provider, nor any in the
// engine's journal (the rerun DELETEs what a killed run left: src/engine/leftover-contexts.ts).
import { parseArgs } from 'node:util';
import { SyncBed } from '../test/harness/bed.ts';
import { calibrate, engineKills, killLine, killPoints, providerKill, sigterm, type KillOutcome } from '../test/harness/crash-cases.ts';

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '50' },
    entries: { type: 'string', default: '3000' },
    'page-size': { type: 'string', default: '200' },
    'chunk-entries': { type: 'string', default: '250' },
    seed: { type: 'string', default: '1' },
    by: { type: 'string', default: 'bytes' },
    'in-a-row': { type: 'string', default: '5' },
  },
});
const by = values.by === 'time' ? 'time' : 'bytes';
const out = (s: string): void => void process.stdout.write(`${s}\n`);
const bed = await SyncBed.create({ entries: Number(values.entries), pageSize: Number(values['page-size']), chunkEntries: Number(values['chunk-entries']) });
const outcomes: KillOutcome[] = [];
const t0 = Date.now();
const record = (o: KillOutcome): void => {
  outcomes.push(o);
  out(killLine(o));
  for (const p of o.problems) out(`       ${p}`);
  for (const n of o.notes) out(`       note: ${n}`);
};
try {
  const cal = await calibrate(bed);
  out(`crash-converge: ${values.entries} entries, pages of ${values['page-size']}, chunks of ${values['chunk-entries']}; a clean pass moves ` +
    `${cal.bytes.toLocaleString('en-US')} bytes through the proxies in ${cal.seconds.toFixed(1)} s (engine peak ${cal.peakRssMiB.toFixed(0)} MiB); ` +
    `${values.points} kill points by ${by}, seed ${values.seed}`);
  for (const f of killPoints(Number(values.points), Number(values.seed))) record(await engineKills(bed, cal, [f], by));
  const row = Number(values['in-a-row']);
  if (row > 0) record(await engineKills(bed, cal, killPoints(row, Number(values.seed) + 1, 0.75), by, `engine SIGKILL ${row} times in a row, then a rerun`));
  record(await providerKill(bed, 'target'));
  record(await providerKill(bed, 'source'));
  record(await providerKill(bed, 'target', true));
  record(await providerKill(bed, 'source', true));
  record(await sigterm(bed, 'startup'));
  for (const ms of [0, 25, 50]) record(await sigterm(bed, 'startup', ms));
  record(await sigterm(bed, 'selecting'));
  record(await sigterm(bed, 'mid-chunk'));
} finally {
  await bed.close();
}
const converged = outcomes.filter((o) => o.converged && o.problems.length === 0).length;
const peak = Math.max(...outcomes.map((o) => o.peakRssMiB));
const leftOpen = outcomes.reduce((n, o) => n + o.leftOpen.source + o.leftOpen.target, 0);
const journals = outcomes.reduce((n, o) => n + o.journals.length, 0);
out(`converged ${converged}/${outcomes.length} in ${((Date.now() - t0) / 1000).toFixed(0)} s; engine peak RSS ${peak.toFixed(0)} MiB; ` +
  `contexts left open after the cases: ${leftOpen} (${outcomes.filter((o) => o.leftOpen.source + o.leftOpen.target > 0).length} cases); journal files left: ${journals}`);
process.exitCode = converged === outcomes.length && leftOpen === 0 && journals === 0 ? 0 : 1;
