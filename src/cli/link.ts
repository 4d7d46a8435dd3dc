import { tmpdir } from 'node:os';
import { HttpClient } from '../http/client.ts';
import type { KeyNormalization } from '../engine/link/decide.ts';
import { runLink, type LinkResult } from '../engine/link/run-link.ts';
import type { COMMANDS, Input } from './commands.ts';
import { checkOutputs, clientOptions, loggerFrom, onInterrupt, pollFrom, spoolDirOf, withSummary } from './common.ts';
import { int } from '../engine/format.ts';
import { levelOfExit, type LogFields } from '../engine/log.ts';
import { EXIT } from './exit-codes.ts';

/** `sdata-sync link`: options and help in commands.ts. */
export async function run({ values: v }: Input<typeof COMMANDS.link>): Promise<number> {
  const match = v.match.map((m) => m.trim()).filter((m) => m !== '');
  const normalize: KeyNormalization = { trim: false, case: false, space: false };
  for (const n of v.normalize ?? []) normalize[n as keyof KeyNormalization] = true;
  const log = loggerFrom(v);
  const ac = new AbortController();
  const source = new HttpClient(clientOptions('source', v.source, v, log, ac.signal));
  const target = new HttpClient(clientOptions('target', v.target, v, log, ac.signal));
  const stopSignals = onInterrupt(log, () => ac.abort(), v.stopTimeout);
  let r: LinkResult | undefined;
  try {
    return await withSummary('link', log, async () => {
      // Before anything is read: the report's file and the directory of the matching's scratch file.
      await checkOutputs({ files: [[`--report ${v.report}`, v.report]], dirs: [spoolDirOf(v, tmpdir())] });
      r = await runLink({
        source, target, sourceBase: v.source, targetBase: v.target, kind: v.kind, match, normalize, apply: v.apply ?? false,
        report: v.report, tempDir: v.spoolDir ?? tmpdir(), batchSize: v.batch, pageSize: v.pageSize,
        maxEntryBytes: v.maxEntryBytes, poll: pollFrom(v), signal: ac.signal, log,
      });
      return (r.applied ?? []).some((a) => a.failed > 0) ? EXIT.PARTIAL : EXIT.OK;
    }, (exitCode) => {
      if (log.format === 'json') log.record(levelOfExit(exitCode), r ? `link ${r.kind}: ${r.apply ? 'applied' : 'dry run'}` : `link ${v.kind}: failed`, { ...(r ? linkFields(r) : { event: 'summary', kind: v.kind }), exitCode });
      else if (r && !v.quiet) log.raw(linkSummary(r));
    });
  } finally {
    stopSignals();
    await source.close();
    await target.close();
  }
}

/** The summary's figures as log fields (README "Logs"): resources read, keys matched and what was done per key. */
function linkFields(r: LinkResult): LogFields {
  const c = r.counts;
  return {
    event: 'summary', kind: r.kind, read: c.read[0] + c.read[1], matched: c.matched, alreadyLinked: c['already-linked'], linkBoth: c['link-both'],
    copyToTarget: c['copy-to-target'], copyToSource: c['copy-to-source'], repointTarget: c['repoint-target'], repointSource: c['repoint-source'],
    uuidTaken: c['uuid-taken'], ambiguous: c.ambiguous, unmatched: c.unmatchedResources[0] + c.unmatchedResources[1],
    failed: (r.applied ?? []).reduce((n, a) => n + a.failed, 0), seconds: r.seconds,
  };
}

/** The summary on stderr: what was read, matched, linked (or would be), and what was left alone. */
export function linkSummary(r: LinkResult): string {
  const c = r.counts;
  const n = int;
  const [s, t] = r.sides;
  const verb = r.apply ? '' : 'would be ';
  const lines = [
    `link ${r.kind}: ${r.apply ? 'applied' : 'dry run, nothing written (--apply writes the links)'}`,
    `  read          source ${n(c.read[0])}, target ${n(c.read[1])}`,
    `  matched       ${n(c.matched)} keys one to one`,
    `    already linked            ${n(c['already-linked'])}`,
    `    new uuid for both         ${n(c['link-both'])} ${verb}linked`,
    `    uuid copied               ${n(c['copy-to-target'])} to the target, ${n(c['copy-to-source'])} to the source`,
    `    uuid re-pointed           ${n(c['repoint-target'])} on the target, ${n(c['repoint-source'])} on the source` +
      ` (the ${r.winner}'s uuid wins: priority ${s.priority} vs ${t.priority})`,
    `    uuid held by another      ${n(c['uuid-taken'])} (not linked)`,
    `  ambiguous     ${n(c.ambiguous)} keys (${n(c.ambiguousResources[0])} source, ${n(c.ambiguousResources[1])} target resources): not linked`,
    `  unmatched     source ${n(c.unmatchedResources[0])}, target ${n(c.unmatchedResources[1])}` +
      ` (without the key fields: ${n(c['no-key-source'])}, ${n(c['no-key-target'])})`,
  ];
  if (r.applied) {
    const a = r.applied;
    lines.push(`  requests      source ${n(a[0]!.requests)}${s.batched ? ' ($linked/$batch)' : ''}: ${n(a[0]!.ok)} ok, ${n(a[0]!.failed)} refused; ` +
      `target ${n(a[1]!.requests)}${t.batched ? ' ($linked/$batch)' : ''}: ${n(a[1]!.ok)} ok, ${n(a[1]!.failed)} refused`);
  }
  lines.push(`  ${r.seconds.toFixed(1)} s`);
  return `${lines.join('\n')}\n`;
}
