import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthCheck } from './build.ts';
import { mount, mountsUnder, sh, type Ids } from './sandbox.ts';

/**
 * `docker run` of the built image, several containers at once, as a deployment would run them: the image root
 * read-only (docker run --read-only), /data a volume of each container's own, the image's USER, ENV, WORKDIR,
 * ENTRYPOINT and CMD, its HEALTHCHECK as the engine runs it. Runs in a network namespace of its own (only
 * loopback, brought up here): the containers share it, as on a user-defined network, so the image's port 8080 is
 * free whatever else this machine runs.
 */

export interface Image {
  root: string;
  env: Array<[string, string]>;
  user: Ids;
  /** Supplementary groups can be set (not in a user namespace). */
  asRoot: boolean;
  workdir: string;
  entrypoint: string[];
  cmd: string[];
  healthcheck: HealthCheck;
  volume: string;
  /** Where volumes are made. */
  work: string;
}

interface Ran { code: number | null; stdout: string; stderr: string }

class Containers {
  private n = 0;
  private readonly img: Image;
  private readonly log: (l: string) => void;
  constructor(img: Image, log: (l: string) => void) {
    this.img = img;
    this.log = log;
  }

  /** A fresh named volume (docker volume create), owned by the image's user as the image's /data is. */
  volume(name: string): string {
    const dir = mkdtempSync(join(this.img.work, `volume-${name}-`));
    const s = statSync(join(this.img.root, this.img.volume));
    chownSync(dir, s.uid, s.gid);
    return dir;
  }

  /** docker run [--rm] [-v VOLUME:/data] [-e …] IMAGE ARGS (an anonymous volume when none is given). */
  start(args: readonly string[], o: { volume?: string; env?: Record<string, string>; command?: readonly string[]; what?: string } = {}): ChildProcess {
    const i = this.img;
    const vol = o.volume ?? this.volume(`anon${++this.n}`);
    const env = [['HOME', i.user.home], ...i.env, ...Object.entries(o.env ?? {})].map(([k, v]) => `${k}=${v}`);
    const argv = o.command ?? [...i.entrypoint, ...(args.length > 0 ? args : i.cmd)];
    const user = i.asRoot ? [`--userspec=${i.user.uid}:${i.user.gid}`, `--groups=${i.user.gid}`] : [];
    this.log(o.what ?? `docker run ${argv.slice(i.entrypoint.length).join(' ')}`);
    return spawn('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', 'mount --bind "$1" "$2" && shift 2 && exec "$@"', 'container',
      vol, join(i.root, i.volume), 'chroot', ...user, i.root, '/usr/bin/env', '-i', '-C', i.workdir, ...env, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  async run(args: readonly string[], o: Parameters<Containers['start']>[1] & { input?: string; timeoutMs?: number } = {}): Promise<Ran> {
    return collect(this.start(args, o), { input: o.input ?? '', timeoutMs: o.timeoutMs ?? 30_000 });
  }

  /** The HEALTHCHECK's command in a running container (docker exec: its env and volume), bounded by --timeout. */
  async health(o: { volume: string; env: Record<string, string>; test?: string[] }): Promise<Ran> {
    const timeout = durationMs(this.img.healthcheck.options['timeout'] ?? '30s');
    const test = o.test ?? this.img.healthcheck.test;
    return collect(this.start([], { ...o, command: test, what: `HEALTHCHECK ${test.at(-1)}` }), { input: '', timeoutMs: timeout });
  }
}

/** A container's output and exit code; `input` (if given) is its stdin, and it is killed after `timeoutMs`. */
function collect(c: ChildProcess, o: { input?: string; timeoutMs?: number } = {}): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  c.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  c.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (o.input !== undefined) {
    c.stdin!.on('error', () => undefined);
    c.stdin!.end(o.input);
  }
  const timer = setTimeout(() => c.kill('SIGKILL'), o.timeoutMs ?? 30_000);
  return once(c, 'close').then(([code]) => {
    clearTimeout(timer);
    return { code: code as number | null, stdout, stderr };
  });
}

function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d)!;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

