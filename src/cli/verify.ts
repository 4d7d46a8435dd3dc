import { tmpdir } from 'node:os';
import { HttpClient } from '../http/client.ts';
import type { ContextJournal } from '../engine/journal.ts';
import { JsonlFile } from '../engine/jsonl.ts';
import { startJournal } from '../engine/leftover-contexts.ts';
import type { PortableClientOptions } from '../engine/verify/side-thread.ts';
import { runVerify, type VerifyResult } from '../engine/verify/run-verify.ts';
import type { COMMANDS, Input } from './commands.ts';
import { int } from '../engine/format.ts';
import { levelOfExit } from '../engine/log.ts';
import { SdataError } from '../protocol/errors.ts';
import { clientOptions, limitsFrom, loggerFrom, onInterrupt, pollFrom, withSummary } from './common.ts';
import { EXIT } from './exit-codes.ts';
import { heapRoomFor, VERIFY_BYTES_FACTOR } from './heap-flags.ts';

/** `sdata-sync verify`: options and help in commands.ts. */
export async function run({ values: v }: Input<typeof COMMANDS.verify>): Promise<number> {
  // A thread holds an entry with its canonical form: more per byte than the pipe commands (the option's own check);
  // with --threads 1, an entry of each side, which can meet.
  const sidesPerThread = v.threads === 1 ? 2 : 1;
  const room = heapRoomFor(v.maxEntryBytes, VERIFY_BYTES_FACTOR * sidesPerThread);
  if (room !== undefined) {
    const which = sidesPerThread === 2 ? 'verify --threads 1 (both sides on one heap)' : 'verify';
    throw new SdataError('SDATA_E_USAGE', `${which}, --max-entry-bytes ${v.maxEntryBytes}: ${room}; or lower --max-entry-bytes`);
  }
  const log = loggerFrom(v);
  // The report first: a path that cannot be written ends the command before either provider is asked anything.
  const report = v.report === undefined ? undefined : new JsonlFile(v.report);
  const started = Date.now();
  let result: VerifyResult | undefined;
  try {
    return await withSummary('verify', log, () => compare(), (exitCode) => {
      const r = result;
      if (log.format === 'text') {
        if (r && !v.quiet) log.raw(verifySummary(r));
        return;
      }
      const d = r?.differences;
      log.record(levelOfExit(exitCode), r ? `verify ${r.kind}: ${r.equal ? 'the target holds the same data as the source' : 'the two differ'}` : `verify ${v.kind}: not compared`, {
        event: 'summary', kind: v.kind, runName: v.runName,
        ...(r && d ? {
          equal: r.equal, read: r.sides[0].entries + r.sides[1].entries, missing: d.missing, extra: d.extra, deletedOnOneSide: d.deleted,
          payload: d.payload, duplicate: d.duplicate, notCompared: d.unreadable, pages: r.sides[0].pages + r.sides[1].pages,
          bytesIn: r.sides[0].bytes + r.sides[1].bytes,
        } : {}),
        seconds: (Date.now() - started) / 1000, exitCode,
      });
    });
  } finally {
    await report?.close().catch(() => undefined);
  }

  async function compare(): Promise<number> {
    await report?.opened();
    // Each reader makes its own client from these (one side may be read in a thread of its own).
    const portable = (side: 'source' | 'target', url: string): PortableClientOptions => {
      const { onRetry: _onRetry, signal: _signal, ...o } = clientOptions(side, url, v, log);
      return o;
    };
    const source = { base: v.source, client: portable('source', v.source) };
    const target = { base: v.target, client: portable('target', v.target) };
    const ac = new AbortController();
    const stopSignals = onInterrupt(log, () => ac.abort());
    const runStamp = new Date().toISOString();
    let journal: ContextJournal | undefined;
    try {
      // Contexts a killed verify (or run, pull) left open on either side are DELETEd first, with that side's client.
      const clients = [new HttpClient(clientOptions('source', v.source, v, log, ac.signal)), new HttpClient(clientOptions('target', v.target, v, log, ac.signal))];
      try {
        journal = await startJournal({ stateDir: v.stateDir, runStamp, log, sides: [{ side: 'source', url: v.source, client: clients[0]! }, { side: 'target', url: v.target, client: clients[1]! }] });
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
      const r = await runVerify({
        source, target, kind: v.kind, states: v.states ?? false, threads: v.threads as 1 | 2, report,
        tempDir: v.tempDir ?? tmpdir(), runName: v.runName, runStamp, maxEntryBytes: v.maxEntryBytes, limits: limitsFrom(v), poll: pollFrom(v), signal: ac.signal, log,
        contexts: journal === undefined ? undefined : { source: journal.recorder('source'), target: journal.recorder('target') },
      });
      await report?.close();
      result = r;
      return r.equal ? EXIT.OK : EXIT.PARTIAL;
    } finally {
      journal?.close();
      stopSignals();
    }
  }
}

/** The summary on stderr: what each side holds, and each kind of difference. */
export function verifySummary(r: VerifyResult): string {
  const n = int;
  const [s, t] = r.sides;
  const d = r.differences;
  const side = (x: typeof s): string => `${n(x.entries)} entries: ${n(x.live)} resources, ${n(x.deleted)} tombstones${x.unreadable ? `, ${n(x.unreadable)} not compared` : ''}`;
  const lines = [
    `verify ${r.kind}: ${r.equal ? 'the target holds the same data as the source' : 'the two differ'}`,
    `  source        ${side(s)}`,
    `  target        ${side(t)}`,
    `  missing       ${n(d.missing)} live at the source, absent at the target`,
    `  extra         ${n(d.extra)} live at the target, absent at the source`,
    `  deleted       ${n(d.deleted)} live on one side, deleted on the other`,
    `  payload       ${n(d.payload)} live on both, different data`,
  ];
  if (d.duplicate) lines.push(`  duplicate     ${n(d.duplicate)} uuids a feed carried more than once`);
  if (d.unreadable) lines.push(`  not compared  ${n(d.unreadable)} entries without a uuid or over the size cap`);
  if (r.states) lines.push(`  state         ${n(d.state)} equal data under another syncState (reported, not a difference)`);
  lines.push(`  ${r.seconds.toFixed(1)} s`);
  return `${lines.join('\n')}\n`;
}
