import { spawnSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, posix, relative } from 'node:path';
import { DockerIgnore } from './ignore.ts';
import { LayerCache } from './layers.ts';
import { DockerfileError, execForm, pairs, parseDockerfile, substitute, words, type Instruction } from './parse.ts';
import { baseImage, mount, resolveUser, sh, type Ids } from './sandbox.ts';

/**
 * `docker build`, instruction by instruction, into one directory per stage (sandbox.ts makes each a root). Every
 * instruction of the reference is either honoured or refused: an unknown one fails the replay rather than be
 * skipped, so that what is checked is what Docker would build.
 */

export interface HealthCheck {
  options: Record<string, string>;
  /** The exec form's words, or ['/bin/sh', '-c', line] for the shell form. */
  test: string[];
}

export interface Stage {
  name: string;
  root: string;
  base: string;
  env: Map<string, string>;
  args: Map<string, string>;
  workdir: string;
  user: string;
  labels: Map<string, string>;
  expose: string[];
  volumes: string[];
  healthcheck: HealthCheck | undefined;
  entrypoint: string[] | undefined;
  cmd: string[] | undefined;
  /** The layer-cache key of the stage as built so far (layers.ts). */
  key: string;
}

export interface BuildOptions {
  context: string;
  dockerfile: string;
  /** Where stage roots go (one directory each). */
  work: string;
  /** The image's node user (sandbox.ts IMAGE_NODE_IDS). */
  node: Ids;
  /** Root: processes take the image user's uid and groups. In a user namespace there is only ours: no switch. */
  asRoot: boolean;
  /** The Node version the tests pin: the base image must be that one. */
  nodeVersion: string;
  /** Directory that a `RUN --mount=type=cache,target=/root/.npm` gets (the npm cache of whoever runs the replay). */
  npmCache: string;
  /**
   * How this machine reaches the registry (proxies, a CA of a TLS-inspecting proxy), given to RUN steps only, as
   * `docker build --build-arg HTTPS_PROXY=…` would be: never in a stage's ENV, so never in the image.
   */
  network: Record<string, string>;
  /** Where RUN results are kept between builds (absent: every RUN runs). */
  layers?: LayerCache;
  log: (line: string) => void;
}

