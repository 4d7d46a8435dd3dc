// Replays the Dockerfile's steps outside Docker (no engine here): FROM must be a Node 24 image, COPY sources must
// exist, RUN commands run for real in a scratch root (absolute paths mapped into it), and the ENTRYPOINT + CMD run
// on the pinned Node 24 standing in for the base image's. Exit 0 when the image would build and start.
// Usage: node scripts/check-dockerfile.ts [--keep]
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = mkdtempSync(join(tmpdir(), 'sdata-docker-'));
const keep = process.argv.includes('--keep');
const log = (s: string): void => void process.stderr.write(`check-dockerfile: ${s}\n`);

/** Map an absolute in-image path into the scratch root. */
const inRoot = (p: string): string => join(root, p);

function words(json: string): string[] {
  const v = JSON.parse(json) as unknown;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`not an exec-form array: ${json}`);
  return v;
}

function fail(msg: string): never {
  log(`FAIL: ${msg}`);
  if (!keep) rmSync(root, { recursive: true, force: true });
  process.exit(1);
}

const lines = readFileSync(join(repo, 'Dockerfile'), 'utf8').split('\n')
  .map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
let workdir = '/';
let entrypoint: string[] = [];
let cmd: string[] = [];
const env: Record<string, string> = {};
try {
  for (const line of lines) {
    const [op, ...restParts] = line.split(/\s+/);
    const rest = line.slice(op!.length).trim();
    switch (op) {
      case 'FROM':
        if (!/^node:24(\b|-|\.)/.test(rest)) fail(`FROM ${rest}: expected a Node 24 image (the runtime we pin)`);
        break;
      case 'ENV': {
        const m = /^(\w+)=(.*)$/.exec(rest);
        if (!m) fail(`ENV ${rest}: expected KEY=value`);
        // Absolute in-image paths in values map into the scratch root, as in RUN commands.
        env[m[1]!] = m[2]!.replace(/(^|[\s:=])\/(app|data)\b/g, (_m, sp: string, d: string) => `${sp}${inRoot('/' + d)}`);
        break;
      }
      case 'WORKDIR':
        workdir = rest;
        mkdirSync(inRoot(workdir), { recursive: true });
        break;
      case 'COPY': {
        const dest = restParts.at(-1)!;
        const target = dest.startsWith('/') ? dest : join(workdir, dest);
        for (const src of restParts.slice(0, -1)) {
          if (!existsSync(join(repo, src))) fail(`COPY ${src}: no such file in the build context`);
          const isDirDest = dest.endsWith('/') || restParts.length > 2;
          cpSync(join(repo, src), isDirDest ? join(inRoot(target), src) : inRoot(target), { recursive: true });
        }
        break;
      }
      case 'RUN': {
        // chown to the image's 'node' user has no meaning here; everything else runs as written.
        const script = rest.split('&&').map((s) => s.trim()).filter((s) => !s.startsWith('chown '))
          .join(' && ').replace(/(^|\s)\/(app|data)\b/g, (_m, sp: string, d: string) => `${sp}${inRoot('/' + d)}`);
        log(`RUN ${script}`);
        // A private npm cache: `npm cache clean` in the image must not empty this machine's cache.
        execFileSync('sh', ['-c', script], {
          cwd: inRoot(workdir), stdio: ['ignore', 'inherit', 'inherit'],
          // `node` is the base image's Node 24: the pinned one stands in for it (this machine's own may be older).
          env: { ...process.env, ...env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`, npm_config_cache: inRoot('/npm-cache'), npm_config_update_notifier: 'false' },
        });
        break;
      }
      case 'ENTRYPOINT': entrypoint = words(rest); break;
      case 'CMD': cmd = words(rest); break;
      case 'USER': case 'VOLUME': case 'EXPOSE': case 'LABEL': break;
      default: fail(`unsupported instruction ${op}`);
    }
  }
  if (entrypoint[0] !== 'node') fail('ENTRYPOINT must start with node');
  if (existsSync(inRoot('/app/node_modules/typescript'))) fail('dev dependencies ended up in the image');
  for (const dep of ['saxes', 'undici', 'p-limit', 'lru-cache']) {
    if (!existsSync(inRoot(`/app/node_modules/${dep}`))) fail(`runtime dependency ${dep} missing from the image`);
  }
  const args = entrypoint.slice(1).map((a) => (a.startsWith('/') ? inRoot(a) : a));
  const node = process.execPath; // the pinned Node 24, as in the base image
  const run = (extra: string[], input?: string) => spawnSync(node, [...args, ...extra], { cwd: inRoot(workdir), input, encoding: 'utf8', env: { ...process.env, ...env } });
  const help = run(cmd);
  if (help.status !== 0 || !/Usage: sdata-sync/.test(help.stdout)) fail(`ENTRYPOINT + CMD: exit ${help.status}: ${help.stderr}`);
  const version = run(['--version']);
  if (version.status !== 0) fail(`--version: ${version.stderr}`);
  const feed = `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sync="http://schemas.sage.com/sdata/sync/2008/1" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sync:syncMode>catchUp</sync:syncMode><sync:digest/>` +
    `<entry><sync:syncState><sync:endpoint>http://a/x</sync:endpoint><sync:tick>1</sync:tick><sync:stamp>s</sync:stamp></sync:syncState><sdata:payload><r xmlns="urn:c" sdata:uuid="u"/></sdata:payload></entry></feed>`;
  const plan = run(['plan'], feed);
  if (plan.status !== 0 || !/<entry>/.test(plan.stdout)) fail(`plan in the image: exit ${plan.status}: ${plan.stderr}`);
  // The image ships a compile cache warmed at build time, covering the provider thread's entry module too.
  const cacheDir = env['NODE_COMPILE_CACHE'];
  if (cacheDir === undefined || !existsSync(cacheDir)) fail('no NODE_COMPILE_CACHE directory was built into the image');
  const cached = readdirSync(cacheDir, { recursive: true }).length;
  if (cached < 3) fail(`the compile cache at ${cacheDir} is nearly empty (${cached} files): the warm-up did not run`);
  log(`ok: ${version.stdout.trim()}; image root ${keep ? root : '(removed)'}`);
} catch (e) {
  fail((e as Error).message);
}
if (!keep) rmSync(root, { recursive: true, force: true });
