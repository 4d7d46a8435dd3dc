import { tmpdir } from 'node:os';
import { HttpClient } from '../http/client.ts';
import type { KeyNormalization } from '../engine/link/decide.ts';
import { runLink, type LinkResult } from '../engine/link/run-link.ts';
import { SdataError } from '../protocol/errors.ts';
import { clientOptions, COMMON_HTTP_OPTIONS, loggerFrom, onInterrupt, parse, parseCount, parseEntryCap, pollFrom } from './common.ts';
import { EXIT } from './exit-codes.ts';

export const LINK_HELP = `Usage: sdata-sync link --source URL --target URL --kind KIND --match FIELD[,FIELD...] [options]

Links the resources two applications already share before their first sync (SData 1.1 sync, spec 1.2-1.4), so
that 'run' updates them instead of creating duplicates. Reads both collections, matches resources whose FIELD
values are equal, and for each match: neither has a uuid -> a new one for both; one has one -> the other takes
it; both have different ones -> the side with the lower conflictPriority (its own digest entry) keeps its uuid
and the other re-points. A key held by several resources on a side is ambiguous: reported, never linked.
Dry run unless --apply. URLs are dataset bases, e.g. http://host/sdata/myApp/myContract/-

Options:
  --source URL            source dataset base URL
  --target URL            target dataset base URL
  --kind KIND             resource kind
  --match FIELD[,FIELD]   the natural key: payload properties by local name; a path reaches into children
                          (address/postCode); several fields make one composite key
  --normalize LIST        before comparing: trim (the ends), case (lower case), space (inner runs of white
                          space as one space); comma-separated (default: compare as written)
  --apply                 write the links through each provider's $linked (default: a dry run)
  --report FILE           one JSON line per decision (key, both sides' url and uuid, action) and per refusal
  --batch N               links per $linked/$batch request where the provider offers it (default 500; 0: never)
  --page-size N           entries asked per collection page (default: the provider's)
  --temp-dir DIR          where the scratch file of the matching goes (default: the temp dir)
  --max-entry-bytes SIZE  larger entries are refused (default 16MiB)
  --retries N, --timeout-connect MS, --timeout-headers MS, --timeout-body MS, --poll-min MS, --poll-max MS
  --quiet, --verbose, --log-format text|json
  -h, --help

Credentials come from the environment only, as for 'run': SDATA_SOURCE_TOKEN or SDATA_SOURCE_USER and
SDATA_SOURCE_PASSWORD; the same with TARGET.

Exit codes: 0 ok, 2 usage, 3 bad feed, 4 I/O, 5 network, 6 protocol, 8 some links were refused, 130 interrupted.
`;

export async function linkCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    source: { type: 'string' },
    target: { type: 'string' },
    kind: { type: 'string' },
    match: { type: 'string', multiple: true },
    normalize: { type: 'string' },
    apply: { type: 'boolean' },
    report: { type: 'string' },
    batch: { type: 'string' },
    'page-size': { type: 'string' },
    'temp-dir': { type: 'string' },
    'max-entry-bytes': { type: 'string' },
    ...COMMON_HTTP_OPTIONS,
  }, 'link');
  if (v.help) {
    process.stdout.write(LINK_HELP);
    return EXIT.OK;
  }
  if (positionals.length > 0) throw new SdataError('SDATA_E_USAGE', `link: unexpected argument '${positionals[0]}'`);
  if (!v.source || !v.target) throw new SdataError('SDATA_E_USAGE', "link: --source and --target are required (see 'sdata-sync link --help')");
  if (!v.kind || !/^[A-Za-z_][\w.-]*$/.test(v.kind)) throw new SdataError('SDATA_E_USAGE', `link: --kind must name one resource kind${v.kind ? ` ('${v.kind}' is not one)` : ''}`);
  const match = (v.match ?? []).flatMap((m) => m.split(',')).map((m) => m.trim()).filter((m) => m !== '');
  if (match.length === 0) throw new SdataError('SDATA_E_USAGE', 'link: --match names the fields of the natural key (e.g. --match accountNumber)');
  for (const m of match) {
    if (!/^[^\s/]+(\/[^\s/]+)*$/.test(m)) throw new SdataError('SDATA_E_USAGE', `link: --match '${m}' is not a property name or a path of them (a/b)`);
  }
  const normalize: KeyNormalization = { trim: false, case: false, space: false };
  for (const n of (v.normalize ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    if (n !== 'trim' && n !== 'case' && n !== 'space') throw new SdataError('SDATA_E_USAGE', `link: --normalize '${n}' is not one of trim, case, space`);
    normalize[n] = true;
  }
  const log = loggerFrom(v);
  const ac = new AbortController();
  const source = new HttpClient(clientOptions('source', v.source, v, log, ac.signal));
  const target = new HttpClient(clientOptions('target', v.target, v, log, ac.signal));
  const stopSignals = onInterrupt(log, () => ac.abort());
  try {
    const r = await runLink({
      source, target, sourceBase: v.source, targetBase: v.target, kind: v.kind, match, normalize, apply: v.apply ?? false,
      report: v.report, tempDir: v['temp-dir'] ?? tmpdir(), batchSize: v.batch === undefined ? 500 : parseCount(v.batch, '--batch', 0),
      pageSize: v['page-size'] === undefined ? undefined : parseCount(v['page-size'], '--page-size'),
      maxEntryBytes: parseEntryCap(v['max-entry-bytes']), poll: pollFrom(v), signal: ac.signal, log,
    });
    const refused = (r.applied ?? []).reduce((n, a) => n + a.failed, 0);
    if (log.format === 'json') log.raw(`${JSON.stringify({ type: 'summary', ...r })}\n`);
    else if (!v.quiet) log.raw(linkSummary(r));
    return refused > 0 ? EXIT.PARTIAL : EXIT.OK;
  } finally {
    stopSignals();
    await source.close();
    await target.close();
  }
}

/** The summary on stderr: what was read, matched, linked (or would be), and what was left alone. */
export function linkSummary(r: LinkResult): string {
  const c = r.counts;
  const n = (x: number): string => x.toLocaleString('en-US');
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
