import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/**
 * The image filesystems of the replay, without a Docker engine: each stage's root is a directory that processes see
 * as `/` through chroot, in a private mount namespace (nothing mounted here is visible outside it, and it all goes
 * when the replay ends). The base image `node:24.x-bookworm-slim` is stood in for by this machine's Debian userland
 * (/usr and /etc bound read-only), the pinned Node 24 at /usr/local/bin/node, the npm that runs the tests at
 * /usr/local/lib/node_modules/npm, and the image's user `node` (1000:1000) in /etc/passwd and /etc/group.
 */

export function sh(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const x = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${x.stderr?.trim() || x.message}`);
  }
}

export const mount = (...args: string[]): void => void sh('mount', args);

/** This process's mount namespace (an inode), to make sure mounts happen in the replay's own, never the machine's. */
export const mountNamespace = (): string => readlinkSync('/proc/self/ns/mnt');

/** Mount points under `dir`, deepest first (from /proc/self/mountinfo; octal escapes undone). */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)
    .map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** The image's users: root, and node as the official Node images create it. */
export interface Ids { uid: number; gid: number; home: string }

/**
 * Who `node` is here. As root: 1000:1000, as in the image. In a user namespace (the replay run without root) only
 * our own id exists, as 0: the image user is then that one, and ownership cannot be told apart (said in the log).
 */
export const IMAGE_NODE_IDS = (asRoot: boolean): Ids => (asRoot ? { uid: 1000, gid: 1000, home: '/home/node' } : { uid: 0, gid: 0, home: '/home/node' });

/** The npm that runs us (npm test sets npm_execpath), else the first on PATH: its package directory. */
function npmDir(): string {
  const fromEnv = process.env['npm_execpath'];
  const cli = fromEnv && existsSync(fromEnv) ? fromEnv
    : (process.env['PATH'] ?? '').split(delimiter).map((d) => join(d, 'npm')).find((p) => existsSync(p));
  if (!cli) throw new Error('no npm found (npm_execpath, PATH): the base image brings one');
  return dirname(dirname(realpathSync(cli)));
}

/** An empty file or directory to mount on. */
function mountPoint(path: string, dir: boolean): void {
  mkdirSync(dir ? path : dirname(path), { recursive: true });
  if (!dir && !existsSync(path)) closeSync(openSync(path, 'w'));
}

/**
 * Makes `root` the filesystem of a fresh `node:24…-slim` stage. `priv` is a directory of the replay's own for the
 * files it writes (passwd, group). Must run in the replay's mount namespace.
 */
export function baseImage(root: string, priv: string, node: Ids): void {
  for (const top of ['bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32']) {
    const host = `/${top}`;
    if (!existsSync(host)) continue;
    if (lstatSync(host).isSymbolicLink()) symlinkSync(readlinkSync(host), join(root, top));
    else {
      mountPoint(join(root, top), true);
      mount('--bind', '-o', 'ro', host, join(root, top));
    }
  }
  mountPoint(join(root, 'usr'), true);
  mount('--rbind', '-o', 'ro', '/usr', join(root, 'usr'));
  mount('-o', 'remount,bind,ro', join(root, 'usr'));
  // /usr/local as the Node images have it: node, npm, npx, and nothing of this machine's.
  mount('-t', 'tmpfs', '-o', 'mode=755,size=16m', 'tmpfs', join(root, 'usr', 'local'));
  const local = join(root, 'usr', 'local');
  mountPoint(join(local, 'bin', 'node'), false);
  mount('--bind', '-o', 'ro', process.execPath, join(local, 'bin', 'node'));
  mountPoint(join(local, 'lib', 'node_modules', 'npm'), true);
  mount('--rbind', '-o', 'ro', npmDir(), join(local, 'lib', 'node_modules', 'npm'));
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin', 'npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin', 'npx'));

  mountPoint(join(root, 'etc'), true);
  mount('--rbind', '-o', 'ro', '/etc', join(root, 'etc'));
  mount('-o', 'remount,bind,ro', join(root, 'etc'));
  const withNode = (file: string, line: string): string => {
    const text = readFileSync(`/etc/${file}`, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('node:')).join('\n');
    const out = join(priv, file);
    writeFileSync(out, `${text}\n${line}\n`);
    return out;
  };
  mount('--bind', '-o', 'ro', withNode('passwd', `node:x:${node.uid}:${node.gid}::/home/node:/bin/bash`), join(root, 'etc', 'passwd'));
  mount('--bind', '-o', 'ro', withNode('group', `node:x:${node.gid}:`), join(root, 'etc', 'group'));

  for (const d of ['proc', 'dev', 'sys']) {
    mountPoint(join(root, d), true);
    mount('--rbind', `/${d}`, join(root, d));
  }
  mountPoint(join(root, 'tmp'), true);
  chmodSync(join(root, 'tmp'), 0o1777);
  mountPoint(join(root, 'root'), true);
  chmodSync(join(root, 'root'), 0o700);
  mountPoint(join(root, node.home.slice(1)), true);
  chownSync(join(root, node.home.slice(1)), node.uid, node.gid);
}

/** uid, gid and home of `user` (a name or uid, optionally `:group`) from the stage's own /etc/passwd and /etc/group. */
export function resolveUser(root: string, user: string): Ids {
  const [u, g] = user.split(':');
  const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8').split('\n').map((l) => l.split(':'));
  const entry = passwd.find((p) => p[0] === u || p[2] === u);
  if (!entry) throw new Error(`user '${u}' does not exist in the image`);
  let gid = Number(entry[3]);
  if (g !== undefined) {
    const group = readFileSync(join(root, 'etc', 'group'), 'utf8').split('\n').map((l) => l.split(':')).find((p) => p[0] === g || p[2] === g);
    if (!group) throw new Error(`group '${g}' does not exist in the image`);
    gid = Number(group[2]);
  }
  return { uid: Number(entry[2]), gid, home: entry[5] ?? '/' };
}
