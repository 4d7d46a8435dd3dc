// The long variant of the hostile-input tests (test/cli/hostile.test.ts, test/engine/hostile.test.ts,
// test/provider/hostile.test.ts): every input of test/helpers/hostile.ts, `--scale` times larger, through
// `plan --threads 1`, `plan --threads 2`, `run` (a source page), `push` (a result feed) and `serve` (a $syncTarget
// POST), each as users run it (the bin with its heap flags). Prints one row per input and path — exit code (or
// HTTP status), message, wall time, peak RSS of the process that read it — and "hostile inputs refused cleanly N/N":
// clean is the expected exit code and message, no stack trace, and a peak RSS under 200 MB.
//
// Usage: node scripts/hostile.ts [--scale 4] [--only NAME]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FakeProvider } from '../test/engine/fake-provider.ts';
import { runCliMeasured, spawnMeasured } from '../test/helpers/cli.ts';
import { HOSTILE, hostilePeers, plainFeed, postStream, RSS_BOUND_KIB, type Hostile } from '../test/helpers/hostile.ts';
import { until } from '../test/helpers/until.ts';

const { values } = parseArgs({ options: { scale: { type: 'string', default: '4' }, only: { type: 'string' } } });
const scale = Number(values.scale);
const cases = HOSTILE.filter((h) => values.only === undefined || h.name === values.only);

interface Row {
  input: string;
  path: string;
  outcome: string;
  message: string;
  seconds: number;
  rssMiB: number | undefined;
  clean: boolean;
}
const rows: Row[] = [];

/** What the output says happened (the refusal, or the skipped entry's warning), from its position on. */
function said(text: string, want: RegExp): string {
  const lines = text.split('\n');
  const line = (lines.find((l) => want.test(l)) ?? lines.find((l) => /error|warning|sdata-sync \w+: /.test(l)) ?? '').trim();
  const at = line.search(/:\d+(:\d+)?: /);
  return at > 0 ? `…${line.slice(at)}` : line;
}

const unescape = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

async function cli(h: Hostile, path: string, args: string[], exit: number, message: RegExp, stdin: Iterable<Buffer> = []): Promise<void> {
  const t0 = process.hrtime.bigint();
  const r = await runCliMeasured(args, stdin);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const clean = r.code === exit && message.test(r.stderr) && !/\n\s+at /.test(r.stderr) && r.maxRssKiB < RSS_BOUND_KIB;
  rows.push({ input: h.name, path, outcome: `exit ${r.code}`, message: said(r.stderr, message), seconds, rssMiB: r.maxRssKiB / 1024, clean });
  process.stderr.write(`${clean ? 'ok  ' : 'BAD '} ${h.name} ${path}: exit ${r.code} ${seconds.toFixed(1)} s ${(r.maxRssKiB / 1024).toFixed(0)} MiB\n`);
}

const src = new FakeProvider({ app: 'src' });
const tgt = new FakeProvider({ app: 'tgt', syncTarget: true });
const peers = hostilePeers(src, tgt, scale);
await Promise.all([src.start(), tgt.start()]);
src.seed('accounts', 1);
const dir = await mkdtemp(join(tmpdir(), 'sdata-hostile-'));
const chunk = join(dir, 'chunk.xml');
await writeFile(chunk, plainFeed(1));

