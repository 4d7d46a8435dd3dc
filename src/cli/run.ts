import { tmpdir } from 'node:os';
import { HttpClient } from '../http/client.ts';
import { transferHeap } from '../engine/heap.ts';
import { Progress } from '../engine/progress.ts';
import { passReport, runRecords, summaryTable, totals, upToDate, type RunReport } from '../engine/report.ts';
import type { ContextJournal } from '../engine/journal.ts';
import { startJournal } from '../engine/leftover-contexts.ts';
import { kindOrder, runKinds } from '../engine/run.ts';
import { explainSet } from '../plan/explain.ts';
import { isSdataError, SdataError } from '../protocol/errors.ts';
import type { COMMANDS, Input } from './commands.ts';
import { checkOutputs, clientOptions, limitsFrom, loggerFrom, onInterrupt, pollFrom, progressMode, spoolDirOf, withSummary, writeReport } from './common.ts';
import { MEMORY_SPOOL_MAX } from '../engine/spool.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';

/** `sdata-sync run`: options and help in commands.ts. */
export async function run({ values: v }: Input<typeof COMMANDS.run>): Promise<number> {
  const kindsGiven = v.kind ?? [];
  if (kindsGiven.length === 0 && !v.allKinds) throw new SdataError('SDATA_E_USAGE', 'name the kinds to sync (--kind accounts) or ask for --all-kinds');
  const log = loggerFrom(v);
  const stopHeapWatch = transferHeap();
  const mode = progressMode(v.progress, v.quiet ?? false, log.format);
  const ac = new AbortController();
  const source = new HttpClient(clientOptions('source', v.source, v, log, ac.signal));
  const target = new HttpClient(clientOptions('target', v.target, v, log, ac.signal));
  const stopSignals = onInterrupt(log, () => ac.abort(), v.stopTimeout);
  const progress = new Progress(mode, process.stderr, log);
  const started = Date.now();
  const runStamp = new Date(started).toISOString();
  const runName = v.runName;
  // The run's report, once there is one; a failure before the passes (the kind order) ends with a summary of nothing.
  let report: RunReport | undefined;
  let journal: ContextJournal | undefined;
  try {
    return await withSummary('run', log, async () => {
      // Before anything is read or sent: the report's file, and the spool directory where the pass will use one.
      const spools = v.chunkBytes > MEMORY_SPOOL_MAX || (v.postResults ?? false);
      await checkOutputs({ files: [[`--report ${v.report}`, v.report]], dirs: spools ? [spoolDirOf(v, tmpdir())] : [] });
      journal = await startJournal({ stateDir: v.stateDir, runStamp, log, sides: [{ side: 'source', url: v.source, client: source }, { side: 'target', url: v.target, client: target }] });
      const waves = await kindOrder({ source, sourceBase: v.source, target, targetBase: v.target, given: kindsGiven.length > 0 ? kindsGiven : undefined, log });
      const kinds = waves.flat();
      log.info(`${v.dryRun ? 'dry run' : 'run'} '${runName}' ${runStamp}: ${kinds.join(', ')} from ${v.source} to ${v.target}`, { event: 'start', runName });
      progress.start();
      const r = await runKinds({
        kinds, waves, concurrency: v.concurrency, sourceBase: v.source, targetBase: v.target, source, target, runName, runStamp,
        chunkEntries: v.chunkEntries, chunkBytes: v.chunkBytes, maxEntryBytes: v.maxEntryBytes, limits: limitsFrom(v), strict: v.strict ?? false,
        dryRun: v.dryRun ?? false, postResults: v.postResults ?? false, poll: pollFrom(v), spoolDir: v.spoolDir ?? tmpdir(),
        signal: ac.signal, log, onPass: (s) => progress.add(s), explain: explainSet(v.explain),
        contexts: journal ? { source: journal.recorder('source'), target: journal.recorder('target') } : undefined,
      });
      progress.stop();
      const passes = r.passes.map(passReport);
      let exitCode: number = EXIT.OK;
      const failed = r.passes.find((p) => p.error);
      if (failed) exitCode = isSdataError(failed.error) ? exitCodeFor(failed.error.code) : EXIT.INTERNAL;
      else if (passes.some((p) => p.outcomes.failed > 0 || p.invalid > 0)) exitCode = EXIT.PARTIAL;
      if (ac.signal.aborted) exitCode = EXIT.INTERRUPTED;
      report = {
        runName, runStamp, source: v.source, target: v.target, ok: exitCode === EXIT.OK, exitCode,
        seconds: (Date.now() - started) / 1000, passes, notRun: r.notRun, totals: totals(passes), upToDate: upToDate(passes, r.notRun),
      };
      if (v.report !== undefined) await writeReport(v.report, report, 2);
      return exitCode;
    }, (exitCode) => {
      const rep: RunReport = report ?? {
        runName, runStamp, source: v.source, target: v.target, ok: false, exitCode, seconds: (Date.now() - started) / 1000, passes: [], notRun: [],
        totals: totals([]), upToDate: false,
      };
      rep.exitCode = exitCode;
      rep.ok = exitCode === EXIT.OK;
      if (log.format === 'json') for (const x of runRecords(rep)) log.record(x.level, x.message, x.fields);
      else if (!report) return; // the failure said it all
      else if (!v.quiet) log.raw(summaryTable(rep));
      else for (const p of rep.passes) if (p.error) log.error(`${p.kind}: ${p.error.message}`);
    });
  } finally {
    journal?.close();
    stopHeapWatch();
    progress.stop();
    stopSignals();
    await source.close();
    await target.close();
  }
}
