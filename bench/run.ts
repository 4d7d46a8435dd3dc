// `npm run bench [-- plan|provider|e2e|pipes|link|verify|delta|all] [options passed to the bench]`
// plan     bench/plan.ts: bare saxes vs `sdata-sync plan` on a ~250 MB and a 10× feed, plus the tinybench hot path
// provider bench/provider.ts, e2e bench/e2e.ts: run when present
// link     bench/link.ts: `link --apply`, then `run`, on two stores sharing 60% of their resources (100k and 1M)
// pipes    bench/pipes.ts: `pull | plan | push` and `plan FILE | push` against `run` on the same data (1M), each into a fresh target
// verify   bench/verify.ts: `verify` of two 1M collections against pulling both (100k and 1M, planted differences)
// delta    bench/delta.ts: a 1,000-entry delta from a source of growing size (100k, 1M; --counts …,10000000 for 10M)
// all      every bench present, one after the other (never concurrently: the machine has 2 cores)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BENCHES = { plan: 'plan.ts', provider: 'provider.ts', e2e: 'e2e.ts', pipes: 'pipes.ts', link: 'link.ts', verify: 'verify.ts', delta: 'delta.ts' } as const;
type Name = keyof typeof BENCHES;
const isName = (s: string | undefined): s is Name => s !== undefined && s in BENCHES;

const [first, ...rest] = process.argv.slice(2);
const which: Name[] = first === 'all' ? (Object.keys(BENCHES) as Name[]) : isName(first) ? [first] : ['plan'];
const args = first === 'all' || isName(first) ? rest : process.argv.slice(2);
if (first !== undefined && !first.startsWith('-') && first !== 'all' && !isName(first)) {
  process.stderr.write(`bench: unknown bench '${first}' (plan, provider, e2e, pipes, link, verify, delta or all)\n`);
  process.exit(2);
}

let failed = 0;
for (const name of which) {
  const file = fileURLToPath(new URL(`./${BENCHES[name]}`, import.meta.url));
  if (!existsSync(file)) {
    process.stderr.write(`bench: ${name}: bench/${BENCHES[name]} is not there yet, skipped\n`);
    continue;
  }
  process.stderr.write(`bench: ${name}\n`);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
    process.once('SIGINT', forward);
    process.once('SIGTERM', forward);
    child.on('close', (c) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(c);
    });
  });
  if (code !== 0) {
    process.stderr.write(`bench: ${name} exited ${code}\n`);
    failed++;
  }
}
process.exitCode = failed > 0 ? 1 : 0;