try {
  for (const h of cases) {
    for (const t of [1, 2]) await cli(h, `plan --threads ${t}`, ['plan', '--threads', String(t), ...(h.flags ?? [])], h.exit, h.message, h.feed(scale));
    peers.set(h, undefined);
    await cli(h, 'run (source page)', ['run', '--source', src.datasetBase(), '--target', tgt.datasetBase(), '--kind', 'accounts', '--progress', 'none', '--retries', '0', ...(h.flags ?? [])],
      h.exit === 0 ? 8 : h.exit, h.message);
    peers.set(undefined, h);
    const want = h.result ?? h;
    await cli(h, 'push (result feed)', ['push', `${tgt.datasetBase()}/accounts`, chunk, '--retries', '0', ...(h.flags ?? [])], want.exit, want.message);
    peers.set(undefined, undefined);
  }

  // One provider for every body: each answered, the next request served, its peak RSS over all of them.
  const server = spawnMeasured(['serve', '--db', join(dir, 'serve.db'), '--port', '0', '--app', 'hub', '--kinds', 'accounts', '--max-body', '4GiB']);
  await until(() => server.output().stdout.includes('accounts'), { what: 'serve to start', everyMs: 25, timeoutMs: 60_000 });
  const base = server.output().stdout.split('\n')[0]!;
  let n = 100;
  for (const h of cases.filter((x) => x.flags === undefined)) {
    const t0 = process.hrtime.bigint();
    let outcome: string;
    let message = '';
    let clean: boolean;
    try {
      const r = await postStream(`${base}/accounts/$syncTarget`, h.feed(scale));
      outcome = `HTTP ${r.status}`;
      // The diagnosis of a refused body; for a skipped entry, its result's.
      message = unescape(h.exit === 0 ? /entry is larger than[^<]*/.exec(r.text)?.[0] ?? '' : /<sdata:message>([^<]*)</.exec(r.text)?.[1] ?? '');
      clean = h.exit === 0 ? r.status === 200 && message !== '' : r.status === 400 && h.message.test(message);
      if (h.exit !== 0) message = said(message, h.message);
    } catch (e) {
      outcome = (e as Error).message;
      clean = false;
    }
    // The next request is served.
    const ok = await postStream(`${base}/accounts/$syncTarget`, [Buffer.from(plainFeed(++n))]).catch(() => ({ status: 0, text: '' }));
    clean &&= ok.status === 200;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    rows.push({ input: h.name, path: 'serve ($syncTarget POST)', outcome, message, seconds, rssMiB: undefined, clean });
    process.stderr.write(`${clean ? 'ok  ' : 'BAD '} ${h.name} serve: ${outcome} ${seconds.toFixed(1)} s\n`);
  }
  server.child.kill('SIGTERM');
  const s = await server.done;
  const sclean = s.code === 0 && s.maxRssKiB < RSS_BOUND_KIB;
  rows.push({ input: '(all of the above)', path: 'serve: the process', outcome: `exit ${s.code}`, message: 'stopped after every body', seconds: 0, rssMiB: s.maxRssKiB / 1024, clean: sclean });
} finally {
  await Promise.all([src.stop(), tgt.stop()]);
  await rm(dir, { recursive: true, force: true });
}

const header = ['input', 'path', 'outcome', 'time', 'peak RSS', 'clean', 'message'];
const table = rows.map((r) => [r.input, r.path, r.outcome, `${r.seconds.toFixed(2)} s`, r.rssMiB === undefined ? '-' : `${r.rssMiB.toFixed(0)} MiB`, r.clean ? 'yes' : 'NO',
  r.message.replace(/^sdata-sync \w+: /, '').slice(0, 150)]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
process.stdout.write(`${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${table.map(line).join('\n')}\n`);
const clean = rows.filter((r) => r.clean).length;
const worst = rows.reduce((a, r) => (r.seconds > a.seconds ? r : a), rows[0]!);
const peak = rows.reduce((a, r) => ((r.rssMiB ?? 0) > (a.rssMiB ?? 0) ? r : a), rows[0]!);
process.stdout.write(`\nscale ${scale}: hostile inputs refused cleanly ${clean}/${rows.length}; worst time ${worst.seconds.toFixed(2)} s (${worst.input}, ${worst.path}); ` +
  `peak RSS ${peak.rssMiB?.toFixed(0)} MiB (${peak.input}, ${peak.path})\n`);
process.exitCode = clean === rows.length ? 0 : 1;
