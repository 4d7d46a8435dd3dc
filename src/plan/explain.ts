import type { Explained } from './planner.ts';

/**
 * `--explain UUID`: one line saying why an entry was forwarded, skipped, dropped or held back (docs/engine-rules.md
 * §1): where it stood, its syncState, the target digest entry it was compared with, the rule, and where it went.
 */
export function explainLine(x: Explained): string {
  const state = x.state ? `syncState (${x.state.endpoint}, tick ${x.state.tick})` : 'no syncState';
  const digest = x.digestEntry ? `target digest entry (${x.digestEntry.endpoint}, tick ${x.digestEntry.tick})` : 'no target digest entry';
  const where = x.chunk === undefined ? '' : `; in chunk ${x.chunk} as entry ${x.position! + 1}`;
  return `explain ${x.uuid}: ${x.source}:${x.line}:${x.column}: entry #${x.index + 1}${x.atomId ? ` (${x.atomId})` : ''}: ${state}; ${digest}; ${x.rule}${where}`;
}

/** The uuids asked about that no entry carried. */
export function unexplained(asked: ReadonlySet<string>, explained: readonly Explained[]): string[] {
  const seen = new Set(explained.map((x) => x.uuid));
  return [...asked].filter((u) => !seen.has(u));
}

/** `--explain` values (repeatable, comma-separated) as the planner compares them: trimmed, lower case. */
export function explainSet(values: readonly string[] | undefined): Set<string> | undefined {
  const uuids = (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase()).filter((v) => v !== '');
  return uuids.length > 0 ? new Set(uuids) : undefined;
}
