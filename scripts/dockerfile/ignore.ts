import { matchesGlob, posix } from 'node:path';

/**
 * .dockerignore as the builder applies it to the build context: one pattern a line (`#` comments), matched against
 * the path relative to the context root (Go filepath.Match plus `**`); a pattern that matches a directory excludes
 * everything under it; `!pattern` takes a path back; the last matching line wins.
 */
export class DockerIgnore {
  private readonly rules: Array<{ pattern: string; negate: boolean }>;

  constructor(text: string) {
    this.rules = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
      const negate = l.startsWith('!');
      const pattern = posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+/, '').replace(/\/+$/, '');
      return { pattern, negate };
    });
  }

  excluded(rel: string): boolean {
    const parts = posix.normalize(rel).split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let out = false;
    for (const r of this.rules) if (prefixes.some((p) => matchesGlob(p, r.pattern))) out = !r.negate;
    return out;
  }
}
