// Replays the Dockerfile without a Docker engine (there is none where the tests run) and runs the image it makes.
// Build: every instruction honoured (multi-stage, ARG, ENV, WORKDIR, COPY --from/--chown with .dockerignore, RUN with
// its cache mount, USER, VOLUME, EXPOSE, LABEL, HEALTHCHECK, ENTRYPOINT, CMD), an unknown one refused; each stage a
// chroot on this machine's Debian standing in for node:24.x-bookworm-slim (dockerfile/sandbox.ts). Then the final
// stage is checked (non-root user, labels, volume, no dev dependencies, no sources) and run with a read-only root
// as the image's user, several containers on a private network: --help, --version, seed, serve until the
// HEALTHCHECK passes, run both ways between two served stores until they converge, gen | plan, docker stop.
// Needs root, or unprivileged user namespaces (then one uid stands for the image's users). Exit 0: it would work.
// Usage: node scripts/check-dockerfile.ts [--keep] [--dockerfile FILE]
//   --keep leaves the image roots in the temp dir; --dockerfile replays another file (the context stays this repo).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayBuild, type Stage } from './dockerfile/build.ts';
import { LayerCache } from './dockerfile/layers.ts';
import { DockerfileError } from './dockerfile/parse.ts';
import { Check, runImage, type Image } from './dockerfile/run-image.ts';
import { IMAGE_NODE_IDS, mountNamespace, mountsUnder, resolveUser, sh } from './dockerfile/sandbox.ts';

const SCRIPT = fileURLToPath(import.meta.url);
const repo = resolve(dirname(SCRIPT), '..');
const log = (s: string): void => void process.stderr.write(`check-dockerfile: ${s}\n`);
/** The uid that started the replay (inside a user namespace we are 0, whoever we are). */
const outerUid = (): number => Number(process.env['SDATA_REPLAY_UID'] ?? process.getuid?.() ?? 0);
const asRoot = outerUid() === 0;

/** Runs this script again as `argv` and takes its exit status. */
function again(argv: string[]): Promise<number> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
  return new Promise((res) => {
    child.on('error', (e) => {
      log(`FAIL: cannot start ${argv[0]}: ${e.message}`);
      res(1);
    });
    child.on('close', (code, signal) => res(code ?? (signal ? 128 : 1)));
  });
}

