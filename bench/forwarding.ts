// Why the reader cuts each entry's source text instead of re-serialising parse events (issue 2, "measure"):
// the same feed, the same decision (half skipped), two ways of producing the forwarded entries' XML:
//   cut        FeedReader + Planner: the entry's exact text, sliced from the decoded input
//   serialise  saxes events → XML text per entry (names, attributes with escaping, text, CDATA, comments,
//              namespace declarations), the way a DOM- or event-relaying engine must do it
// Both run in fresh child processes, alternating, so neither inherits the other's JIT state.
// Usage: node bench/forwarding.ts [--mb 40] [--runs 3]
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { median } from './sync-processes.ts';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '40' }, runs: { type: 'string', default: '3' }, child: { type: 'string' } } });

if (values.child) {
  const { feedOptionsForSize, pageTexts } = await import('../src/gen/synthetic-feed.ts');
  const { targetDigestFor } = await import('../src/gen/target-digest.ts');
  const o = feedOptionsForSize(Number(values.mb), 1000);
  const all = Buffer.from([...pageTexts(o, 0)].join(''), 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0; i < all.length; i += 65536) chunks.push(all.subarray(i, i + 65536));
  const target = targetDigestFor(o, 0.5).digest;
  let out = 0;
  const t0 = process.cpuUsage();
  if (values.child === 'cut') {
    const { Planner } = await import('../src/plan/planner.ts');
    const { FeedReader } = await import('../src/xml/feed-reader.ts');
    const w = { write: (s: string) => ((out += s.length), true), needsDrain: false, drained: async () => {} };
    const planner = new Planner({ target, out: { open: () => w, close: async () => {} }, chunkEntries: Infinity, chunkBytes: Infinity });
    const r = new FeedReader(planner);
    for (const c of chunks) r.push(c);
    r.end();
    await planner.finish();
  } else {
    const { createParser } = await import('../src/xml/saxes-adapter.ts');
    const { escapeAttr, escapeText } = await import('../src/protocol/escape.ts');
    const { Decider } = await import('../src/plan/decide.ts');
    const { NS } = await import('../src/protocol/namespaces.ts');
    const { parseTick } = await import('../src/protocol/ticks.ts');
    const decider = new Decider(target);
    const p = createParser();
    let depth = 0;
    let inEntry = false;
    let parts: string[] = [];
    let field = '';
    let text = '';
    let endpoint = '';
    let tick = '';
    p.on('opentag', (t) => {
      depth++;
      if (depth === 2 && t.local === 'entry' && t.uri === NS.atom) {
        inEntry = true;
        parts = [];
      }
      if (!inEntry) return;
      let s = `<${t.name}`;
      for (const k in t.ns) s += k === '' ? ` xmlns="${escapeAttr(t.ns[k]!)}"` : ` xmlns:${k}="${escapeAttr(t.ns[k]!)}"`;
      for (const k in t.attributes) {
        const a = t.attributes[k]!;
        if (a.prefix !== 'xmlns' && a.name !== 'xmlns') s += ` ${a.name}="${escapeAttr(a.value)}"`;
      }
      parts.push(t.isSelfClosing ? `${s}/>` : `${s}>`);
      field = t.uri === NS.sync && (t.local === 'endpoint' || t.local === 'tick') && depth === 4 ? t.local : '';
      text = '';
    });
    p.on('text', (s) => {
      if (!inEntry) return;
      parts.push(escapeText(s));
      if (field) text += s;
    });
    p.on('cdata', (s) => inEntry && parts.push(`<![CDATA[${s}]]>`));
    p.on('closetag', (t) => {
      if (inEntry) {
        if (field === 'endpoint') endpoint = text.trim();
        else if (field === 'tick') tick = parseTick(text) ?? '';
        field = '';
        if (!t.isSelfClosing) parts.push(`</${t.name}>`);
        if (depth === 2) {
          inEntry = false;
          const rec = { invalid: undefined, state: { endpoint, tick, stamp: '' } } as unknown as Parameters<typeof decider.decide>[0];
          if (decider.decide(rec) === 'forward') out += parts.join('').length;
        }
      }
      depth--;
    });
    const d = new TextDecoder('utf-8', { fatal: true });
    for (const c of chunks) p.write(d.decode(c, { stream: true }));
    p.close();
  }
  const u = process.cpuUsage(t0);
  process.stdout.write(JSON.stringify({ mode: values.child, seconds: (u.user + u.system) / 1e6, mb: all.length / 1e6, out }) + '\n');
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
const results: Record<string, number[]> = { cut: [], serialise: [] };
let mb = 0;
for (let i = 0; i < Number(values.runs); i++) {
  for (const mode of ['cut', 'serialise'] as const) {
    const r = spawnSync(process.execPath, ['--max-semi-space-size=8', self, '--child', mode, '--mb', values.mb], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    const j = JSON.parse(r.stdout) as { seconds: number; mb: number };
    mb = j.mb;
    results[mode]!.push(j.mb / j.seconds);
  }
}
const cut = median(results.cut!);
const ser = median(results.serialise!);
process.stdout.write(`forwarding ${mb.toFixed(0)} MB (half skipped), CPU-time MB/s, median of ${values.runs}:\n` +
  `  cut source text   ${cut.toFixed(1)}\n  re-serialise      ${ser.toFixed(1)}\n  cut / re-serialise ${(cut / ser).toFixed(2)}x\n`);
process.stdout.write(JSON.stringify({ bench: 'forwarding', mb: +mb.toFixed(1), cutMBps: +cut.toFixed(1), serialiseMBps: +ser.toFixed(1), ratio: +(cut / ser).toFixed(2) }) + '\n');
