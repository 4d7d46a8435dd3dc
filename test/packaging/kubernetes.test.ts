import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { COMMAND_NAMES, type CommandName } from '../../src/cli/commands.ts';
import { checkEnvNames, readConfigFile } from '../../src/cli/config.ts';
import { parseFor, settle } from '../../src/cli/program.ts';
import { defaultStateDir } from '../../src/engine/journal.ts';
import { EXIT } from '../../src/protocol/errors.ts';
import { parseTokens } from '../../src/provider/http/auth.ts';

/**
 * docs/kubernetes/: every manifest parses, and holds what its guide (docs/kubernetes/README.md) says it does. Each
 * container's command line goes through the CLI's own parser and layers (flags > SDATA_SYNC_* > the ConfigMap's
 * config.json > defaults), with the container's environment and the ConfigMap written to files, so a mistyped flag,
 * variable or config key fails here as it would in the pod. The Indexed Jobs' shell step runs for real (sh, sed),
 * with the image's bin replaced by a stub that prints the command line it was given.
 */

const ROOT = new URL('../../', import.meta.url);
const DIR = new URL('docs/kubernetes/', ROOT);
const read = (u: URL): string => readFileSync(u, 'utf8');

// --- the manifests, typed as far as the checks read them --------------------------------------------------------

interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }
interface Mount { name: string; mountPath: string; readOnly?: boolean }
interface Probe { exec?: { command: string[] }; httpGet?: unknown; timeoutSeconds?: number }
interface SecurityContext { runAsNonRoot?: boolean; runAsUser?: number; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } }
interface Container {
  name: string; image: string; command?: string[]; args?: string[]; env?: EnvVar[]; volumeMounts?: Mount[];
  ports?: { name?: string; containerPort: number }[]; securityContext?: SecurityContext;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  startupProbe?: Probe; readinessProbe?: Probe; livenessProbe?: Probe;
}
interface Volume { name: string; configMap?: { name: string }; emptyDir?: object; persistentVolumeClaim?: { claimName: string } }
interface PodSpec {
  containers: Container[]; volumes?: Volume[]; restartPolicy?: string; enableServiceLinks?: boolean;
  securityContext?: SecurityContext;
}
interface Rule {
  action: 'Ignore' | 'Count' | 'FailJob' | 'FailIndex';
  onExitCodes?: { containerName?: string; operator: 'In' | 'NotIn'; values: number[] };
  onPodConditions?: { type: string }[];
}
interface JobSpec {
  template: { spec: PodSpec }; completionMode?: string; completions?: number; parallelism?: number;
  backoffLimit?: number; backoffLimitPerIndex?: number; podFailurePolicy?: { rules: Rule[] };
}
interface Manifest {
  apiVersion: string; kind: string; file: string;
  metadata: { name?: string; generateName?: string };
  data?: Record<string, string>; stringData?: Record<string, string>;
  spec?: {
    // CronJob
    concurrencyPolicy?: string; jobTemplate?: { spec: JobSpec };
    // Deployment
    replicas?: number; strategy?: { type: string }; template?: { spec: PodSpec };
    // Service
    ports?: { port: number; targetPort: string | number }[]; selector?: Record<string, string>;
    // PersistentVolumeClaim
    accessModes?: string[];
  } & Partial<JobSpec>;
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
const manifests: Manifest[] = files.flatMap((file) => parseAllDocuments(read(new URL(file, DIR))).map((doc) => {
  assert.deepEqual(doc.errors.map((e) => e.message), [], `${file}: YAML errors`);
  return { ...(doc.toJS() as Omit<Manifest, 'file'>), file };
}));
const named = (m: Manifest): string => `${m.file}: ${m.kind} ${m.metadata.name ?? m.metadata.generateName ?? '?'}`;
const ofKind = (kind: string): Manifest[] => manifests.filter((m) => m.kind === kind);

const API: Record<string, string> = {
  ConfigMap: 'v1', Secret: 'v1', Service: 'v1', PersistentVolumeClaim: 'v1', Deployment: 'apps/v1', Job: 'batch/v1', CronJob: 'batch/v1',
};

/** A workload's pod spec and Job spec (if it is one). */
interface Workload { m: Manifest; pod: PodSpec; job: JobSpec | undefined }
function workloads(): Workload[] {
  return manifests.flatMap((m): Workload[] => {
    if (m.kind === 'CronJob') return [{ m, pod: m.spec!.jobTemplate!.spec.template.spec, job: m.spec!.jobTemplate!.spec }];
    if (m.kind === 'Job') return [{ m, pod: m.spec!.template!.spec, job: m.spec as JobSpec }];
    if (m.kind === 'Deployment') return [{ m, pod: m.spec!.template!.spec, job: undefined }];
    return [];
  });
}

// --- the ConfigMaps as the pods see them: files in a temporary directory -----------------------------------------

const tmp = mkdtempSync(join(tmpdir(), 'sdata-k8s-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const configMapDir = new Map<string, string>();
for (const cm of ofKind('ConfigMap')) {
  const dir = join(tmp, `configmap-${cm.metadata.name!}`);
  mkdirSync(dir);
  for (const [key, text] of Object.entries(cm.data ?? {})) writeFileSync(join(dir, key), text);
  configMapDir.set(cm.metadata.name!, dir);
}

/** Mount path of each ConfigMap volume -> where its files are here. */
function configMounts(pod: PodSpec, c: Container): [string, string][] {
  return (c.volumeMounts ?? []).flatMap((vm) => {
    const cm = pod.volumes?.find((v) => v.name === vm.name)?.configMap;
    const dir = cm && configMapDir.get(cm.name);
    assert.ok(!cm || dir, `volume ${vm.name}: ConfigMap ${cm?.name} is in docs/kubernetes`);
    return dir ? [[vm.mountPath, dir] as [string, string]] : [];
  });
}

const remap = (s: string, mounts: [string, string][]): string => {
  for (const [from, to] of mounts) if (s === from || s.startsWith(`${from}/`)) return to + s.slice(from.length);
  return s;
};

/** The container's environment as its process sees it (Secrets: a stand-in value), ConfigMap paths remapped. */
function envOf(pod: PodSpec, c: Container): Record<string, string> {
  const mounts = configMounts(pod, c);
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) env[e.name] = e.valueFrom?.secretKeyRef ? 'stand-in-secret-value' : remap(e.value ?? '', mounts);
  return env;
}

/** Kubernetes' expansion of `$(VAR)` in command and args (unknown names stay as written; `$$` is `$`). */
const expand = (s: string, env: Record<string, string>): string =>
  s.replace(/\$\$|\$\(([A-Za-z_][\w.-]*)\)/g, (m: string, v: string | undefined) => (m === '$$' ? '$' : v !== undefined && v in env ? env[v]! : m));

/** The bin the image's ENTRYPOINT starts, from the Dockerfile (its shebang has the same V8 flags: runtime-flags.test.ts). */
const entrypoint = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(read(new URL('Dockerfile', ROOT)))![1]!) as string[];
const BIN = entrypoint.at(-1)!;

/** The image's ENV lines (the container's own env is added on top, as Kubernetes does). */
const IMAGE_ENV = Object.fromEntries([...read(new URL('Dockerfile', ROOT)).matchAll(/^ENV\s+(\w+)=(\S+)\s*$/gm)].map((m) => [m[1]!, m[2]!]));

/** A stand-in for the image's bin: prints its arguments, NUL-separated. */
const STUB = join(tmp, 'sdata-sync-stub');
writeFileSync(STUB, '#!/bin/sh\nprintf \'%s\\0\' "$@"\n');
chmodSync(STUB, 0o755);

interface Invocation { argv: string[]; label: string }

/**
 * The sdata-sync command lines a container runs: its args under the image's ENTRYPOINT, or, for the Indexed Jobs'
 * `sh -c` step, what that step execs for each completion index (run here with the stub as the bin).
 */
function invocations(m: Manifest, pod: PodSpec, c: Container, job: JobSpec | undefined): Invocation[] {
  const env = envOf(pod, c);
  const args = (c.args ?? []).map((a) => expand(remap(a, configMounts(pod, c)), env));
  const label = `${named(m)}, container ${c.name}`;
  if (c.command === undefined) return [{ argv: args, label }];
  const [shell, dashC, script, ...rest] = c.command.map((a) => expand(a, env));
  assert.deepEqual([shell, dashC], ['/bin/sh', '-c'], `${label}: a command is a sh -c step`);
  assert.ok(script!.includes(`exec ${BIN} "$@"`), `${label}: the step execs the image's bin (${BIN}) with the container's args`);
  assert.equal(job?.completionMode, 'Indexed', `${label}: a sh step only picks a kind per completion index`);
  const runStep = (index: number): ReturnType<typeof spawnSync> =>
    spawnSync('/bin/sh', ['-c', script!.replaceAll(BIN, STUB), ...rest, ...args], {
      env: { PATH: process.env['PATH'], ...env, JOB_COMPLETION_INDEX: String(index) }, encoding: 'utf8',
    });
  const out: Invocation[] = [];
  for (let i = 0; i < job.completions!; i++) {
    const r = runStep(i);
    assert.equal(r.status, 0, `${label}, index ${i}: ${String(r.stderr)}`);
    out.push({ argv: String(r.stdout).split('\0').slice(0, -1), label: `${label}, index ${i}` });
  }
  // One index too many (completions raised without a kind added): a usage error, not a run of something else.
  const past = runStep(job.completions!);
  assert.equal(past.status, EXIT.USAGE, `${label}: index ${job.completions} has no kind and exits 2: ${String(past.stdout)}`);
  return out;
}

interface Settled { name: CommandName; values: Record<string, unknown>; env: Record<string, string> }

/** Parses and settles a command line as `sdata-sync` would: a wrong flag, variable, key or value throws its usage error. */
async function settleArgv(argv: string[], env: Record<string, string>, label: string): Promise<Settled> {
  const [name, ...rest] = argv;
  assert.ok((COMMAND_NAMES as (string | undefined)[]).includes(name), `${label}: '${name}' is an sdata-sync command`);
  const cmd = name as CommandName;
  try {
    const { input } = await settle(cmd, await parseFor(cmd, rest), env);
    return { name: cmd, values: input.values, env };
  } catch (e) {
    assert.fail(`${label}: sdata-sync ${argv.join(' ')}: ${(e as Error).message}`);
  }
}

async function everyCommand(): Promise<(Settled & { m: Manifest; pod: PodSpec; c: Container; label: string })[]> {
  const out = [];
  for (const { m, pod, job } of workloads()) {
    for (const c of pod.containers) {
      for (const inv of invocations(m, pod, c, job)) out.push({ ...(await settleArgv(inv.argv, envOf(pod, c), inv.label)), m, pod, c, label: inv.label });
    }
  }
  return out;
}

const CREDENTIAL = /^SDATA_(SOURCE|TARGET)_(TOKEN|USER|PASSWORD)$|^SDATA_SERVE_(TOKEN|USERS_FILE)$|TOKEN|PASSW|SECRET/;

// --- the tests ---------------------------------------------------------------------------------------------------

test('every manifest parses and has the apiVersion of its kind; the guide names every file', () => {
  assert.ok(manifests.length > 0);
  for (const m of manifests) assert.equal(m.apiVersion, API[m.kind], `${named(m)}: kind ${m.kind} is one the guide uses, in ${API[m.kind]}`);
  assert.deepEqual([...new Set(manifests.map((m) => m.kind))].sort(), Object.keys(API).sort());
  const guide = read(new URL('README.md', DIR));
  for (const f of readdirSync(DIR).filter((x) => x !== 'README.md')) assert.ok(guide.includes(f), `docs/kubernetes/README.md mentions ${f}`);
});

test("the ConfigMap's config.json is a configuration the CLI reads whole", async () => {
  const [cm] = ofKind('ConfigMap');
  const dir = configMapDir.get(cm!.metadata.name!)!;
  const file = await readConfigFile(join(dir, 'config.json'));
  assert.deepEqual(Object.keys(file.sections).sort(), ['run', 'serve']);
});

test("every container's command line parses against the CLI's declarations, with its environment and config file", async () => {
  const all = await everyCommand();
  const byFile = (f: string): string[] => all.filter((s) => s.m.file === f).map((s) => s.name);
  assert.deepEqual(byFile('cronjob.yaml'), ['run']);
  assert.deepEqual(byFile('hub.yaml'), ['serve']);
  for (const s of all) {
    for (const name of Object.keys(s.env).filter((n) => n.startsWith('SDATA_SYNC_'))) {
      await assert.doesNotReject(checkEnvNames({ [name]: 'x' }), `${s.label}: ${name} is an option's variable`);
    }
  }
  // The waves: each index runs `run` on one kind of its list, and no kind is in two waves (or twice in one).
  const kinds = all.filter((s) => s.m.kind === 'Job').map((s) => (s.values['kind'] as string[]).join(','));
  assert.equal(new Set(kinds).size, kinds.length, `one pass per kind per target: ${kinds.join(' ')}`);
  for (const s of all.filter((x) => x.m.kind === 'Job')) assert.equal((s.values['kind'] as string[]).length, 1, s.label);
});

test('a mistyped flag, variable or config key fails here as in a pod', async () => {
  const env = { SDATA_SYNC_CONFIG: join(configMapDir.values().next().value!, 'config.json') };
  await assert.rejects(settleArgv(['run', '--chunk-entrie', '500'], env, 'typo'), /chunk-entrie/);
  await assert.rejects(settleArgv(['run'], { ...env, SDATA_SYNC_RUNNAME: 'x' }, 'typo'), /SDATA_SYNC_RUNNAME/);
  // A Service named sdata-sync… in the namespace would add such variables: the pods turn service links off.
  await assert.rejects(settleArgv(['run'], { ...env, SDATA_SYNC_HUB_SERVICE_HOST: '10.0.0.1' }, 'service link'), /SDATA_SYNC_HUB_SERVICE_HOST/);
  const bad = join(tmp, 'bad.json');
  writeFileSync(bad, JSON.stringify({ run: { chunkEntrie: 5 } }));
  await assert.rejects(settleArgv(['run'], { SDATA_SYNC_CONFIG: bad }, 'typo'), /chunkEntrie/);
});

test('credentials come only from Secrets, which hold placeholders', () => {
  const secrets = new Map(ofKind('Secret').map((s) => [s.metadata.name!, s]));
  for (const { m, pod } of workloads()) {
    for (const c of pod.containers) {
      for (const e of c.env ?? []) {
        if (!CREDENTIAL.test(e.name)) continue;
        const ref = e.valueFrom?.secretKeyRef;
        assert.ok(ref && e.value === undefined, `${named(m)}: ${e.name} comes from a secretKeyRef`);
        assert.ok(secrets.get(ref.name)?.stringData?.[ref.key] !== undefined, `${named(m)}: ${e.name}: Secret ${ref.name} has key ${ref.key}`);
      }
      for (const a of [...(c.command ?? []), ...(c.args ?? [])]) assert.doesNotMatch(a, /token|passw|secret/i, `${named(m)}: no credential on a command line`);
    }
  }
  for (const s of secrets.values()) {
    assert.equal(s.data, undefined, `${named(s)}: stringData placeholders, no encoded data`);
    for (const [k, v] of Object.entries(s.stringData ?? {})) assert.equal(v, 'CHANGE-ME', `${named(s)}: ${k} is a placeholder`);
  }
  // Applied as it is, the hub's placeholder stops serve (a token needs 16 characters) instead of guarding it.
  assert.throws(() => parseTokens('CHANGE-ME'), /SDATA_SERVE_TOKEN/);
});

/** The volume under `path` in this container (the deepest mount), which must be mounted writable. */
function volumeAt(pod: PodSpec, c: Container, path: string, label: string): Volume {
  const mount = (c.volumeMounts ?? []).filter((vm) => path === vm.mountPath || path.startsWith(`${vm.mountPath}/`)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  assert.ok(mount, `${label}: ${path} is on a volume`);
  assert.ok(!mount.readOnly, `${label}: ${path} is on a writable mount (${mount.name})`);
  const vol = pod.volumes?.find((v) => v.name === mount.name);
  assert.ok(vol, `${label}: volume ${mount.name} is declared`);
  return vol;
}

/** The commands that keep a journal of open contexts in the state directory (README "State directory"). */
const STATE_DIR_COMMANDS: CommandName[] = ['run', 'pull', 'push'];

test('every pod: non-root, read-only root file system, writable volumes for every path its command writes', async () => {
  /** What each command writes, by option (a store: its directory, for SQLite's -wal and -shm beside it). */
  const WRITES: Partial<Record<CommandName, string[]>> = { run: ['spoolDir', 'report'], serve: ['db'], link: ['tempDir', 'report'], plan: ['outDir', 'report'] };
  for (const s of await everyCommand()) {
    const { pod, c, label } = s;
    assert.equal(pod.enableServiceLinks, false, `${label}: enableServiceLinks: false (SDATA_SYNC_* service variables)`);
    assert.equal(c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, true, `${label}: runAsNonRoot`);
    const uid = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
    assert.ok(typeof uid === 'number' && uid > 0, `${label}: a numeric non-root runAsUser (the image's USER is a name)`);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${label}: readOnlyRootFilesystem`);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${label}: allowPrivilegeEscalation: false`);
    const writes = ['/tmp', ...(WRITES[s.name] ?? []).flatMap((k) => {
      const v = s.values[k];
      if (typeof v !== 'string') return k === 'spoolDir' ? ['/tmp'] : [];
      return k === 'db' ? [posix.dirname(v)] : [v];
    })];
    for (const path of writes) {
      const vol = volumeAt(pod, c, path, label);
      assert.ok(vol.emptyDir || vol.persistentVolumeClaim, `${label}: ${path} is on a writable emptyDir or PVC (${vol.name})`);
    }
    // The journal of open contexts (run, pull, push): where the engine itself puts it, from --state-dir or the
    // image's XDG_STATE_HOME; on a claim, so that the next pod finds what a killed one left open.
    if (STATE_DIR_COMMANDS.includes(s.name)) {
      const dir = typeof s.values['stateDir'] === 'string' ? s.values['stateDir'] : defaultStateDir({ ...IMAGE_ENV, ...s.env });
      const claim = volumeAt(pod, c, dir, label).persistentVolumeClaim?.claimName;
      const pvc = ofKind('PersistentVolumeClaim').find((p) => p.metadata.name === claim);
      assert.ok(pvc, `${label}: the state directory ${dir} is on a PersistentVolumeClaim of docs/kubernetes (it must outlive the pod)`);
      // Pods of a wave run at once, on any node; the CronJob's one at a time (concurrencyPolicy: Forbid).
      const together = (s.m.kind === 'Job' && (s.m.spec?.parallelism ?? 1) > 1) ? 'ReadWriteMany' : 'ReadWriteOnce';
      assert.ok(pvc.spec?.accessModes?.includes(together) || pvc.spec?.accessModes?.includes('ReadWriteMany'), `${label}: ${claim} is ${together}`);
    }
    const mem = (q: string | number | undefined): number => {
      const m = /^(\d+)(Mi|Gi|M|G)?$/.exec(String(q));
      assert.ok(m, `${label}: memory quantity ${q}`);
      return Number(m[1]) * ({ Mi: 2 ** 20, Gi: 2 ** 30, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1);
    };
    // Measured: engine and serve peak RSS ≤ 200 MB (README "Performance"); requests = limits, no surprise eviction.
    assert.equal(mem(c.resources?.requests?.['memory']), mem(c.resources?.limits?.['memory']), `${label}: memory request = limit`);
    assert.ok(mem(c.resources?.limits?.['memory']) >= 200e6, `${label}: memory limit above the measured 200 MB`);
  }
});

test('pod failure policies: exit codes that exist, each placed once, retries only where another pod can help', () => {
  const codes = new Set<number>(Object.values(EXIT));
  // Every code a run can end with is decided; 0 is success, and 141 (stdout closed) cannot happen to a pod's log.
  const decided = [...codes].filter((c) => c !== EXIT.OK && c !== EXIT.EPIPE).sort((a, b) => a - b);
  for (const { m, pod, job } of workloads()) {
    if (!job) continue;
    assert.equal(pod.restartPolicy, 'Never', `${named(m)}: a pod failure policy needs restartPolicy Never`);
    const rules = job.podFailurePolicy?.rules ?? [];
    assert.deepEqual(rules[0], { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }, `${named(m)}: evictions and preemptions first, not counted`);
    const action = new Map<number, string>();
    for (const r of rules.filter((x) => x.onExitCodes)) {
      const e = r.onExitCodes!;
      assert.equal(e.operator, 'In', named(m));
      assert.ok(pod.containers.some((c) => c.name === e.containerName), `${named(m)}: rule names container ${e.containerName}`);
      for (const v of e.values) {
        assert.ok(codes.has(v), `${named(m)}: exit code ${v} is one of src/protocol/errors.ts EXIT`);
        assert.ok(!action.has(v), `${named(m)}: exit code ${v} in one rule`);
        action.set(v, r.action);
      }
      if (r.action === 'FailIndex') assert.ok(job.backoffLimitPerIndex !== undefined, `${named(m)}: FailIndex needs backoffLimitPerIndex`);
    }
    assert.deepEqual([...action.keys()].sort((a, b) => a - b), decided, `${named(m)}: every exit code has its rule`);
    assert.equal(action.get(EXIT.NETWORK), 'Count', `${named(m)}: network failures are retried`);
    assert.equal(action.get(EXIT.INTERRUPTED), 'Count', `${named(m)}: an interrupted run is retried`);
    for (const permanent of [EXIT.USAGE, EXIT.INTERNAL]) assert.equal(action.get(permanent), 'FailJob', `${named(m)}: exit ${permanent} fails the Job at once`);
    for (const c of [EXIT.BAD_INPUT, EXIT.PROTOCOL, EXIT.TARGET_REJECTED, EXIT.PARTIAL, EXIT.STORE_FULL]) {
      assert.ok(['FailJob', 'FailIndex'].includes(action.get(c)!), `${named(m)}: exit ${c} is not retried by another pod`);
    }
  }
});

test('the CronJob runs one at a time; the Indexed Jobs run one kind per index', () => {
  for (const cj of ofKind('CronJob')) assert.equal(cj.spec?.concurrencyPolicy, 'Forbid', `${named(cj)}: one pass per kind per target at a time`);
  const waves = ofKind('Job');
  assert.ok(waves.length >= 2, 'at least two waves');
  for (const w of waves) {
    const s = w.spec!;
    assert.equal(s.completionMode, 'Indexed', named(w));
    assert.ok(s.parallelism! <= s.completions!, `${named(w)}: parallelism ≤ completions`);
    assert.ok(w.metadata.generateName, `${named(w)}: generateName, so that run-waves.sh can create it night after night`);
  }
});

test('the hub: one replica replaced by Recreate, its store on a PVC, probes through `health` with credentials it has', async () => {
  const [dep] = ofKind('Deployment');
  assert.equal(dep!.spec?.replicas, 1, 'one process owns the SQLite store');
  assert.equal(dep!.spec?.strategy?.type, 'Recreate');
  const pod = dep!.spec.template!.spec;
  const c = pod.containers[0]!;
  const env = envOf(pod, c);
  const serve = await settleArgv(c.args ?? [], env, 'serve');
  const v = serve.values;
  assert.equal(v['host'], '0.0.0.0');
  assert.ok(env['SDATA_SERVE_TOKEN'] !== undefined || v['insecure'] === true, 'serve on 0.0.0.0 has authentication');
  const port = c.ports?.find((p) => p.containerPort === v['port']);
  assert.ok(port, `the container port is serve's port ${String(v['port'])}`);
  const svc = ofKind('Service')[0]!;
  assert.ok(svc.spec?.ports?.every((p) => p.targetPort === port.name || p.targetPort === port.containerPort), 'the Service targets that port');
  const dataVol = pod.volumes?.find((vol) => vol.name === c.volumeMounts?.find((vm) => String(v['db']).startsWith(`${vm.mountPath}/`))?.name);
  assert.ok(ofKind('PersistentVolumeClaim').some((p) => p.metadata.name === dataVol?.persistentVolumeClaim?.claimName), 'the store is on the PVC');
  const serveToken = c.env?.find((e) => e.name === 'SDATA_SERVE_TOKEN')?.valueFrom?.secretKeyRef;
  for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
    const probe = c[kind];
    assert.ok(probe?.exec, `${kind}: an exec probe`);
    const [bin, ...argv] = probe.exec.command;
    assert.equal(bin, BIN, `${kind}: the image's bin`);
    const h = await settleArgv(argv, env, kind);
    assert.equal(h.name, 'health', `${kind}: sdata-sync health`);
    const url = new URL(argv.find((a) => a.startsWith('http'))!);
    assert.deepEqual([url.hostname, Number(url.port), decodeURIComponent(url.pathname)],
      ['127.0.0.1', v['port'], `/sdata/${String(v['app'])}/${String(v['contract'])}/${String(v['dataset'])}/$health`], `${kind}: serve's own $health`);
    // With authentication on, $health needs credentials: the probe sends a side's token, the same Secret as serve's.
    const side = String(h.values['auth']).toUpperCase();
    assert.notEqual(side, 'NONE', `${kind}: --auth serve|source|target`);
    assert.deepEqual(c.env?.find((e) => e.name === `SDATA_${side}_TOKEN`)?.valueFrom?.secretKeyRef, serveToken, `${kind}: SDATA_${side}_TOKEN is serve's token`);
    assert.ok((probe.timeoutSeconds ?? 1) * 1000 > (h.values['timeout'] as number), `${kind}: the probe outlasts health's own --timeout`);
  }
});

test('the image is the release of this checkout', () => {
  const { version } = JSON.parse(read(new URL('package.json', ROOT))) as { version: string };
  for (const { m, pod } of workloads()) for (const c of pod.containers) assert.equal(c.image, `ghcr.io/sdata-sync/sdata-sync:${version}`, named(m));
});

// --- run-waves.sh against a stand-in kubectl ----------------------------------------------------------------------

const WAVES = fileURLToPath(new URL('run-waves.sh', DIR));
const waveFiles = files.filter((f) => /^wave-\d+\.yaml$/.test(f)).map((f) => fileURLToPath(new URL(f, DIR)));

/**
 * kubectl as run-waves.sh uses it: `create -f FILE -o name` names the Job after the file; `get job.batch/NAME` prints
 * the conditions in FAKE/NAME.state; `get pods -l …=NAME` prints FAKE/NAME.pods ("index exitCode" lines, oldest first).
 */
const KUBECTL = `#!/bin/sh
printf '%s\\n' "$*" >> "$FAKE/calls"
case "$1 $2" in
  "create -f") echo "job.batch/sdata-sync-$(basename "$3" .yaml)-x1" ;;
  "get pods") cat "$FAKE/\${4#batch.kubernetes.io/job-name=}.pods" 2>/dev/null || true ;;
  "get job.batch/"*) cat "$FAKE/\${2#job.batch/}.state" ;;
  *) echo "kubectl stand-in: unexpected: $*" >&2; exit 64 ;;
esac
`;

function runWaves(states: Record<string, { state: string; pods?: string }>): { status: number | null; calls: string[]; stderr: string } {
  const fake = mkdtempSync(join(tmp, 'kubectl-'));
  writeFileSync(join(fake, 'kubectl'), KUBECTL);
  chmodSync(join(fake, 'kubectl'), 0o755);
  for (const [wave, s] of Object.entries(states)) {
    writeFileSync(join(fake, `sdata-sync-${wave}-x1.state`), s.state);
    if (s.pods !== undefined) writeFileSync(join(fake, `sdata-sync-${wave}-x1.pods`), s.pods);
  }
  const r = spawnSync('/bin/sh', [WAVES, ...waveFiles], { env: { PATH: `${fake}:${process.env['PATH']}`, FAKE: fake, POLL_SECONDS: '0' }, encoding: 'utf8', timeout: 30_000 });
  const calls = readFileSync(join(fake, 'calls'), 'utf8').trim().split('\n').filter((l) => l.startsWith('create')).map((l) => l.replace(/^create -f \S*\/(wave-\d+)\.yaml -o name$/, '$1'));
  return { status: r.status, calls, stderr: r.stderr };
}

test('run-waves.sh starts a wave only when the one before is Complete', () => {
  assert.deepEqual(waveFiles.map((f) => posix.basename(f)), ['wave-1.yaml', 'wave-2.yaml']);
  const ok = runWaves({ 'wave-1': { state: 'SuccessCriteriaMet Complete' }, 'wave-2': { state: 'Complete' } });
  assert.deepEqual([ok.status, ok.calls], [0, ['wave-1', 'wave-2']], ok.stderr);
  // Index 1 failed for good (its last pod exited 7, after a 5 that was retried): wave 2 is never created.
  const failed = runWaves({ 'wave-1': { state: 'FailureTarget Failed', pods: '0 0\n1 5\n1 7\n' }, 'wave-2': { state: 'Complete' } });
  assert.deepEqual([failed.status, failed.calls], [1, ['wave-1']], failed.stderr);
  assert.match(failed.stderr, /later waves not started/);
  // Failed entries only (exit 8, as a pass that completed): the next wave runs, as within one `run`, and the end says 8.
  const partial = runWaves({ 'wave-1': { state: 'Failed', pods: '0 0\n1 5\n1 8\n' }, 'wave-2': { state: 'Complete' } });
  assert.deepEqual([partial.status, partial.calls], [EXIT.PARTIAL, ['wave-1', 'wave-2']], partial.stderr);
});
