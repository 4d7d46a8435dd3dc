import { mkdir } from 'node:fs/promises';
import { SdataError } from '../protocol/errors.ts';
import type { Digest } from '../protocol/digest.ts';
import { SegmentedPlan } from '../plan/parallel.ts';
import { Planner, type InvalidEntry } from '../plan/planner.ts';
import { DirChunkTarget, StreamChunkTarget } from '../plan/targets.ts';
import { parseDigestDocument } from '../xml/digest-document.ts';
import {
  fileStep, LIMIT_OPTIONS, LIMITS_HELP, limitsFrom, openInput, parse, parseCount, parseEntryCap, parseSize, readDigestFile, stderrLine, writeReport,
} from './common.ts';

export const PLAN_HELP = `Usage: sdata-sync plan [options] [PAGE.xml ...]

Reads a source sync feed (the pages of one feed, in order, or stdin), decides entry by entry against the
target digest, and writes the target feed: one feed on stdout, or chunk files with --out-dir.

Options:
  --digest FILE          target digest ($syncDigest entry or bare sync:digest); none = empty target
  --out-dir DIR          write DIR/chunk-000001.xml, … instead of stdout
  --chunk-entries N      entries per chunk (default 1000; with --out-dir)
  --chunk-bytes SIZE     bytes per chunk (default 8MiB; with --out-dir)
  --max-entry-bytes SIZE larger entries are invalid (default 16MiB)
  --strict               an invalid entry is fatal (exit 3)
  --threads N            1 or 2: read each page with this many threads (default 2 where there are 2+ CPUs);
                         the output is the same either way
  --report FILE          write the JSON summary to FILE instead of stderr
  --quiet                no per-entry warnings on stderr
  -h, --help

${LIMITS_HELP}`;

export async function planCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    digest: { type: 'string' },
    'out-dir': { type: 'string' },
    'chunk-entries': { type: 'string' },
    'chunk-bytes': { type: 'string' },
    'max-entry-bytes': { type: 'string' },
    ...LIMIT_OPTIONS,
    strict: { type: 'boolean' },
    threads: { type: 'string' },
    report: { type: 'string' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }, 'plan');
  if (values.help) {
    process.stdout.write(PLAN_HELP);
    return 0;
  }
  const started = process.hrtime.bigint();
  const outDir = values['out-dir'];
  if (!outDir && (values['chunk-entries'] || values['chunk-bytes'])) {
    throw new SdataError('SDATA_E_USAGE', 'plan: --chunk-entries/--chunk-bytes need --out-dir (stdout carries one feed)');
  }
  const maxEntryBytes = parseEntryCap(values['max-entry-bytes']);
  const limits = limitsFrom(values);
  let helpers: number | undefined;
  if (values.threads !== undefined) {
    const n = parseCount(values.threads, '--threads');
    if (n !== 1 && n !== 2) throw new SdataError('SDATA_E_USAGE', `plan: --threads must be 1 or 2 (got ${n})`);
    helpers = n - 1;
  }
  let target: Digest | undefined;
  if (values.digest) {
    target = parseDigestDocument(await readDigestFile(values.digest), values.digest);
  }
  const dirTarget = outDir ? new DirChunkTarget(outDir) : undefined;
  if (outDir) await fileStep(outDir, 'create', () => mkdir(outDir, { recursive: true }));
  const quiet = values.quiet ?? false;
  const planner = new Planner({
    target,
    out: dirTarget ?? new StreamChunkTarget(process.stdout),
    singleFeed: !outDir,
    chunkEntries: outDir && values['chunk-entries'] ? parseCount(values['chunk-entries'], '--chunk-entries') : outDir ? 1000 : Infinity,
    chunkBytes: outDir ? (values['chunk-bytes'] ? parseSize(values['chunk-bytes'], '--chunk-bytes') : 8 * 1024 * 1024) : Infinity,
    strict: values.strict ?? false,
    onInvalid: quiet ? undefined : (e: InvalidEntry) =>
      stderrLine(`sdata-sync plan: warning: ${e.source}:${e.line}:${e.column}: entry #${e.index + 1}${e.atomId ? ` (${e.atomId})` : ''} not forwarded: ${e.reason}`),
  });
  let bytesIn = 0;
  // Each page is read in pieces by this thread and a helper thread together (plan/parallel.ts): same output.
  const segmented = new SegmentedPlan({ target, maxEntryBytes, limits, helpers, onWarning: quiet ? undefined : (m) => stderrLine(`sdata-sync plan: warning: ${m}`) });
  try {
    const pages = positionals.length > 0 ? positionals : ['-'];
    for (const page of pages) {
      const input = page === '-' ? process.stdin : await openInput(page);
      const r = await segmented.page(input, planner, page === '-' ? '<stdin>' : page);
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
  const summary = {
    read: s.read, forwarded: s.forwarded, skipped: s.skipped, invalid: s.invalid, chunks: s.chunks,
    bytesIn, bytesOut: s.bytesOut, seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
  if (values.report) await writeReport(values.report, summary);
  else stderrLine(JSON.stringify(summary));
  return 0;
}
