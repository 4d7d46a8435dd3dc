import { mkdir } from 'node:fs/promises';
import type { Digest } from '../protocol/digest.ts';
import { explainLine, explainSet, unexplained } from '../plan/explain.ts';
import { SegmentedPlan } from '../plan/parallel.ts';
import { planPage } from '../plan/pipeline.ts';
import { Planner, type Explained, type InvalidEntry } from '../plan/planner.ts';
import { DirChunkTarget, StreamChunkTarget } from '../plan/targets.ts';
import { parseDigestDocument } from '../xml/digest-document.ts';
import type { COMMANDS, Input } from './commands.ts';
import { fileStep, limitsFrom, openInput, readDigestFile, stderrLine, writeReport } from './common.ts';

/** `sdata-sync plan`: options and help in commands.ts. */
export async function run({ values, args }: Input<typeof COMMANDS.plan>): Promise<number> {
  const started = process.hrtime.bigint();
  const outDir = values.outDir;
  const maxEntryBytes = values.maxEntryBytes;
  const limits = limitsFrom(values);
  const helpers = values.threads === undefined ? undefined : values.threads - 1;
  let target: Digest | undefined;
  if (values.digest !== undefined) {
    target = parseDigestDocument(await readDigestFile(values.digest), values.digest);
  }
  const dirTarget = outDir ? new DirChunkTarget(outDir) : undefined;
  if (outDir) await fileStep(outDir, 'create', () => mkdir(outDir, { recursive: true }));
  const quiet = values.quiet ?? false;
  const explain = explainSet(values.explain);
  const explained: Explained[] = [];
  const planner = new Planner({
    explain,
    onExplain: (x) => {
      explained.push(x);
      stderrLine(`sdata-sync plan: ${explainLine(x)}`);
    },
    target,
    out: dirTarget ?? new StreamChunkTarget(process.stdout),
    singleFeed: !outDir,
    // One feed on stdout is one chunk: the chunk bounds apply to --out-dir (commands.ts: they need it).
    chunkEntries: outDir ? values.chunkEntries : Infinity,
    chunkBytes: outDir ? values.chunkBytes : Infinity,
    strict: values.strict ?? false,
    onInvalid: quiet ? undefined : (e: InvalidEntry) =>
      stderrLine(`sdata-sync plan: warning: ${e.source}:${e.line}:${e.column}: entry #${e.index + 1}${e.atomId ? ` (${e.atomId})` : ''} not forwarded: ${e.reason}`),
  });
  let bytesIn = 0;
  // Each page is read in pieces by this thread and a helper thread together (plan/parallel.ts): same output.
  const segmented = new SegmentedPlan({ target, maxEntryBytes, limits, helpers, onWarning: quiet ? undefined : (m) => stderrLine(`sdata-sync plan: warning: ${m}`) });
  try {
    const pages = args.pages.length > 0 ? args.pages : ['-'];
    for (const page of pages) {
      const input = page === '-' ? process.stdin : await openInput(page);
      const source = page === '-' ? '<stdin>' : page;
      // --explain needs the records, which the pieces read elsewhere do not bring back: one reader, same output.
      const r = explain ? await planPage(input, planner, { source, maxEntryBytes, limits }) : await segmented.page(input, planner, source);
      bytesIn += r.bytesIn;
    }
    await planner.finish();
  } catch (e) {
    await dirTarget?.abort();
    throw e;
  } finally {
    await segmented.close();
  }
  const s = planner.stats;
  if (!outDir && s.invalid > 0 && !quiet) {
    stderrLine(`sdata-sync plan: warning: the feed on stdout is final (no next link) although ${s.invalid} entr${s.invalid === 1 ? 'y was' : 'ies were'} dropped: a target merging its digest may pass over them (docs/protocol.md X3); use --out-dir or --strict`);
  }
  if (explain) for (const u of unexplained(explain, explained)) stderrLine(`sdata-sync plan: explain ${u}: no entry of the input carries this uuid`);
  const summary = {
    read: s.read, forwarded: s.forwarded, skipped: s.skipped, invalid: s.invalid, held: s.held, chunks: s.chunks, ending: s.ending,
    bytesIn, bytesOut: s.bytesOut, seconds: Number(process.hrtime.bigint() - started) / 1e9,
    ...(explain ? { explained } : {}),
  };
  if (values.report !== undefined) await writeReport(values.report, summary);
  else stderrLine(JSON.stringify(summary));
  return 0;
}
