import { mkdir, writeFile } from 'node:fs/promises';
import { SdataError } from '../protocol/errors.ts';
import { pageFileName, writePage, writePageFile } from '../gen/stream.ts';
import { resolveFeedOptions, type ResolvedFeedOptions } from '../gen/synthetic-feed.ts';
import { targetDigestEntryXml, targetDigestFor } from '../gen/target-digest.ts';
import type { COMMANDS, Input } from './commands.ts';
import { fileStep, stderrLine } from './common.ts';
import { join } from 'node:path';

/** `sdata-sync gen`: options and help in commands.ts. */
export async function run({ values, args }: Input<typeof COMMANDS.gen>): Promise<number> {
  const count = args.count;
  let pageSize = values.pageSize;
  if (values.pages !== undefined) pageSize = Math.max(1, Math.ceil(count / values.pages));
  let o: ResolvedFeedOptions;
  try {
    o = resolveFeedOptions({
      count, pageSize, seed: values.seed, entryBytes: values.entryBytes, endpoints: values.endpoints, deleteRatio: values.deleteRatio,
    });
  } catch (e) {
    throw new SdataError('SDATA_E_USAGE', (e as Error).message);
  }
  if (o.pages > 1 && values.outDir === undefined) throw new SdataError('SDATA_E_USAGE', `${o.pages} pages need --out-dir (a file or stdout holds one document)`);

  const started = process.hrtime.bigint();
  const summary: Record<string, number | string> = { entries: count, pages: o.pages, seed: o.seed };
  const dir = values.outDir;
  if (dir) await fileStep(dir, 'write', () => mkdir(dir, { recursive: true }));
  const digestOut = values.digestOut;
  if (digestOut !== undefined) {
    const plan = targetDigestFor(o, values.skipRatio);
    await fileStep(digestOut, 'write', () => writeFile(digestOut, targetDigestEntryXml(o, plan.digest)));
    summary['skipped'] = plan.skipped;
    summary['forwarded'] = plan.forwarded;
  }
  let bytes = 0;
  if (dir) {
    for (let p = 0; p < o.pages; p++) {
      const path = join(dir, pageFileName(p));
      bytes += await fileStep(path, 'write', () => writePageFile(o, p, path));
    }
  } else if (values.out !== undefined) {
    const out = values.out;
    bytes = await fileStep(out, 'write', () => writePageFile(o, 0, out));
  } else {
    bytes = await writePage(o, 0, process.stdout);
  }
  summary['bytes'] = bytes;
  summary['seconds'] = Number(process.hrtime.bigint() - started) / 1e9;
  stderrLine(JSON.stringify(summary));
  return 0;
}
