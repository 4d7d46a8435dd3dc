import type { Rule } from './fault-proxy.ts';
import type { EngineResult, OpenContexts, SyncBed } from './bed.ts';

/**
 * One pass of the engine per fault, between a source and an empty target, through the fault proxies. Each case
 * must end converged (exit 0, the target's $checksum equal to the source's) or with the documented exit code it
 * names and a message that says what and where, then converge on a clean rerun; never with a stack trace, and with
 * no context left open on either provider. Shared by scripts/faults.ts and test/reliability/faults.test.ts.
 */

export interface FaultCase {
  name: string;
  side: 'source' | 'target';
  rules: Rule[];
  /** Extra `run` options (short timeouts for the delay cases). */
  engineArgs?: string[];
  /** The first run's exit code (README "Exit codes"), and for a failure what its message must say. */
  exit: number;
  message?: RegExp;
  /** Set when the case shows a bug that is not fixed yet: what is wrong (reported by node:test as a todo). */
  todo?: string;
  /** In the short suite of `npm test` (every kind of fault once, and every case that shows a bug). */
  short?: true;
}

// Request paths as the proxy sees them (percent-decoded).
const SOURCE_POST = /\/\$syncSource\?/;
/** The source context: polls while it selects, then page 1. */
const SOURCE_CONTEXT = /\/\$syncSource\('[^']+'\)$/;
/** Source pages after the first (their `next` links carry a cursor). */
const SOURCE_NEXT = /\/\$syncSource\('[^']+'\)\?.*\bafter=/;
const TARGET_DIGEST = /\/\$syncDigest$/;
const TARGET_POST = /\/\$syncTarget\?/;
/** A chunk's context: its polls and its result pages. */
const TARGET_CONTEXT = /\/\$syncTarget\('[^']+'\)/;
const ANY = /./;

/** Options that make the timeout cases quick; the proxy's delays are twice these. */
const SHORT_TIMEOUT_MS = 500;