class Check extends Error {}
function expect(ok: boolean, what: string, r?: Ran): void {
  if (!ok) throw new Check(`${what}${r ? ` (exit ${r.code})\n${r.stderr.trim().split('\n').slice(-8).join('\n')}` : ''}`);
}

/** The image root read-only, as `docker run --read-only` has it (the volumes mounted per container stay writable). */
function readOnlyRoot(root: string): void {
  mount('--rbind', root, root);
  for (const m of mountsUnder(root).reverse()) {
    if (/\/(proc|dev|sys)(\/|$)/.test(m.slice(root.length))) continue;
    mount('-o', 'remount,bind,ro', m);
  }
  let wrote = false;
  try {
    writeFileSync(join(root, 'app', '.probe'), 'x');
    wrote = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EROFS') throw e;
  }
  expect(!wrote, `the image root ${root} is still writable after the read-only remount`);
}

const TOKENS = { hub: 'replay-hub-token-0123456789', erp: 'replay-erp-token-0123456789' };

export async function runImage(img: Image, log: (l: string) => void): Promise<void> {
  sh('ip', ['link', 'set', 'lo', 'up']);
  readOnlyRoot(img.root);
  const c = new Containers(img, log);
  const started = Date.now();

  const help = await c.run([]);
  expect(help.code === 0 && /Usage: sdata-sync/.test(help.stdout), 'ENTRYPOINT + CMD (--help)', help);
  const version = await c.run(['--version']);
  expect(version.code === 0 && /^sdata-sync \d+\.\d+\.\d+ \(node 24\./.test(version.stdout), '--version', version);
  log(`image: ${version.stdout.trim()}`);
  // Read-only: a write outside /data fails, and says where.
  const tmpWrite = await c.run(['seed', '--db', '/tmp/x.db', '--app', 'hub', '--contract', 'crm', '--kind', 'accounts', '--quiet', '1']);
  expect(tmpWrite.code === 4 && tmpWrite.stderr.includes('/tmp/x.db'), 'seed into /tmp on the read-only root fails with exit 4, naming the file', tmpWrite);

  // Two stores, filled through the image, then served.
  const hubVol = c.volume('hub');
  const erpVol = c.volume('erp');
  for (const [vol, app, seed, n] of [[hubVol, 'hub', '1', '300'], [erpVol, 'erp', '2', '120']] as const) {
    const r = await c.run(['seed', '--db', `/data/${app}.db`, '--app', app, '--contract', 'crm', '--kind', 'accounts', '--seed', seed, '--quiet', n], { volume: vol });
    expect(r.code === 0, `seed ${app}`, r);
  }
  const before = await c.health({ volume: hubVol, env: { SDATA_SERVE_TOKEN: TOKENS.hub } });
  expect(before.code === 5, 'the HEALTHCHECK reports unhealthy (5) before serve listens', before);
  const serves = {
    hub: { vol: hubVol, port: '8080', env: { SDATA_SERVE_TOKEN: TOKENS.hub } },
    erp: { vol: erpVol, port: '8081', env: { SDATA_SERVE_TOKEN: TOKENS.erp } },
  };
  const running: Array<{ name: string; p: ChildProcess; err: () => string }> = [];
  try {
    for (const [name, s] of Object.entries(serves)) {
      const p = c.start(['serve', '--db', `/data/${name}.db`, '--host', '0.0.0.0', '--port', s.port], { volume: s.vol, env: s.env });
      let err = '';
      p.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      p.stdout!.resume();
      running.push({ name, p, err: () => err });
      // The image's HEALTHCHECK for the hub (port 8080, app hub); the erp one is served elsewhere, so its check
      // is the same command with its own URL, as `docker run --health-cmd` would give it.
      const test = name === 'hub' ? undefined : img.healthcheck.test.map((w) => w.replace('http://127.0.0.1:8080/sdata/hub/', `http://127.0.0.1:${s.port}/sdata/${name}/`));
      const deadline = Date.now() + 30_000;
      for (;;) {
        const h = await c.health({ volume: s.vol, env: s.env, ...(test ? { test } : {}) });
        if (h.code === 0) {
          expect(/\$health: 200 in \d+ ms\n$/.test(h.stdout), `${name}: the HEALTHCHECK says what answered`, h);
          const res = await fetch(`http://127.0.0.1:${s.port}/sdata/${name}/crm/-/$health`, { headers: { authorization: `Bearer ${TOKENS[name as 'hub' | 'erp']}` } });
          expect(res.status === 200 && ((await res.json()) as { app: string }).app === name, `${name}: $health names the app`);
          break;
        }
        expect(p.exitCode === null, `serve ${name} exited ${p.exitCode}: ${err}`);
        expect(Date.now() < deadline, `serve ${name}: healthy within 30 s`, h);
        await sleep(200);
      }
      log(`serve ${name}: healthy (HEALTHCHECK exit 0)`);
    }

    const base = (name: 'hub' | 'erp'): string => `http://127.0.0.1:${serves[name].port}/sdata/${name}/crm/-`;
    // One volume for the runs' state directory (the image's XDG_STATE_HOME=/data/state), as a CronJob would keep it.
    const stateVol = c.volume('sync-state');
    for (const [from, to] of [['hub', 'erp'], ['erp', 'hub']] as const) {
      const r = await c.run(['run', '--source', base(from), '--target', base(to), '--kind', 'accounts', '--progress', 'none', '--quiet'], {
        volume: stateVol, env: { SDATA_SOURCE_TOKEN: TOKENS[from], SDATA_TARGET_TOKEN: TOKENS[to] }, timeoutMs: 60_000,
      });
      expect(r.code === 0, `run ${from} → ${to}`, r);
      expect(!/state dir|cannot keep the journal/.test(r.stderr), `run ${from} → ${to}: the journal of open contexts has a place to go`, r);
    }
    const journal = join(stateVol, 'state', 'sdata-sync', 'contexts');
    expect(existsSync(journal) && statSync(journal).uid === img.user.uid, `the runs kept their journal in the volume (${journal}), as the image's user`);
    const checksum = async (name: 'hub' | 'erp'): Promise<unknown> => {
      const res = await fetch(`${base(name)}/accounts/$checksum`, { headers: { authorization: `Bearer ${TOKENS[name]}` } });
      expect(res.status === 200, `GET ${name} $checksum: ${res.status}`);
      return res.json();
    };
    const [hub, erp] = [await checksum('hub'), await checksum('erp')];
    expect(JSON.stringify(hub) === JSON.stringify(erp), `the two stores converged: ${JSON.stringify(hub)} vs ${JSON.stringify(erp)}`);
    expect((hub as { count: number }).count === 420, `420 accounts on both sides, not ${(hub as { count: number }).count}`);
    log('run hub → erp → hub: converged, 420 accounts each; their journal of open contexts on the volume');
  } finally {
    for (const r of running) r.p.kill('SIGTERM');
    for (const r of running) {
      const [code] = r.p.exitCode === null ? await once(r.p, 'exit') as [number | null] : [r.p.exitCode];
      expect(code === 0 && /stopped, database closed/.test(r.err()), `serve ${r.name}: docker stop (SIGTERM) → exit 0 (got ${code}): ${r.err()}`);
    }
  }
  for (const [name, s] of Object.entries(serves)) {
    const db = join(s.vol, `${name}.db`);
    expect(existsSync(db) && statSync(db).uid === img.user.uid, `${name}.db is in its volume, owned by the image's user`);
  }

  // A pipe between two containers: gen | plan.
  const gen = c.start(['gen', '2000']);
  const plan = c.start(['plan']);
  gen.stdout!.pipe(plan.stdin!);
  gen.stderr!.resume();
  const planned = collect(plan, { timeoutMs: 60_000 });
  const [genCode] = await once(gen, 'close') as [number | null];
  const p = await planned;
  expect(genCode === 0 && p.code === 0, 'gen 2000 | plan', p);
  expect(/"read":2000,"forwarded":2000/.test(p.stderr) && (p.stdout.match(/<entry[\s>]/g)?.length ?? 0) === 2000, 'plan forwarded the 2000 entries', p);
  log(`gen | plan: 2000 entries; the containers ran in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

export { Check };
