import { mkdir, writeFile } from 'node:fs/promises';
import { SdataError } from '../protocol/errors.ts';
import { pageFileName, writePage, writePageFile } from '../gen/stream.ts';
import { resolveFeedOptions, type ResolvedFeedOptions } from '../gen/synthetic.ts';
import { targetDigestEntryXml, targetDigestFor } from '../gen/target-digest.ts';
import { fileStep, parse, parseCount, parseSize, stderrLine } from './common.ts';
import { join } from 'node:path';

export const GEN_HELP = `Usage: sdata-sync gen N [options]

Writes a deterministic synthetic sync feed of N entries (same options, same bytes): several origin endpoints
(ticks ascending per endpoint, one past 2^53), deletions, nested payloads with child lists and references, CDATA,
entity and character references, non-ASCII text (accents, CJK, emoji), xsi:nil, and namespace variety (pages bind
the same prefix to different URIs). Streamed: memory stays flat whatever N is.

Options:
  --pages P              split into P pages (with --out-dir)
  --page-size K          K entries per page (with --out-dir)
  --out FILE             write the (single-page) feed to FILE instead of stdout
  --out-dir DIR          write DIR/page-000001.xml, … (pages linked by rel="next", same digest on each)
  --seed S               default 1
  --entry-bytes SIZE     approximate size of one live entry (default 1KiB)
  --endpoints E          origin endpoints named by syncStates (default 4)
  --delete-ratio R       share of deletions (default 0.08)
  --digest-out FILE      also write a target digest ($syncDigest entry) under which plan skips a share
                         --skip-ratio of the entries (default 0.5) and forwards the rest
  --skip-ratio R         0..1, with --digest-out
  -h, --help

A one-line JSON summary goes to stderr (entries, pages, bytes, skipped/forwarded with --digest-out, seconds).
`;

function parseRatio(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !(n >= 0 && n <= 1)) throw new SdataError('SDATA_E_USAGE', `${flag}: '${text}' is not a number within 0..1`);
  return n;
}

export async function genCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    pages: { type: 'string' },
    'page-size': { type: 'string' },
    out: { type: 'string' },
    'out-dir': { type: 'string' },
    seed: { type: 'string' },
    'entry-bytes': { type: 'string' },
    endpoints: { type: 'string' },
    'delete-ratio': { type: 'string' },
    'digest-out': { type: 'string' },
    'skip-ratio': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  }, 'gen');
  if (values.help) {
    process.stdout.write(GEN_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new SdataError('SDATA_E_USAGE', "gen: expected one argument, the number of entries (see 'sdata-sync gen --help')");
  const count = parseCount(positionals[0]!, 'N', 0);
  if (values.pages && values['page-size']) throw new SdataError('SDATA_E_USAGE', 'gen: --pages and --page-size exclude each other');
  if (values.out && values['out-dir']) throw new SdataError('SDATA_E_USAGE', 'gen: --out and --out-dir exclude each other');
  if (values['skip-ratio'] && !values['digest-out']) throw new SdataError('SDATA_E_USAGE', 'gen: --skip-ratio needs --digest-out');
  let pageSize: number | undefined;
  if (values['page-size']) pageSize = parseCount(values['page-size'], '--page-size');
  if (values.pages) pageSize = Math.max(1, Math.ceil(count / parseCount(values.pages, '--pages')));
  let o: ResolvedFeedOptions;
  try {
    o = resolveFeedOptions({
      count,
      pageSize,
      seed: values.seed ? parseCount(values.seed, '--seed', 0) : 1,
      entryBytes: values['entry-bytes'] ? parseSize(values['entry-bytes'], '--entry-bytes') : 1024,
      endpoints: values.endpoints ? parseCount(values.endpoints, '--endpoints') : 4,
      deleteRatio: values['delete-ratio'] ? parseRatio(values['delete-ratio'], '--delete-ratio') : 0.08,
    });
  } catch (e) {
    throw new SdataError('SDATA_E_USAGE', `gen: ${(e as Error).message}`);
  }
  if (o.pages > 1 && !values['out-dir']) throw new SdataError('SDATA_E_USAGE', `gen: ${o.pages} pages need --out-dir (a file or stdout holds one document)`);

  const started = process.hrtime.bigint();
  const summary: Record<string, number | string> = { entries: count, pages: o.pages, seed: o.seed };
  const dir = values['out-dir'];
  if (dir) await fileStep(dir, 'write', () => mkdir(dir, { recursive: true }));
  if (values['digest-out']) {
    const plan = targetDigestFor(o, values['skip-ratio'] ? parseRatio(values['skip-ratio'], '--skip-ratio') : 0.5);
    await fileStep(values['digest-out'], 'write', () => writeFile(values['digest-out']!, targetDigestEntryXml(o, plan.digest)));
    summary['skipped'] = plan.skipped;
    summary['forwarded'] = plan.forwarded;
  }
  let bytes = 0;
  if (dir) {
    for (let p = 0; p < o.pages; p++) {
      const path = join(dir, pageFileName(p));
      bytes += await fileStep(path, 'write', () => writePageFile(o, p, path));
    }
  } else if (values.out) {
    bytes = await fileStep(values.out, 'write', () => writePageFile(o, 0, values.out!));
  } else {
    bytes = await writePage(o, 0, process.stdout);
  }
  summary['bytes'] = bytes;
  summary['seconds'] = Number(process.hrtime.bigint() - started) / 1e9;
  stderrLine(JSON.stringify(summary));
  return 0;
}