export const FAULT_CASES: FaultCase[] = [
  {
    name: 'source page 2: connection reset before the request reaches the source',
    short: true,
    side: 'source', rules: [{ method: 'GET', path: SOURCE_NEXT, nth: 1, fault: { type: 'reset', when: 'before-upstream' } }], exit: 0,
  },
  {
    name: 'source page 3: connection reset mid-body',
    short: true,
    side: 'source', rules: [{ method: 'GET', path: SOURCE_NEXT, nth: 2, fault: { type: 'reset-mid-body', afterBytes: 30_000 } }], exit: 0,
  },
  {
    name: 'source page 2: body cut off, declared length kept (FIN)',
    side: 'source', rules: [{ method: 'GET', path: SOURCE_NEXT, nth: 1, fault: { type: 'truncate', afterBytes: 20_000, framing: 'close' } }], exit: 0,
  },
  {
    // The bytes stop before the root closes, nothing wrong before: a transfer fault, fetched again (ended-early.ts).
    name: 'source page 2: document cut off inside a well-framed response',
    short: true,
    side: 'source', rules: [{ method: 'GET', path: SOURCE_NEXT, nth: 1, fault: { type: 'truncate', afterBytes: 20_000, framing: 'clean' } }], exit: 0,
  },
  {
    name: 'source page 2: document cut off inside a well-framed response every time, --retries 2',
    short: true,
    side: 'source', rules: [{ method: 'GET', path: SOURCE_NEXT, times: Infinity, fault: { type: 'truncate', afterBytes: 20_000, framing: 'clean' } }],
    engineArgs: ['--retries', '2'], exit: 3, message: /\$syncSource\(.*:\d+:\d+: not well-formed XML: .*\(fetched 3 times, it ended early each time\)/,
  },
  {
    name: 'source page 2: headers later than --timeout-headers',
    short: true,
    side: 'source', rules: [{ method: 'GET', path: SOURCE_NEXT, nth: 1, fault: { type: 'delay-headers', ms: 2 * SHORT_TIMEOUT_MS } }],
    engineArgs: ['--timeout-headers', String(SHORT_TIMEOUT_MS)], exit: 0,
  },
  {
    name: 'source page 3: body stalls longer than --timeout-body',
    short: true,
    side: 'source', rules: [{ method: 'GET', path: SOURCE_NEXT, nth: 2, fault: { type: 'delay-body', afterBytes: 20_000, ms: 2 * SHORT_TIMEOUT_MS } }],
    engineArgs: ['--timeout-body', String(SHORT_TIMEOUT_MS)], exit: 0,
  },
  {
    name: 'source: 429 with Retry-After on the POST $syncSource',
    short: true,
    side: 'source', rules: [{ method: 'POST', path: SOURCE_POST, fault: { type: 'status', status: 429, retryAfter: '1' } }], exit: 0,
  },
  {
    name: 'source: POST $syncSource answered, the answer lost (reset after the source acted)',
    side: 'source', rules: [{ method: 'POST', path: SOURCE_POST, fault: { type: 'reset', when: 'after-upstream' } }], exit: 0,
  },
  {
    name: 'source: 202 whose Location names a new context alias, five times',
    short: true,
    side: 'source', rules: [{ method: 'GET', path: SOURCE_CONTEXT, times: 5, fault: { type: 'loop-location', to: 'new' } }], exit: 0,
  },
  {
    name: 'source: 202 whose Location points back to itself, forever',
    short: true,
    side: 'source', rules: [{ method: 'GET', path: SOURCE_CONTEXT, times: Infinity, fault: { type: 'loop-location', to: 'self' } }],
    engineArgs: ['--timeout-poll', String(2 * SHORT_TIMEOUT_MS)], exit: 5, message: /\$syncSource\('.*not finished after .*--timeout-poll/,
  },
  {
    name: 'source: DELETE of the context reset',
    side: 'source', rules: [{ method: 'DELETE', path: SOURCE_CONTEXT, fault: { type: 'reset', when: 'before-upstream' } }], exit: 0,
  },
  {
    name: 'target: 503 with Retry-After on chunk 2',
    side: 'target', rules: [{ method: 'POST', path: TARGET_POST, nth: 2, fault: { type: 'status', status: 503, retryAfter: '0' } }], exit: 0,
  },
  {
    name: 'target: chunk 3 upload reset before it reaches the target',
    side: 'target', rules: [{ method: 'POST', path: TARGET_POST, nth: 3, fault: { type: 'reset', when: 'before-upstream' } }], exit: 0,
  },
  {
    name: 'target: chunk 2 applied, the 202 lost (reset after the target acted)',
    short: true,
    side: 'target', rules: [{ method: 'POST', path: TARGET_POST, nth: 2, fault: { type: 'reset', when: 'after-upstream' } }], exit: 0,
  },
  {
    name: 'target: result feed (the first page fetched) reset mid-body',
    side: 'target', rules: [{ method: 'GET', path: TARGET_CONTEXT, nth: 1, fault: { type: 'reset-mid-body', afterBytes: 1_500 } }], exit: 0,
  },
  {
    name: 'target: result feed (the second page fetched) cut off inside a well-framed response',
    short: true,
    side: 'target', rules: [{ method: 'GET', path: TARGET_CONTEXT, nth: 2, fault: { type: 'truncate', afterBytes: 1_500, framing: 'clean' } }], exit: 0,
  },
  {
    name: 'target: 202 whose Location names a new context alias, three times',
    side: 'target', rules: [{ method: 'GET', path: TARGET_CONTEXT, times: 3, fault: { type: 'loop-location', to: 'new' } }], exit: 0,
  },
  {
    name: 'target: chunk 1 tracking never finishes (202 forever)',
    short: true,
    side: 'target', rules: [{ method: 'GET', path: TARGET_CONTEXT, times: Infinity, fault: { type: 'never-finish' } }],
    engineArgs: ['--timeout-poll', String(2 * SHORT_TIMEOUT_MS)], exit: 5, message: /\$syncTarget\('.*not finished after .*--timeout-poll/,
  },
  {
    name: 'target: slow target, chunks 1-2 read at 256 KiB/s',
    short: true,
    side: 'target', rules: [{ method: 'POST', path: TARGET_POST, times: 2, fault: { type: 'throttle', bytesPerSecond: 256 * 1024, direction: 'request' } }], exit: 0,
  },
  {
    name: 'target: down (every connection reset), --retries 2',
    side: 'target', rules: [{ path: ANY, times: Infinity, fault: { type: 'reset', when: 'before-upstream' } }],
    engineArgs: ['--retries', '2'], exit: 5, message: /\$syncDigest.*(ECONNRESET|socket).*after 2 retries/,
  },
  {
    name: 'target: digest answers 503 whatever the retries, --retries 2',
    short: true,
    side: 'target', rules: [{ method: 'GET', path: TARGET_DIGEST, times: Infinity, fault: { type: 'status', status: 503, retryAfter: '0' } }],
    engineArgs: ['--retries', '2'], exit: 5, message: /\$syncDigest.*HTTP 503.*\(after 2 retries\)/,
  },
];

export interface FaultOutcome {
  name: string;
  /** Ended as the case says, converged (possibly after a rerun), no stack trace, no context left open. */
  survived: boolean;
  problems: string[];
  first: EngineResult;
  rerun: EngineResult | undefined;
  converged: boolean;
  contexts: OpenContexts;
  /** What the proxy did. */
  faults: string[];
  /** Any $syncTarget body applied more than once (trackingIDs). */
  appliedTwice: string[];
  seconds: number;
}

/** Runs one case on an empty target; the bed's proxies are reset before and after. */
export async function runFaultCase(bed: SyncBed, c: FaultCase): Promise<FaultOutcome> {
  const t0 = Date.now();
  await bed.freshTarget();
  // The source serves every case: what an earlier case left open is not this one's.
  const before = await bed.openContexts();
  bed.resetProxies();
  const proxy = bed.proxy(c.side);
  proxy.setRules(c.rules);
  const problems: string[] = [];
  const first = await bed.runEngine(c.engineArgs ?? []);
  const faults = [...proxy.log];
  bed.resetProxies();
  if (faults.length === 0) problems.push('the proxy applied no fault (the case tested nothing)');
  if (first.exit.code !== c.exit) problems.push(`exit ${first.exit.code}, expected ${c.exit}: ${lastLines(first.stderr)}`);
  if (c.message && !c.message.test(first.stderr)) problems.push(`stderr does not match ${c.message}: ${lastLines(first.stderr)}`);
  if (first.stackTrace) problems.push(`stack trace on stderr: ${lastLines(first.stderr)}`);
  let rerun: EngineResult | undefined;
  if (first.exit.code !== 0) {
    rerun = await bed.runEngine();
    if (rerun.exit.code !== 0) problems.push(`rerun exit ${rerun.exit.code}: ${lastLines(rerun.stderr)}`);
    if (rerun.stackTrace) problems.push(`stack trace on the rerun's stderr: ${lastLines(rerun.stderr)}`);
  }
  const converged = await bed.converged();
  if (!converged) problems.push('the target does not equal the source ($checksum)');
  const after = await bed.openContexts();
  const contexts = { source: after.source - before.source, target: after.target - before.target };
  if (contexts.source + contexts.target > 0) problems.push(`contexts left open: source ${contexts.source}, target ${contexts.target}`);
  const journals = await bed.journals();
  if (journals.length > 0) problems.push(`the engine's journal still holds open contexts: ${journals.join(', ')}`);
  const applied = (await bed.target.health()).appliedTrackingIds;
  const appliedTwice = Object.entries(applied).filter(([, n]) => n > 1).map(([t, n]) => `${t} x${n}`);
  if (appliedTwice.length > 0) problems.push(`chunks applied more than once: ${appliedTwice.join(', ')}`);
  return { name: c.name, survived: problems.length === 0, problems, first, rerun, converged, contexts, faults, appliedTwice, seconds: (Date.now() - t0) / 1000 };
}

function lastLines(s: string, n = 4): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}

/** One line per case for the scripts' output. */
export function faultLine(o: FaultOutcome): string {
  const r = o.rerun ? `, rerun exit ${o.rerun.exit.code}` : '';
  return `${o.survived ? 'ok  ' : 'FAIL'} exit ${o.first.exit.code}${r}, ${o.seconds.toFixed(1)} s, ${o.first.retries + (o.rerun?.retries ?? 0)} retries, ` +
    `contexts left open: source ${o.contexts.source} target ${o.contexts.target}  ${o.name}`;
}
