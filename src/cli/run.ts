import { tmpdir } from 'node:os';
import { HttpClient } from '../http/client.ts';
import { capYoungGeneration } from '../engine/heap.ts';
import { Progress } from '../engine/progress.ts';
import { passReport, summaryTable, totals, type RunReport } from '../engine/report.ts';
import type { ContextJournal } from '../engine/journal.ts';
import { startJournal } from '../engine/leftover-contexts.ts';
import { kindOrder, runKinds } from '../engine/run.ts';
import { explainSet } from '../plan/explain.ts';
import { isSdataError, SdataError } from '../protocol/errors.ts';
import {
  clientOptions, COMMON_HTTP_OPTIONS, loggerFrom, onInterrupt, parse, parseCount, parseEntryCap, parseSize, pollFrom,
  progressMode, writeReport,
} from './common.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';

export const RUN_HELP = `Usage: sdata-sync run --source URL --target URL (--kind KIND ... | --all-kinds) [options]

One catch-up pass per resource kind from a source application to a target application (SData 1.1 sync).
URLs are dataset bases, e.g. http://host/sdata/myApp/myContract/-

Options:
  --source URL            source dataset base URL
  --target URL            target dataset base URL
  --kind KIND             resource kind (repeat or comma-separate); passes run in the providers' sme:syncOrder
                          (the target's first), in this order where $schema gives none
  --all-kinds             every kind both providers' $schema declare, in sme:syncOrder
  --run-name NAME         runName sent on every POST (default "sdata-sync"); runStamp = start time
  --dry-run               read and decide, write nothing to the target, report what would be sent
  --post-results          POST each result feed to the source's $syncResults
  --chunk-entries N       entries per target chunk (default 1000)
  --chunk-bytes SIZE      bytes per target chunk (default 8MiB); a 413 from the target splits a chunk
  --max-entry-bytes SIZE  larger entries are invalid (default 16MiB)
  --strict                an invalid source entry ends the pass (exit 3)
  --concurrency N         passes at once among kinds of equal sme:syncOrder (default 1)
  --retries N             retries of a failed request (default 6; jittered exponential backoff)
  --timeout-connect MS    connection timeout (default 10000)
  --ca FILE               trust these certificates (PEM) for https:// peers, besides the usual ones (a provider
                          with a self-signed certificate); NODE_EXTRA_CA_CERTS=FILE works as well
  --timeout-headers MS    wait for response headers (default 120000)
  --timeout-body MS       longest silence within a response body (default 120000)
  --timeout-poll MS       longest wait for an asynchronous operation (default 1800000)
  --poll-min MS, --poll-max MS  bounds on the providers' pollingMillis (default 5, 5000)
  --spool-dir DIR         chunks wait in memory; in files here when --chunk-bytes exceeds 32MiB, and so do result
                          pages for --post-results (default: the temp dir)
  --state-dir DIR         where the journal of open contexts is kept, so that the next run deletes those a killed
                          run left open (default $XDG_STATE_HOME/sdata-sync, else ~/.local/state/sdata-sync)
  --explain UUID          say why the entry with this uuid was forwarded or not, and what the target answered
                          (repeat or comma-separate)
  --report FILE           write the run report as JSON
  --progress MODE         auto (default), tty, json or none
  --quiet                 errors, warnings and the exit code only
  --verbose               detail per page, chunk and retry
  --log-format FORMAT     text (default) or json
  -h, --help

Credentials come from the environment only: SDATA_SOURCE_TOKEN (Bearer) or SDATA_SOURCE_USER and
SDATA_SOURCE_PASSWORD (Basic); the same with TARGET. They are sent only to the origin of their URL.

Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad feed, 4 I/O, 5 network, 6 protocol, 7 target rejected a chunk,
8 some entries failed or were invalid, 130 interrupted.
`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    source: { type: 'string' },
    target: { type: 'string' },
    kind: { type: 'string', multiple: true },
    'all-kinds': { type: 'boolean' },
    'run-name': { type: 'string' },
    'dry-run': { type: 'boolean' },
    'post-results': { type: 'boolean' },
    'chunk-entries': { type: 'string' },
    'chunk-bytes': { type: 'string' },
    'max-entry-bytes': { type: 'string' },
    strict: { type: 'boolean' },
    concurrency: { type: 'string' },
    'spool-dir': { type: 'string' },
    'state-dir': { type: 'string' },
    report: { type: 'string' },
    progress: { type: 'string' },
    explain: { type: 'string', multiple: true },
    ...COMMON_HTTP_OPTIONS,
  }, 'run');
  if (v.help) {
    process.stdout.write(RUN_HELP);
    return EXIT.OK;
  }
  if (positionals.length > 0) throw new SdataError('SDATA_E_USAGE', `run: unexpected argument '${positionals[0]}' (URLs go with --source/--target)`);
  if (!v.source || !v.target) throw new SdataError('SDATA_E_USAGE', "run: --source and --target are required (see 'sdata-sync run --help')");
  const kindsGiven = (v.kind ?? []).flatMap((k) => k.split(',')).map((k) => k.trim()).filter((k) => k !== '');
  if (kindsGiven.length === 0 && !v['all-kinds']) throw new SdataError('SDATA_E_USAGE', 'run: name the kinds to sync (--kind accounts) or ask for --all-kinds');
  if (kindsGiven.length > 0 && v['all-kinds']) throw new SdataError('SDATA_E_USAGE', 'run: --kind and --all-kinds exclude each other');
  for (const k of kindsGiven) {
    if (!/^[A-Za-z_][\w.-]*$/.test(k)) throw new SdataError('SDATA_E_USAGE', `run: '${k}' is not a resource kind name`);
  }
  const log = loggerFrom(v);
  const stopHeapWatch = capYoungGeneration();
  const chunkEntries = v['chunk-entries'] ? parseCount(v['chunk-entries'], '--chunk-entries') : 1000;
  const chunkBytes = v['chunk-bytes'] ? parseSize(v['chunk-bytes'], '--chunk-bytes') : 8 * 1024 * 1024;
  const maxEntryBytes = parseEntryCap(v['max-entry-bytes']);
  const concurrency = v.concurrency ? parseCount(v.concurrency, '--concurrency') : 1;
  const mode = progressMode(v.progress, v.quiet ?? false);
  const ac = new AbortController();
  const source = new HttpClient(clientOptions('source', v.source, v, log, ac.signal));
  const target = new HttpClient(clientOptions('target', v.target, v, log, ac.signal));
  const stopSignals = onInterrupt(log, () => ac.abort());
  const progress = new Progress(mode, process.stderr, log);
  const started = Date.now();
  const runStamp = new Date(started).toISOString();
  const runName = v['run-name'] ?? 'sdata-sync';
  let journal: ContextJournal | undefined;
  try {
    journal = await startJournal({ stateDir: v['state-dir'], runStamp, log, sides: [{ side: 'source', url: v.source, client: source }, { side: 'target', url: v.target, client: target }] });
    const waves = await kindOrder({ source, sourceBase: v.source, target, targetBase: v.target, given: kindsGiven.length > 0 ? kindsGiven : undefined, log });
    const kinds = waves.flat();
    log.info(`${v['dry-run'] ? 'dry run' : 'run'} '${runName}' ${runStamp}: ${kinds.join(', ')} from ${v.source} to ${v.target}`);
    progress.start();
    const r = await runKinds({
      kinds, waves, concurrency, sourceBase: v.source, targetBase: v.target, source, target, runName, runStamp,
      chunkEntries, chunkBytes, maxEntryBytes, strict: v.strict ?? false, dryRun: v['dry-run'] ?? false,
      postResults: v['post-results'] ?? false, poll: pollFrom(v), spoolDir: v['spool-dir'] ?? tmpdir(),
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
    const report: RunReport = {
      runName, runStamp, source: v.source, target: v.target, ok: exitCode === EXIT.OK, exitCode,
      seconds: (Date.now() - started) / 1000, passes, notRun: r.notRun, totals: totals(passes),
    };
    if (v.report) await writeReport(v.report, report, 2);
    if (log.format === 'json') log.raw(`${JSON.stringify({ type: 'summary', ...report, passes: undefined, kinds: passes.map((p) => ({ kind: p.kind, ok: p.ok, read: p.read, forwarded: p.forwarded, outcomes: p.outcomes, error: p.error })) })}\n`);
    else if (!v.quiet) log.raw(summaryTable(report));
    else for (const p of passes) if (p.error) log.error(`${p.kind}: ${p.error.message}`);
    return exitCode;
  } finally {
    journal?.close();
    stopHeapWatch();
    progress.stop();
    stopSignals();
    await source.close();
    await target.close();
  }
}
