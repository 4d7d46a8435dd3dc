// The plan bench's peers (issue 15, point 4): other programs that read the same feed, measured side by side with
// plan in the same run. Each is skipped, with a note, where its tool is missing.
//   xmllint --stream --noout FILE   libxml2's streaming reader (the bar: plan ≥ 0.5× its MB/s)
//   xmlwf -r FILE                   expat, well-formedness only (-r: read(), not mmap, so its RSS is its own)
//   python3 bench/iterparse-filter.py DIGEST FILE   the filter a user would write (ElementTree iterparse)
// They are not node processes: peak RSS and CPU come from GNU time (/usr/bin/time), when it is there.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FILTER = fileURLToPath(new URL('./iterparse-filter.py', import.meta.url));
const TIME = '/usr/bin/time';

export interface Peer {
  name: 'xmllint' | 'xmlwf' | 'iterparse';
  label: string;
  args(feed: { file: string; digest: string }): string[];
  cmd: string;
  /** Runs in every alternating round (false: once, in the first: the Python filter takes 10× as long). */
  everyRun: boolean;
}

export interface ToolRun {
  wall: number;
  maxRssMiB: number | undefined;
  cpuMs: number | undefined;
  stderr: string;
}

const works = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

/** The peers whose tools are here; a note on stderr for each that is not. */
export function availablePeers(log: (s: string) => void): Peer[] {
  const all: Array<Peer & { probe: string[] }> = [
    { name: 'xmllint', label: 'xmllint --stream', cmd: 'xmllint', probe: ['--version'], everyRun: true, args: (f) => ['--stream', '--noout', f.file] },
    { name: 'xmlwf', label: 'xmlwf (expat)', cmd: 'xmlwf', probe: ['-v'], everyRun: true, args: (f) => ['-r', f.file] },
    { name: 'iterparse', label: 'Python iterparse filter', cmd: 'python3', probe: ['-c', 'import xml.etree.ElementTree'], everyRun: false, args: (f) => [FILTER, f.digest, f.file] },
  ];
  const here: Peer[] = [];
  for (const { probe, ...p } of all) {
    if (works(p.cmd, probe)) here.push(p);
    else log(`peer ${p.label} skipped: '${p.cmd}' is not installed (or does not run) on this machine`);
  }
  if (!existsSync(TIME)) log(`${TIME} (GNU time) is missing: the peers' peak RSS and CPU are not measured`);
  return here;
}

/** Runs a peer with stdout to /dev/null; wall time from spawn to exit, peak RSS and CPU from GNU time. */
export async function runPeer(p: Peer, feed: { file: string; digest: string }, dir: string): Promise<ToolRun> {
  const timed = existsSync(TIME);
  const out = join(dir, `time-${process.hrtime.bigint()}.txt`);
  const argv = timed ? ['-f', '%M %U %S', '-o', out, p.cmd, ...p.args(feed)] : p.args(feed);
  const t0 = process.hrtime.bigint();
  const child = spawn(timed ? TIME : p.cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (code !== 0) throw new Error(`${p.cmd} ${p.args(feed).join(' ')} exited ${code}: ${stderr.slice(0, 500)}`);
  if (!timed) return { wall, maxRssMiB: undefined, cpuMs: undefined, stderr };
  const [kib, user, sys] = (await readFile(out, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
  await rm(out, { force: true });
  return { wall, maxRssMiB: kib! / 1024, cpuMs: (user! + sys!) * 1000, stderr };
}
