import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountsUnder, sh } from './sandbox.ts';

/**
 * The builder's layer cache, for RUN steps: a RUN whose instruction and everything before it in its stage (base
 * image, instructions, the content of every COPY) are unchanged since a build that ran it gives the same result,
 * so what it changed is applied again instead, as `docker build` does with a cached layer. The build stage's `npm ci`
 * (~800 packages, 20-40 s on this shared VM) then costs an untar of its ~210 MB (a few s); a change to
 * package-lock.json or to the Dockerfile above the step runs it again, a change under src/ runs the compile again.
 * Entries live under the OS temp dir; a build keeps only the ones it used.
 */

/** Top-level entries of a stage root that are the base image's mounts (sandbox.ts), not the build's content. */
const BASE = new Set(['usr', 'etc', 'proc', 'dev', 'sys', 'bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32']);

export class LayerCache {
  private readonly dir: string;
  private readonly used = new Set<string>();

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  /** The chained key of a step: the key of the state before it, and what the step is. */
  static next(prev: string, ...parts: string[]): string {
    const h = createHash('sha256').update(prev);
    for (const p of parts) h.update('\0').update(p);
    return h.digest('hex');
  }

  /** Content of a COPY source as it will be copied (paths, modes, bytes, link targets), for the key. */
  static content(path: string, keep: (p: string) => boolean): string {
    const h = createHash('sha256');
    const walk = (p: string, rel: string): void => {
      if (!keep(p)) return;
      const s = lstatSync(p);
      h.update(`${rel}\0${s.mode}\0`);
      if (s.isSymbolicLink()) h.update(readlinkSync(p));
      else if (s.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e), `${rel}/${e}`);
      else h.update(readFileSync(p));
    };
    walk(path, '.');
    return h.digest('hex');
  }

  /** What is in the stage root now (path → type, mode, owner, size, mtime): the base a step's changes are taken from. */
  static state(root: string): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (rel: string): void => {
      const s = lstatSync(join(root, rel));
      out.set(rel, s.isSymbolicLink() ? `l ${readlinkSync(join(root, rel))}` : `${s.mode} ${s.uid}:${s.gid} ${s.isDirectory() ? '' : `${s.size} ${s.mtimeMs}`}`);
      if (s.isDirectory()) for (const e of readdirSync(join(root, rel))) walk(`${rel}/${e}`);
    };
    for (const e of owned(root)) walk(e);
    return out;
  }

  /**
   * Applies the changes a step made in an earlier build (a layer: the paths it added or changed, as a tar that keeps
   * owners and modes, and the paths it removed), on the state before the step, which the key guarantees to be the
   * same. False when no build recorded this step.
   */
  restore(key: string, root: string): boolean {
    this.used.add(key);
    const entry = join(this.dir, key);
    if (!existsSync(join(entry, 'layer.tar'))) return false;
    for (const rel of JSON.parse(readFileSync(join(entry, 'removed.json'), 'utf8')) as string[]) rmSync(join(root, rel), { recursive: true, force: true });
    sh('tar', ['-C', root, '-xpf', join(entry, 'layer.tar')]);
    const now = new Date();
    utimesSync(entry, now, now);
    return true;
  }

  /** Records what a step that ran changed, against the state before it. */
  save(key: string, root: string, before: ReadonlyMap<string, string>): void {
    const after = LayerCache.state(root);
    const changed = [...after].filter(([p, sig]) => before.get(p) !== sig).map(([p]) => p);
    const removed = [...before.keys()].filter((p) => !after.has(p));
    const tmp = join(this.dir, `${key}.${process.pid}.tmp`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    writeFileSync(join(tmp, 'paths'), changed.join('\0'));
    sh('tar', ['-C', root, '--no-recursion', '--null', '-T', join(tmp, 'paths'), '-cf', join(tmp, 'layer.tar')]);
    writeFileSync(join(tmp, 'removed.json'), JSON.stringify(removed));
    rmSync(join(tmp, 'paths'));
    rmSync(join(this.dir, key), { recursive: true, force: true });
    renameSync(tmp, join(this.dir, key));
  }

  /** Forgets the entries this build did not use (older than a minute: another build may be writing them). */
  prune(): void {
    for (const e of readdirSync(this.dir)) {
      if (this.used.has(e)) continue;
      const p = join(this.dir, e);
      if (Date.now() - statSync(p).mtimeMs > 60_000) rmSync(p, { recursive: true, force: true });
    }
  }
}

/** The build's own top-level entries of a stage root (never a mount point: nothing of this machine is touched). */
function owned(root: string): string[] {
  return readdirSync(root).filter((e) => {
    if (BASE.has(e)) return false;
    const p = join(root, e);
    if (mountsUnder(p).length > 0) throw new Error(`${p} has a mount under it: not a layer's content`);
    return true;
  });
}