const BASE_ENV = (nodeVersion: string): Array<[string, string]> => [['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], ['NODE_VERSION', nodeVersion]];
const DURATION = /^\d+(ms|s|m|h)$/;

export function replayBuild(o: BuildOptions): Stage[] {
  const ins = parseDockerfile(readFileSync(o.dockerfile, 'utf8'));
  const ignorePath = join(o.context, '.dockerignore');
  const ignore = new DockerIgnore(existsSync(ignorePath) ? readFileSync(ignorePath, 'utf8') : '');
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  let volumeSnapshots = new Map<string, string>();
  for (const i of ins) {
    const st = stages.at(-1);
    const fail = (msg: string): never => {
      throw new DockerfileError(i.line, `${i.op}: ${msg}`);
    };
    const vars = (): Map<string, string> => new Map([...(st?.args ?? globalArgs), ...(st?.env ?? [])]);
    if (!st && i.op !== 'FROM' && i.op !== 'ARG') fail('only ARG may come before the first FROM');
    const text = `${i.op} ${[...i.flags].flatMap(([k, vs]) => vs.map((v) => `--${k}=${v} `)).join('')}${i.args}`;
    o.log(text);
    if (st) st.key = LayerCache.next(st.key, text);
    for (const f of i.flags.keys()) if (!FLAGS[i.op]?.includes(f)) fail(`option --${f} is not one this replay knows`);
    switch (i.op) {
      case 'ARG': {
        const [name, value] = /=/.test(i.args) ? pairs(i, i.args)[0]! : [i.args.trim(), undefined];
        const scope = st ? st.args : globalArgs;
        const v = value === undefined ? (st ? globalArgs.get(name) : undefined) : substitute(value, vars());
        if (v !== undefined) scope.set(name, v);
        break;
      }
      case 'FROM': {
        const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(substitute(i.args, globalArgs));
        if (!m) fail(`expected IMAGE [AS NAME]: ${i.args}`);
        const image = m![1]!;
        const root = join(o.work, `stage-${stages.length}`);
        mkdirSync(root, { recursive: true });
        const from = stages.find((s) => s.name === image);
        if (from) fail(`FROM an earlier stage (${image}) is not replayed`);
        const tag = /^node:(\d+\.\d+\.\d+)-bookworm-slim$/.exec(image);
        if (!tag) fail(`${image}: the replay stands in for node:X.Y.Z-bookworm-slim only (this machine's Debian 12 userland); pin the image by its full tag`);
        if (tag![1] !== o.nodeVersion) fail(`${image}: the tests pin Node ${o.nodeVersion} (package-lock.json); the image must run the same`);
        const priv = join(o.work, `priv-${stages.length}`);
        mkdirSync(priv);
        baseImage(root, priv, o.node);
        stages.push({
          name: m![2] ?? String(stages.length), root, base: image, env: new Map(BASE_ENV(o.nodeVersion)), args: new Map(), workdir: '/', user: 'root',
          labels: new Map(), expose: [], volumes: [], healthcheck: undefined, entrypoint: undefined, cmd: undefined,
          key: LayerCache.next('', image, JSON.stringify([...globalArgs]), `node ${o.node.uid}:${o.node.gid}`),
        });
        volumeSnapshots = new Map();
        break;
      }
      case 'ENV':
        for (const [k, v] of pairs(i, substitute(i.args, vars()))) st!.env.set(k, v);
        break;
      case 'LABEL':
        for (const [k, v] of pairs(i, substitute(i.args, vars()))) st!.labels.set(k, v);
        break;
      case 'WORKDIR': {
        st!.workdir = posix.resolve(st!.workdir, substitute(i.args, vars()));
        mkdirSync(join(st!.root, st!.workdir), { recursive: true });
        break;
      }
      case 'USER': {
        const user = substitute(i.args, vars()).trim();
        try {
          resolveUser(st!.root, user);
        } catch (e) {
          fail((e as Error).message);
        }
        st!.user = user;
        break;
      }
      case 'EXPOSE':
        for (const p of words(substitute(i.args, vars()))) {
          if (!/^\d+(\/(tcp|udp))?$/.test(p)) fail(`${p} is not PORT[/tcp|/udp]`);
          st!.expose.push(p);
        }
        break;
      case 'VOLUME': {
        const paths = execForm(i, substitute(i.args, vars())) ?? words(substitute(i.args, vars()));
        for (const p of paths) {
          if (!p.startsWith('/')) fail(`${p}: a volume is an absolute path`);
          st!.volumes.push(p);
          volumeSnapshots.set(p, snapshot(join(st!.root, p)));
        }
        break;
      }
      case 'COPY':
        st!.key = LayerCache.next(st!.key, copy(i, st!, stages, o, ignore, vars(), fail));
        break;
      case 'RUN': {
        if (o.layers?.restore(st!.key, st!.root)) o.log('  (the result of an earlier build of this step: its layer, from the cache)');
        else {
          const before = o.layers ? LayerCache.state(st!.root) : undefined;
          run(i, st!, o, fail);
          if (before) o.layers!.save(st!.key, st!.root, before);
        }
        // Docker keeps a volume's content as it was when VOLUME was declared: later changes would be lost.
        for (const [p, before] of volumeSnapshots) if (snapshot(join(st!.root, p)) !== before) fail(`changes ${p} after VOLUME ${p}: Docker discards them`);
        break;
      }
      case 'HEALTHCHECK': {
        if (i.args.trim() === 'NONE') {
          st!.healthcheck = undefined;
          break;
        }
        const m = /^CMD\s+([\s\S]+)$/.exec(i.args);
        if (!m) fail('expected NONE or CMD …');
        const options = Object.fromEntries([...i.flags].map(([k, v]) => [k, v.at(-1)!]));
        for (const k of ['interval', 'timeout', 'start-period', 'start-interval']) if (options[k] !== undefined && !DURATION.test(options[k])) fail(`--${k}=${options[k]} is not a duration`);
        if (options['retries'] !== undefined && !/^\d+$/.test(options['retries'])) fail(`--retries=${options['retries']} is not a count`);
        st!.healthcheck = { options, test: execForm(i, m![1]!.trim()) ?? ['/bin/sh', '-c', m![1]!.trim()] };
        break;
      }
      case 'ENTRYPOINT':
      case 'CMD': {
        // The shell form would make /bin/sh PID 1: docker stop's SIGTERM would never reach node.
        const w = execForm(i) ?? fail('use the exec form (a JSON array): in the shell form /bin/sh is PID 1 and signals do not reach node');
        if (i.op === 'ENTRYPOINT') {
          st!.entrypoint = w;
          st!.cmd = undefined; // an ENTRYPOINT resets the CMD inherited so far
        } else st!.cmd = w;
        break;
      }
      default:
        fail('not an instruction this replay knows (it honours FROM ARG ENV LABEL WORKDIR USER EXPOSE VOLUME COPY RUN HEALTHCHECK ENTRYPOINT CMD)');
    }
  }
  if (stages.length === 0) throw new DockerfileError(1, 'no FROM');
  o.layers?.prune();
  return stages;
}

const FLAGS: Record<string, string[]> = {
  COPY: ['from', 'chown', 'chmod', 'link'],
  RUN: ['mount'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};

/** Every path under `dir` with its owner, mode, size and mtime: equal strings, same content as far as a build goes. */
function snapshot(dir: string): string {
  if (!existsSync(dir)) return '';
  const rows: string[] = [];
  const walk = (p: string): void => {
    const s = lstatSync(p);
    rows.push(`${relative(dir, p)} ${s.uid}:${s.gid} ${s.mode.toString(8)} ${s.size} ${s.mtimeMs}`);
    if (s.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(dir);
  return rows.join('\n');
}

/** Copies, and returns the content copied (for the layer key). */
function copy(i: Instruction, st: Stage, stages: readonly Stage[], o: BuildOptions, ignore: DockerIgnore, vars: Map<string, string>, fail: (m: string) => never): string {
  const all = execForm(i, substitute(i.args, vars)) ?? words(substitute(i.args, vars));
  if (all.length < 2) fail('expected SRC… DEST');
  const dest = all.pop()!;
  const fromName = i.flags.get('from')?.at(-1);
  const from = fromName === undefined ? undefined : stages.find((s) => s.name === fromName) ?? fail(`--from=${fromName}: no earlier stage of that name`);
  const chown = i.flags.get('chown')?.at(-1);
  const owner = chown === undefined ? undefined : resolveUser(st.root, chown.includes(':') ? chown : `${chown}:${chown}`);
  const chmod = i.flags.get('chmod')?.at(-1);
  if (chmod !== undefined && !/^[0-7]{3,4}$/.test(chmod)) fail(`--chmod=${chmod}: octal modes only`);
  const destIn = posix.resolve(st.workdir, dest);
  const intoDir = dest.endsWith('/') || all.length > 1;
  const content: string[] = [];
  for (const src of all) {
    if (/[*?[]/.test(src)) fail(`${src}: wildcards are not replayed`);
    let path: string;
    let keep: (p: string) => boolean = () => true;
    if (from) {
      path = join(from.root, posix.resolve('/', src));
    } else {
      const rel = posix.normalize(src).replace(/^\.?\/+/, '');
      if (rel.startsWith('..')) fail(`${src} is outside the build context`);
      if (ignore.excluded(rel)) fail(`${src} is excluded by .dockerignore: the builder would not find it`);
      path = join(o.context, rel);
      keep = (p) => !ignore.excluded(relative(o.context, p).split('\\').join('/'));
    }
    if (!existsSync(path)) fail(`${src}: no such file ${from ? `in stage ${from.name}` : 'in the build context'}`);
    // A directory's content goes into DEST; a file goes to DEST, or into it when DEST is a directory.
    const target = statSync(path).isDirectory() ? destIn : intoDir || (existsSync(join(st.root, destIn)) && statSync(join(st.root, destIn)).isDirectory()) ? posix.join(destIn, basename(src)) : destIn;
    const out = join(st.root, target);
    content.push(LayerCache.content(path, keep));
    cpSync(path, out, { recursive: true, verbatimSymlinks: true, filter: keep });
    if (owner || chmod) {
      const walk = (p: string): void => {
        if (owner) chownSync(p, owner.uid, owner.gid);
        if (chmod) sh('chmod', [chmod, p]);
        if (lstatSync(p).isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
      };
      walk(out);
    }
  }
  return content.join(' ');
}

function run(i: Instruction, st: Stage, o: BuildOptions, fail: (m: string) => never): void {
  const argv = execForm(i) ?? ['/bin/sh', '-c', i.args];
  const mounts: string[] = [];
  for (const spec of i.flags.get('mount') ?? []) {
    const kv = new Map(spec.split(',').map((p) => p.split('=') as [string, string]));
    if (kv.get('type') !== 'cache') fail(`--mount=${spec}: only type=cache is replayed`);
    const target = kv.get('target') ?? kv.get('dst') ?? kv.get('destination') ?? fail(`--mount=${spec}: no target`);
    // BuildKit keeps a cache mount across builds, outside every layer; the npm cache one shares ours.
    const dir = target === '/root/.npm' ? o.npmCache : fail(`--mount=${spec}: only a cache of /root/.npm is replayed`);
    const at = join(st.root, target);
    mkdirSync(at, { recursive: true });
    mkdirSync(dir, { recursive: true });
    mount('--bind', dir, at);
    mounts.push(at);
  }
  const ids = resolveUser(st.root, st.user);
  const env = new Map([['HOME', ids.home], ...Object.entries(o.network), ...st.env]);
  try {
    const r = spawnSync('chroot', [...(o.asRoot ? [`--userspec=${ids.uid}:${ids.gid}`] : []), st.root, '/usr/bin/env', '-i', '-C', st.workdir, ...[...env].map(([k, v]) => `${k}=${v}`), ...argv], {
      stdio: ['ignore', process.stderr, process.stderr],
    });
    if (r.error) fail(`cannot start: ${r.error.message}`);
    if (r.status !== 0) fail(`exited ${r.status ?? r.signal}: ${i.args}`);
  } finally {
    for (const m of mounts) sh('umount', [m]);
  }
}