/** Outside: a work directory, the replay in a mount namespace of its own, then the clean-up from out here. */
async function outer(keep: boolean, dockerfile: string): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'sdata-docker-'));
  chmodSync(work, 0o755); // the image's user walks into it
  const probe = spawnSync('unshare', [...(asRoot ? [] : ['--map-root-user']), '--mount', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    log(`FAIL: cannot make a mount namespace (unshare${asRoot ? '' : ' --map-root-user'}: ${probe.stderr.trim() || probe.error?.message}); the replay needs root or unprivileged user namespaces`);
    return 1;
  }
  process.env['SDATA_REPLAY_UID'] = String(process.getuid?.() ?? 0);
  const code = await again(['unshare', ...(asRoot ? [] : ['--map-root-user']), '--mount', '--propagation', 'private', '--', process.execPath, SCRIPT, '--inner', work, mountNamespace(), dockerfile]);
  // The namespace is gone with its mounts; were one still here, removing the tree would reach into it.
  const left = mountsUnder(work);
  if (left.length > 0) {
    log(`FAIL: mounts left under ${work} (${left.join(', ')}): not removed`);
    return 1;
  }
  if (keep) log(`image roots kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
  return code;
}

function npmCache(): string {
  return sh('npm', ['config', 'get', 'cache']).trim();
}

/**
 * This machine's way to the registry, for the build's RUN steps: proxy variables (Docker's predefined build args)
 * and the CA files a TLS-inspecting proxy needs, which the stages see at the same paths (/etc is this machine's).
 */
function network(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'all_proxy', 'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE']) {
    const v = process.env[k];
    if (v) out[k] = v;
  }
  const cafile = sh('npm', ['config', 'get', 'cafile']).trim();
  if (cafile !== '' && cafile !== 'null' && cafile !== 'undefined') out['npm_config_cafile'] = cafile;
  return out;
}

/** What a final stage must be to run as documented (README "Running as a container"). */
function checkImage(st: Stage, node: ReturnType<typeof IMAGE_NODE_IDS>): Image {
  const fail = (m: string): never => {
    throw new Check(`the image: ${m}`);
  };
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string; license: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const user = resolveUser(st.root, st.user);
  if (st.user === 'root' || st.user === '0' || (asRoot && user.uid === 0)) fail('runs as root (USER)');
  if (asRoot && user.uid !== node.uid) fail(`USER ${st.user} is not the image's node user`);
  if (!st.expose.some((p) => p === '8080' || p === '8080/tcp')) fail('does not EXPOSE 8080');
  if (!st.healthcheck) fail('has no HEALTHCHECK');
  if (!st.entrypoint || st.entrypoint[0] !== 'node') fail('ENTRYPOINT does not start node');
  const labels = st.labels;
  for (const k of ['title', 'description', 'version', 'licenses', 'source']) if (!labels.get(`org.opencontainers.image.${k}`)) fail(`no LABEL org.opencontainers.image.${k}`);
  if (labels.get('org.opencontainers.image.version') !== pkg.version) fail(`LABEL version ${labels.get('org.opencontainers.image.version')} is not package.json's ${pkg.version}`);
  if (labels.get('org.opencontainers.image.licenses') !== pkg.license) fail(`LABEL licenses is not package.json's ${pkg.license}`);
  if (!labels.get('org.opencontainers.image.base.name')?.endsWith(st.base)) fail(`LABEL base.name does not name ${st.base}`);
  if (!st.volumes.includes('/data')) fail('has no VOLUME /data');
  if (statSync(join(st.root, 'data')).uid !== user.uid) fail('/data is not owned by the USER, who must write there');
  const app = join(st.root, st.workdir);
  for (const d of Object.keys(pkg.dependencies)) if (!existsSync(join(app, 'node_modules', d))) fail(`runtime dependency ${d} missing`);
  for (const d of Object.keys(pkg.devDependencies)) if (existsSync(join(app, 'node_modules', d))) fail(`dev dependency ${d} is in the image`);
  for (const f of ['package.json', 'LICENSE', 'bin/sdata-sync.mjs', 'dist/cli/main.js', 'dist/provider/http/worker.js', 'dist/plan/segment-worker.js']) if (!existsSync(join(app, f))) fail(`${st.workdir}/${f} missing`);
  for (const f of ['src', 'test', 'bench', 'scripts', 'docs', '.git']) if (existsSync(join(app, f))) fail(`${st.workdir}/${f} is in the image`);
  const strays = (readdirSync(join(app, 'dist'), { recursive: true, encoding: 'utf8' })).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  if (strays.length > 0) fail(`TypeScript sources in dist/: ${strays.slice(0, 3).join(', ')}`);
  return {
    root: st.root, env: [...st.env], user, asRoot, workdir: st.workdir, entrypoint: st.entrypoint!, cmd: st.cmd ?? [], healthcheck: st.healthcheck!,
    volume: '/data', work: '',
  };
}

/** In the mount namespace: build, check, then run the image in a network namespace of its own. */
async function inner(work: string, outerNamespace: string, dockerfile: string): Promise<number> {
  // Mounts below must never land in the machine's namespace.
  if (mountNamespace() === outerNamespace) throw new Error('not in a mount namespace of our own: refusing to mount');
  const started = Date.now();
  const node = IMAGE_NODE_IDS(asRoot);
  if (!asRoot) log('not root: the image\'s users are all this one uid here (ownership is not told apart); the read-only root still holds');
  const stages = replayBuild({
    context: repo, dockerfile, work, node, asRoot, nodeVersion: process.versions.node, npmCache: npmCache(), network: network(),
    // A layer cache per user: another's is not theirs to write.
    layers: new LayerCache(join(tmpdir(), `sdata-docker-layers-${outerUid()}`)), log,
  });
  log(`built ${stages.length} stages in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const image = { ...checkImage(stages.at(-1)!, node), work };
  const state = join(work, 'image.json');
  writeFileSync(state, JSON.stringify(image));
  return again(['unshare', '--net', '--', process.execPath, SCRIPT, '--run', state]);
}

async function main(): Promise<number> {
  const a = process.argv.slice(2);
  try {
    if (a[0] === '--inner') return await inner(a[1]!, a[2]!, a[3]!);
    if (a[0] === '--run') {
      const image = JSON.parse(readFileSync(a[1]!, 'utf8')) as Image;
      await runImage(image, log);
      return 0;
    }
    const started = Date.now();
    const d = a.indexOf('--dockerfile');
    const code = await outer(a.includes('--keep'), d >= 0 ? resolve(a[d + 1]!) : join(repo, 'Dockerfile'));
    if (code === 0) log(`ok: the image builds and runs (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return code;
  } catch (e) {
    if (e instanceof DockerfileError || e instanceof Check) log(`FAIL: ${e.message}`);
    else log(`FAIL: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

process.exitCode = await main();
