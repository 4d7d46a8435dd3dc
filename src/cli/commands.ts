/**
 * Every command and every option of `sdata-sync`, declared once. From these declarations come the command line
 * (program.ts, on commander), `--help`, the environment variables and the --config file keys (config.ts), `sdata-sync
 * config --print`, and README's command reference (`npm run docs:cli`, checked for drift by test/cli/reference.test.ts).
 *
 * An option is `name: type({ help, default, … })`. The name is its config key; its flag and variable follow from it:
 * `chunkEntries` is `--chunk-entries`, `SDATA_SYNC_CHUNK_ENTRIES` and `"chunkEntries"` in a command's section of the
 * file. Types (option-types.ts): int, number, size (8MiB), duration (10s), bool, choice, list, string, path, url.
 * A default is a value, or a constant of the layer that uses it (referenced here, never restated); `defaultText`
 * describes a default decided later. The command receives typed values (`Input<typeof COMMANDS.x>`).
 *
 * To add an option: declare it below (or reuse one), and list it in the command's `options`; read it in the command
 * as `values.name`. Rules between options go in `exclusive` / `needs`.
 * To add a command: write src/cli/NAME.ts exporting `run(input: Input<typeof COMMANDS.NAME>): Promise<number>`, add
 * an entry here with its summary, arguments and options, and its loader in main.ts (tsc insists). Then
 * `npm run docs:cli` to update README's reference.
 *
 * This module is loaded by every command, `plan` on a pipe included: it imports constants only (no undici, no SQLite;
 * test/cli/common.test.ts).
 */
import { credentialVariables } from '../http/auth.ts';
import { DEFAULT_POLL, DEFAULT_RETRY, DEFAULT_TIMEOUTS } from '../http/defaults.ts';
import { DEFAULT_CHUNK } from '../plan/defaults.ts';
import { EXIT } from '../protocol/errors.ts';
import { heapRoomFor } from './heap-flags.ts';
import { LIMIT_DEFAULTS, PROVIDER_DEFAULTS, SCRYPT_DEFAULT_N } from '../provider/http/defaults.ts';
import { STORE_DEFAULTS } from '../provider/store/defaults.ts';
import { DEFAULT_LIMITS, DEFAULT_MAX_ENTRY_BYTES } from '../xml/limits.ts';
import {
  arg, bool, choice, duration, int, list, number, path, size, string, url, type ArgDecl, type ArgValueOf, type Opt, type ValueOf,
} from './option-types.ts';

export interface CommandDecl {
  /** One line: the root help's command list and the README table. */
  summary: string;
  /** Paragraphs after the usage line. */
  description?: string;
  /** Text after the options: credentials, examples. */
  notes?: string;
  args?: Readonly<Record<string, ArgDecl>>;
  /** Said after "unexpected argument" (a command that takes none). */
  argsHint?: string;
  options: Readonly<Record<string, Opt>>;
  /** Groups of options of which at most one may be given (by flag, environment or file). */
  exclusive?: readonly (readonly string[])[];
  /** An option that means nothing without another: `{ skipRatio: 'digestOut' }`. */
  needs?: Readonly<Record<string, string>>;
  /** Credential variables the command reads: `config --print` says which are set (never their values). */
  credentials?: readonly string[];
}

/** A command's module (loaded by main.ts): `run` takes its Input, typed by the module. */
export interface Runnable {
  run: (input: never) => Promise<number>;
}

/** What a command's `run` receives: its options' values (typed by their declarations) and its arguments. */
export interface Input<C extends CommandDecl> {
  values: { -readonly [K in keyof C['options']]: ValueOf<C['options'][K]> };
  args: { -readonly [K in keyof NonNullable<C['args']>]: ArgValueOf<NonNullable<C['args']>[K]> };
  /** Whether the option was given (flag, environment or file) rather than left at its default. */
  given(key: keyof C['options'] & string): boolean;
  /** Where a value came from, for messages: `--max-entry-bytes 64MiB`, `SDATA_SYNC_RUN_NAME=nightly`. */
  label(key: keyof C['options'] & string): string;
  /** The --config file (or SDATA_SYNC_CONFIG) the values were read from, if any. */
  configPath: string | undefined;
}

const KIND_NAME = { re: /^[A-Za-z_][\w.-]*$/, what: 'a resource kind name' };
const SOURCE = credentialVariables('source');
const TARGET = credentialVariables('target');

// --- options several commands share ------------------------------------------------------------------------------

const quiet = bool({ short: 'q', help: 'errors, warnings and the exit code only' });
const verbose = bool({ help: 'detail per page, chunk and retry' });
const logFormat = choice(['auto', 'text', 'json'] as const, { default: 'auto', help: 'stderr as text, or as JSON lines of one schema (README "Logs"); auto = text on a terminal, JSON otherwise' });
const report = path({ help: 'write the summary as a JSON document to FILE' });
const digest = path({ help: 'the target digest ($syncDigest entry, or a bare sync:digest); none = an empty target' });
const outDir = path({ arg: 'DIR', help: 'write chunk files DIR/chunk-000001.xml, … instead of stdout' });
const chunkEntries = int({ min: 1, default: DEFAULT_CHUNK.entries, help: 'entries per target chunk' });
const chunkBytes = size({ default: DEFAULT_CHUNK.bytes, help: 'bytes per target chunk; a 413 from the target splits a chunk' });
const strict = bool({ help: 'an invalid source entry is fatal (exit 3)' });
/** Where a command's scratch files go (run, push, link): checked writable before anything starts. */
const spoolDir = path({ arg: 'DIR', defaultText: 'the system temp directory', help: 'scratch files go here' });
const runName = string({ default: 'sdata-sync', help: 'runName sent on every POST; runStamp is the start time' });
const seed = int({ arg: 'S', min: 0, default: 1, help: 'generator seed: the same seed gives the same data' });
const priority = int({ min: 1, max: 9, help: "this endpoint's conflictPriority in its own digest" });
const endpointBase = url({ help: "identity of a new store's endpoint, fixed when the store is created", defaultText: 'http://localhost/sdata/APP/CONTRACT/DATASET' });
/** --explain UUID: why an entry was forwarded or skipped (plan, run). */
const explain = list({ arg: 'UUID', help: 'say on stderr why the entry with this uuid was forwarded or not, and for run what the target answered (repeat or comma-separate)' });
const db = path({ required: true, help: "SQLite database file, created if missing (':memory:' for a throw-away store)" });

const maxEntryBytes = size({ default: DEFAULT_MAX_ENTRY_BYTES, check: (b) => heapRoomFor(b), help: 'larger entries are invalid (not forwarded)' });

/** The journal of open contexts (engine/journal.ts): the next run DELETEs those a killed run left open. */
const stateDir = path({ arg: 'DIR', defaultText: '$XDG_STATE_HOME/sdata-sync, else ~/.local/state/sdata-sync', help: 'where the journal of open contexts is kept, so that the next run deletes those a killed one left open' });

/**
 * The bound on an interrupted command (SIGINT, SIGTERM): it stops at once and releases its contexts, which takes a
 * DELETE per open context; a peer that does not answer cannot hold it beyond this. 20 s leaves room within the 30 s
 * a container runtime gives before SIGKILL (Kubernetes' terminationGracePeriodSeconds default).
 */
const stopTimeout = duration({ bare: 's', default: 20_000, help: 'after SIGINT or SIGTERM, time to release the open contexts before leaving anyway (exit 130; the next run deletes what is left, --state-dir)' });

/** Limits every reader enforces while it parses (xml/limits.ts, README "Limits"): crossing one ends the document. */
const LIMITS = {
  maxDepth: int({ min: 1, default: DEFAULT_LIMITS.maxDepth, help: 'elements open at once' }),
  maxAttributeBytes: size({ default: DEFAULT_LIMITS.maxAttributeBytes, help: 'bytes of one attribute value' }),
  maxAttributes: int({ min: 1, default: DEFAULT_LIMITS.maxAttributes, help: 'attributes of one element (namespace declarations count)' }),
  maxNameBytes: size({ default: DEFAULT_LIMITS.maxNameBytes, help: 'bytes of one element or attribute name' }),
  maxTextBetweenEntries: size({ default: DEFAULT_LIMITS.maxTextBetweenEntries, help: 'characters between two tags outside entries' }),
};

/** What every command that talks to a provider takes (retries, timeouts and polling bounds from src/http/defaults.ts). */
const HTTP = {
  retries: int({ min: 0, default: DEFAULT_RETRY.retries, help: 'retries of a failed request (jittered exponential backoff)' }),
  timeoutConnect: duration({ bare: 'ms', default: DEFAULT_TIMEOUTS.connectMs, help: 'connection timeout' }),
  timeoutHeaders: duration({ bare: 'ms', default: DEFAULT_TIMEOUTS.headersMs, help: 'wait for response headers' }),
  timeoutBody: duration({ bare: 'ms', default: DEFAULT_TIMEOUTS.bodyMs, help: 'longest silence within a response body' }),
  timeoutPoll: duration({ bare: 'ms', default: DEFAULT_TIMEOUTS.pollMs, help: 'longest wait for an asynchronous operation' }),
  pollMin: duration({ bare: 'ms', min: 0, default: DEFAULT_POLL.pollMinMs, help: "lower bound on the providers' pollingMillis" }),
  pollMax: duration({ bare: 'ms', default: DEFAULT_POLL.pollMaxMs, help: "upper bound on the providers' pollingMillis" }),
  ca: path({ help: 'trust these certificates (PEM) for https:// peers, besides the usual ones (a provider with a self-signed certificate); NODE_EXTRA_CA_CERTS=FILE works as well' }),
  quiet,
  verbose,
  logFormat,
};
/**
 * The provider thread's V8 heap bounds of `serve`, in MiB. Under a steady request load V8 grows the young generation to
 * 64 MiB and lets the old one reach 80–125 MiB around a live set of ~20 MiB. Bounded, the server's RSS stays
 * within its 200 MiB budget and flat with the store size, at the price of more GC. Measured by bench/provider.ts,
 * target applying (peak RSS MiB, CPU-s): 300k entries unbounded 280 / 13.4, 16/96 193 / 14.8, 32/96 209 / 12.2;
 * 1M entries 32/96 214 / 44.3, 32/64 193 / 50.4 (--old-gen-mb 96 trades ~15 MiB for ~12% less CPU). A larger young
 * generation lets more per-entry garbage die young: 48/64 (then the default) measured 12.2 CPU-s at 300k (32/64: 13.6)
 * and 194 / 46.0 at 1M with the same RSS; 64/64 was worse (fuller old space, longer major GCs).
 * Since WAL checkpoints moved off the provider thread (checkpointer.ts) the young size no longer shows in the
 * throughput: 16/64 (now the default) applied 26.6k / 26.3k / 24.2k entries/s at 100k / 250k / 1M with a target
 * peak of 169 / 167 / 170 MiB; 48/64 gave 25.6k / 24.3k at 100k / 1M but reached its steady RSS only in longer
 * runs (144-171 MiB at 100k, 167-175 at 1M). The old bound leaves room for entries at the 16 MiB size cap (three
 * 15 MiB non-ASCII entries in one page apply with 64). Exceeding it ends the worker, and `serve` with it, with a
 * clear message.
 */
const youngGenMb = int({ min: 1, default: 16, help: 'V8 young generation of the provider thread, MiB (keeps RSS flat)' });
const oldGenMb = int({ min: 32, default: 64, help: 'V8 old generation bound of the provider thread, MiB' });

const HTTP_RULES = [['quiet', 'verbose']] as const;

const credentialNote = (side: 'source' | 'target'): string => {
  const c = credentialVariables(side);
  return `Credentials come from the environment only: ${c.token} (Bearer), or ${c.user} and ${c.password} (Basic).`;
};

/** README "Exit codes", in one line, from the one map of them (protocol/errors.ts). */
export const EXIT_LINE = `Exit codes: ${Object.entries(EXIT).map(([k, n]) => `${n} ${k.toLowerCase().replace(/_/g, ' ')}`).join(', ')} (README).`;

/** `link` and `verify`: one kind of two applications, by their dataset bases. */
const TWO_SIDES = {
  source: url({ required: true, help: 'source dataset base URL' }),
  target: url({ required: true, help: 'target dataset base URL' }),
  kind: string({ arg: 'KIND', required: true, pattern: KIND_NAME, help: 'resource kind' }),
};
const TWO_SIDES_HELP = {
  notes: `${credentialNote('source').replace(' (Basic).', ' (Basic); the same with TARGET.')}\n\n${EXIT_LINE}`,
  argsHint: 'URLs go with --source/--target',
};

// --- the commands ------------------------------------------------------------------------------------------------

export const COMMANDS = {
  plan: {
    summary: 'source feed (files or stdin) + target digest -> target feed / chunk files',
    description: 'Reads a source sync feed (the pages of one feed, in order, or stdin), decides entry by entry against the ' +
      'target digest, and writes the target feed: one feed on stdout, or chunk files with --out-dir.',
    args: { pages: arg(path({ help: 'the pages of one source feed, in order (none or - = stdin)' }), { name: 'PAGE.xml', variadic: true }) },
    options: {
      digest,
      outDir: { ...outDir, help: 'write chunk files DIR/chunk-000001.xml, … instead of stdout; none when nothing is to be sent and the target\'s digest merge needs no chunk (summary "ending")' },
      chunkEntries: { ...chunkEntries, help: 'entries per chunk, with --out-dir' },
      chunkBytes: { ...chunkBytes, help: 'bytes per chunk, with --out-dir' },
      maxEntryBytes,
      ...LIMITS,
      strict,
      threads: int({ min: 1, max: 2, default: 1, help: 'read each page with this many threads; 2 is ~1.2x faster on 2+ CPUs for ~45 MiB more memory; the output is the same either way' }),
      report: { ...report, help: 'write the JSON summary to FILE instead of stderr' },
      explain: { ...explain, help: 'say on stderr why the entry with this uuid was forwarded or not (repeat or comma-separate; reads with one thread)' },
      quiet: { ...quiet, help: 'no per-entry warnings on stderr' },
    },
    needs: { chunkEntries: 'outDir', chunkBytes: 'outDir' },
  },
  gen: {
    summary: 'write a deterministic synthetic sync feed',
    description: 'Writes a deterministic synthetic sync feed of N entries (same options, same bytes): several origin endpoints ' +
      '(ticks ascending per endpoint, one past 2^53), deletions, nested payloads with child lists and references, CDATA, ' +
      'entity and character references, non-ASCII text (accents, CJK, emoji), xsi:nil, and namespace variety (pages bind ' +
      'the same prefix to different URIs). Streamed: memory stays flat whatever N is.',
    notes: 'A one-line JSON summary goes to stderr (entries, pages, bytes, skipped/forwarded with --digest-out, seconds).',
    args: { count: arg(int({ min: 0, help: 'the number of entries' }), { name: 'N', required: true }) },
    options: {
      pages: int({ arg: 'P', min: 1, help: 'split into P pages (with --out-dir)' }),
      pageSize: int({ arg: 'K', min: 1, help: 'K entries per page (with --out-dir)' }),
      out: path({ help: 'write the (single-page) feed to FILE instead of stdout' }),
      outDir: { ...outDir, help: 'write DIR/page-000001.xml, … (pages linked by rel="next", same digest on each)' },
      seed,
      entryBytes: size({ default: 1024, help: 'approximate size of one live entry' }),
      endpoints: int({ arg: 'E', min: 1, default: 4, help: 'origin endpoints named by syncStates' }),
      deleteRatio: number({ min: 0, max: 1, default: 0.08, help: 'share of deletions' }),
      digestOut: path({ help: 'also write a target digest ($syncDigest entry) under which plan skips a share --skip-ratio of the entries and forwards the rest' }),
      skipRatio: number({ min: 0, max: 1, default: 0.5, help: 'share of the entries the --digest-out digest skips' }),
    },
    exclusive: [['pages', 'pageSize'], ['out', 'outDir']],
    needs: { skipRatio: 'digestOut' },
  },
  serve: {
    summary: 'run the reference SData sync provider on a SQLite store',
    description: 'Runs the reference SData sync provider on a SQLite store (created if missing) until SIGINT/SIGTERM, then ' +
      'finishes in-flight requests and closes the database. Prints the URLs it serves on stdout.\n\n' +
      'Per kind it serves, under http://HOST:PORT/sdata/APP/CONTRACT/DATASET/KIND:\n' +
      '  $syncDigest (GET, PUT), $syncSource, $syncTarget (async with trackingID), $syncResults, $batch,\n' +
      '  the collection and single resources (GET, POST, PUT with If-Match, DELETE), $checksum (JSON);\n' +
      '  and per dataset $schema and $health (JSON).',
    argsHint: 'options only',
    options: {
      db,
      port: int({ min: 0, max: 65535, default: 8080, help: 'listening port (0 = any free port)' }),
      host: string({ arg: 'ADDR', default: PROVIDER_DEFAULTS.host, help: 'listening address' }),
      app: string({ defaultText: `the store's, or '${STORE_DEFAULTS.app}'`, help: 'application segment of the URLs' }),
      contract: string({ defaultText: `the store's, or '${STORE_DEFAULTS.contract}'`, help: 'contract segment' }),
      dataset: string({ defaultText: `the store's, or '${STORE_DEFAULTS.dataset}'`, help: 'dataset segment' }),
      kinds: list({ item: { pattern: KIND_NAME.re, what: 'resource kind names' }, defaultText: `the store's, or '${STORE_DEFAULTS.kind}'`, help: 'kinds served, in sync order' }),
      priority: { ...priority, defaultText: `${STORE_DEFAULTS.priority} for a new kind` },
      pageSize: int({ min: 1, default: PROVIDER_DEFAULTS.pageSize, help: 'entries per source and result page' }),
      endpointBase: { ...endpointBase, help: 'identity of this endpoint in digests and syncStates, fixed when the store is created; never the listening port' },
      contextTtl: duration({ bare: 's', default: PROVIDER_DEFAULTS.contextTtlMs, help: 'idle time after which async contexts expire' }),
      maxBody: size({ default: PROVIDER_DEFAULTS.maxBodyBytes, help: 'larger request bodies get 413' }),
      pollingMillis: int({ min: 0, default: PROVIDER_DEFAULTS.pollingMillis, help: 'pollingMillis advertised while work is in progress' }),
      youngGenMb,
      oldGenMb,
      cacheMb: int({ min: 1, default: 4, help: 'SQLite page cache, MiB' }),
      maxEntryBytes: { ...maxEntryBytes, check: undefined, help: 'larger entries in posted feeds are refused one by one; a larger one-entry body gets 413' },
      ...LIMITS,
      maxDbMib: int({ arg: 'N', min: 1, help: 'store quota: writes that would grow the database file past N MiB are refused with 507 Insufficient Storage, as on a full disk (the WAL beside it is not counted)' }),
      insecure: bool({ help: 'allow a non-loopback --host without authentication (refused otherwise)' }),
      tlsCert: path({ help: 'HTTPS: certificate chain (PEM); needs --tls-key' }),
      tlsKey: path({ help: 'HTTPS: private key (PEM)' }),
      maxConcurrent: int({ min: 1, default: LIMIT_DEFAULTS.maxConcurrent, help: 'requests in progress at once; more get 503 + Retry-After' }),
      maxHeaderBytes: size({ default: LIMIT_DEFAULTS.maxHeaderBytes, help: 'request line and headers (431 beyond)' }),
      maxUrlBytes: size({ default: LIMIT_DEFAULTS.maxUrlBytes, help: 'request URL (414 beyond)' }),
      headersTimeout: duration({ bare: 's', default: LIMIT_DEFAULTS.headersTimeoutMs, help: "time for a request's headers to arrive (408 beyond: slowloris)" }),
      requestTimeout: duration({ bare: 's', default: LIMIT_DEFAULTS.requestTimeoutMs, help: 'time for a whole request, body included' }),
      idleTimeout: duration({ bare: 's', default: LIMIT_DEFAULTS.idleTimeoutMs, help: 'time a connection may stay silent mid-request or mid-response' }),
      logFormat,
    },
    notes: 'Authentication is on when SDATA_SERVE_TOKEN (Bearer tokens, comma-separated, at least 16 characters each) or\n' +
      "SDATA_SERVE_USERS_FILE (a file of 'user:hash' lines from 'sdata-sync hash-password') is set: every URL then needs\n" +
      'credentials (401 otherwise). See README "Running the provider on a network".',
    credentials: ['SDATA_SERVE_TOKEN', 'SDATA_SERVE_USERS_FILE'],
  },
  seed: {
    summary: 'fill a provider store with generated resources',
    description: 'Adds N generated resources (~1 KB each: nested elements, a child list, a reference, xsi:nil, non-ASCII text, ' +
      "entity references) to a provider store, created if missing. Each is a local change of the store's own " +
      "endpoint with its own tick (docs/protocol.md §3.1), so the store's digest and syncStates are correct for a sync source. " +
      'The same --seed gives the same resources.',
    args: { count: arg(int({ min: 0, help: 'the number of resources to add' }), { name: 'N', required: true }) },
    options: {
      db,
      app: string({ default: STORE_DEFAULTS.app, help: 'application segment' }),
      contract: string({ default: STORE_DEFAULTS.contract, help: 'contract segment' }),
      dataset: string({ default: STORE_DEFAULTS.dataset, help: 'dataset segment' }),
      kind: string({ arg: 'KIND', pattern: KIND_NAME, default: STORE_DEFAULTS.kind, help: 'resource kind' }),
      endpointBase,
      priority,
      seed,
      quiet: { ...quiet, help: 'no progress and no summary on stderr' },
    },
  },
  'hash-password': {
    summary: "a users-file line for serve's Basic authentication (password from a prompt or stdin)",
    description: "Prints the line that gives USER access to 'sdata-sync serve' when put in the file named by SDATA_SERVE_USERS_FILE:\n\n" +
      '  USER:scrypt$N$r$p$SALT$HASH\n\n' +
      'The password is read from the terminal (asked twice, not echoed) or, when stdin is not a terminal, from the first ' +
      'line of stdin. It is never taken from the command line, where shell history and ps would keep it.',
    args: { user: arg(string({ pattern: { re: /^[^:\s\p{Cc}#]+$/u, what: "a user name (no ':', '#', spaces or control characters)" }, help: 'the user name' }), { name: 'USER', required: true }) },
    options: {
      cost: int({ arg: 'N', min: 1024, max: 2 ** 20, default: SCRYPT_DEFAULT_N, check: (n) => ((n & (n - 1)) === 0 ? undefined : `${n} is not a power of two`), help: 'scrypt cost N, a power of two (the default costs 16 MiB and 50-300 ms per verification)' }),
    },
  },
  run: {
    summary: 'one catch-up pass (or several kinds) from a source to a target over HTTP',
    description: 'One catch-up pass per resource kind from a source application to a target application (SData 1.1 sync). ' +
      'URLs are dataset bases, e.g. http://host/sdata/myApp/myContract/-',
    notes: `${credentialNote('source').replace(' (Basic).', ' (Basic); the same with TARGET.')} They are sent only to the origin of their URL.\n\n${EXIT_LINE}`,
    argsHint: 'URLs go with --source/--target',
    options: {
      source: url({ required: true, help: 'source dataset base URL' }),
      target: url({ required: true, help: 'target dataset base URL' }),
      kind: list({ arg: 'KIND', item: { pattern: KIND_NAME.re, what: 'resource kind names' }, help: "resource kind (repeat or comma-separate); passes run in the providers' sme:syncOrder (the target's first), in this order where $schema gives none" }),
      allKinds: bool({ help: "every kind both providers' $schema declare, in sme:syncOrder" }),
      runName,
      dryRun: bool({ help: 'read and decide, write nothing to the target, report what would be sent' }),
      postResults: bool({ help: "POST each result feed to the source's $syncResults" }),
      chunkEntries,
      chunkBytes,
      maxEntryBytes,
      ...LIMITS,
      strict: { ...strict, help: 'an invalid source entry ends the pass (exit 3)' },
      concurrency: int({ min: 1, default: 1, help: 'passes at once among kinds of equal sme:syncOrder' }),
      spoolDir: { ...spoolDir, help: 'chunks wait in memory; in files here when --chunk-bytes exceeds 32MiB, and so do result pages for --post-results' },
      report: { ...report, help: 'write the run report as JSON' },
      progress: choice(['auto', 'tty', 'json', 'none'] as const, { default: 'auto', help: 'live progress on stderr: auto = a live line on a terminal, JSON lines (every 5 s) with JSON logs, none otherwise' }),
      explain,
      stateDir,
      stopTimeout,
      ...HTTP,
    },
    exclusive: [['kind', 'allKinds'], ...HTTP_RULES],
    credentials: [SOURCE.token, SOURCE.user, SOURCE.password, TARGET.token, TARGET.user, TARGET.password],
  },
  link: {
    summary: 'link the resources two applications already share, before their first sync ($linked)',
    description: "Links the resources two applications already share before their first sync (SData 1.1 sync, spec 1.2-1.4), so " +
      "that 'run' updates them instead of creating duplicates. Reads both collections, matches resources whose FIELD " +
      'values are equal, and for each match: neither has a uuid -> a new one for both; one has one -> the other takes ' +
      'it; both have different ones -> the side with the lower conflictPriority (its own digest entry) keeps its uuid ' +
      'and the other re-points. A key held by several resources on a side is ambiguous: reported, never linked. ' +
      'Dry run unless --apply. URLs are dataset bases, e.g. http://host/sdata/myApp/myContract/-',
    ...TWO_SIDES_HELP,
    options: {
      ...TWO_SIDES,
      match: list({ arg: 'FIELD', required: true, item: { pattern: /^[^\s/]+(\/[^\s/]+)*$/, what: 'property names or paths of them (a/b)' }, help: 'the natural key: payload properties by local name; a path reaches into children (address/postCode); several fields make one composite key' }),
      normalize: list({ arg: 'LIST', item: { pattern: /^(trim|case|space)$/, what: 'trim, case or space' }, help: 'before comparing: trim (the ends), case (lower case), space (inner runs of white space as one space); comma-separated (default: compare as written)' }),
      apply: bool({ help: "write the links through each provider's $linked (default: a dry run)" }),
      report: { ...report, help: "one JSON line per decision (key, both sides' url and uuid, action) and per refusal" },
      batch: int({ min: 0, default: 500, help: 'links per $linked/$batch request where the provider offers it (0: never)' }),
      pageSize: int({ min: 1, defaultText: "the provider's", help: 'entries asked per collection page' }),
      spoolDir: { ...spoolDir, help: 'where the scratch file of the matching goes' },
      stopTimeout,
      maxEntryBytes: { ...maxEntryBytes, help: 'larger entries are refused' },
      ...HTTP,
    },
    exclusive: HTTP_RULES,
    credentials: [SOURCE.token, SOURCE.user, SOURCE.password, TARGET.token, TARGET.user, TARGET.password],
  },
  verify: {
    summary: 'compare what two applications hold of a kind: missing, extra, deleted and different resources',
    description: "Reads both sides' whole state of a kind (each one's sync feed against an empty digest: every resource " +
      'and tombstone) and compares them by uuid: a resource live on one side must be live on the other with the same ' +
      'canonical payload (namespace prefixes, attribute order, references and CDATA, layout white space, child-list ' +
      'order and the local sdata:key/sdata:url do not count); a tombstone equals a tombstone or nothing. Memory stays ' +
      'bounded: both sides are joined in a scratch file. Exit 0 when they hold the same data, 8 when they do not. ' +
      'URLs are dataset bases, e.g. http://host/sdata/myApp/myContract/-',
    ...TWO_SIDES_HELP,
    options: {
      ...TWO_SIDES,
      states: bool({ help: 'also compare syncStates (endpoint and tick); a resource with equal data and another state is reported, not a failure' }),
      report: { ...report, help: 'one JSON line per difference: uuid, what differs, and both sides\' digest, url and syncState' },
      tempDir: path({ arg: 'DIR', defaultText: 'the system temp directory', help: 'where the scratch file of the comparison goes' }),
      threads: int({ min: 1, max: 2, default: 2, help: 'read the two sides on two threads (2: ~1.3x faster where two cores are free) or both on one (1: for one core; ~10 MiB less memory, but twice the heap per --max-entry-bytes); the result is the same' }),
      runName: { ...runName, default: 'sdata-sync verify', help: 'runName sent with the $syncSource POSTs' },
      // Checked by the command itself (cli/verify.ts), with verify's heap per byte and its --threads: the pipe
      // commands' check here would answer first above ~45 MiB and ask for a third of the heap verify needs.
      maxEntryBytes: { ...maxEntryBytes, check: undefined, help: 'larger entries are not compared (and make the result a difference)' },
      ...LIMITS,
      stateDir,
      ...HTTP,
    },
    exclusive: HTTP_RULES,
    credentials: [SOURCE.token, SOURCE.user, SOURCE.password, TARGET.token, TARGET.user, TARGET.password],
  },
  digest: {
    summary: "print a target's $syncDigest entry",
    description: "Prints the target's $syncDigest entry (what the engine posts to a source) on stdout, as the target sent it.",
    notes: credentialNote('target'),
    args: { collection: arg(url({ help: "a kind's collection, e.g. http://host/sdata/myApp/myContract/-/accounts" }), { name: 'TARGET_COLLECTION_URL', required: true }) },
    options: { ...HTTP },
    exclusive: HTTP_RULES,
    credentials: [TARGET.token, TARGET.user, TARGET.password],
  },
  pull: {
    summary: 'stream every page of a source feed to stdout as one feed',
    description: 'Asks the source for its sync feed against a target digest and writes every page to stdout as ONE sync feed ' +
      "(page 1's head, every entry, no next link). Without --digest the digest is empty: the whole collection.\n" +
      '  sdata-sync digest T/accounts > d.xml && sdata-sync pull S/accounts --digest d.xml | sdata-sync plan --digest d.xml | sdata-sync push T/accounts',
    notes: credentialNote('source'),
    args: { collection: arg(url({ help: "the source kind's collection URL" }), { name: 'SOURCE_COLLECTION_URL', required: true }) },
    options: {
      digest,
      runName: { ...runName, default: 'sdata-sync pull', help: 'runName; runStamp is now' },
      maxEntryBytes: { ...maxEntryBytes, help: 'larger entries are not forwarded' },
      ...LIMITS,
      stateDir,
      stopTimeout,
      ...HTTP,
    },
    exclusive: HTTP_RULES,
    credentials: [SOURCE.token, SOURCE.user, SOURCE.password],
  },
  push: {
    summary: "POST sync feeds to a target's $syncTarget in chunks, result feed to stdout",
    description: "Posts a sync feed (files in order, or stdin) to the target's $syncTarget in chunks the engine cuts as 'run' " +
      'does (--chunk-entries, --chunk-bytes; each chunk a spec-shaped page of the feed, the last without a next link), and ' +
      "writes the target's results to stdout as one result feed. The input is streamed and checked as it is read: a " +
      'chunk is posted only once all its bytes were read and found well-formed, so malformed input stops the push with ' +
      'exit 3 (file:line:column) before anything after it is sent; a push that stops before the target answered ' +
      'anything leaves stdout empty.\n\n' +
      'Several files are the pages of one feed, in order: a file with a next link goes on into the next file, one ' +
      'without ends the feed (the target merges its digest) and the next file begins another. When the last file has a ' +
      'next link, so does the last chunk: the target merges when the rest is pushed. Retries re-send the identical ' +
      'chunk under the same trackingID; a 413 splits a chunk in two.',
    notes: `${credentialNote('target')}\nExit codes: 0 ok, 3 malformed input (or an invalid entry with --strict), 7 the target refused a chunk, 8 some entries failed or were invalid.`,
    args: {
      collection: arg(url({ help: "the target kind's collection URL" }), { name: 'TARGET_COLLECTION_URL', required: true }),
      feeds: arg(path({ help: 'the pages of the feed(s) to post, in order (none or - = stdin)' }), { name: 'FEED.xml', variadic: true }),
    },
    options: {
      runName: { ...runName, default: 'sdata-sync push', help: 'runName; runStamp is now' },
      chunkEntries,
      chunkBytes,
      maxEntryBytes,
      strict: { ...strict, help: 'an invalid entry in the input ends the push (exit 3)' },
      spoolDir: { ...spoolDir, help: 'result pages wait here before they go to stdout, and chunks when --chunk-bytes exceeds 32MiB' },
      ...LIMITS,
      stateDir,
      stopTimeout,
      ...HTTP,
    },
    exclusive: HTTP_RULES,
    credentials: [TARGET.token, TARGET.user, TARGET.password],
  },
  demo: {
    summary: 'two local providers, a full catch-up, conflicts, convergence (npm start)',
    description: 'Two reference SData providers on loopback ("crm" and "erp", temporary SQLite stores), crm seeded with N generated ' +
      'accounts: a full catch-up pass crm -> erp with progress and summary, then edits on both sides including a real ' +
      "conflict, passes both ways until both hold the same data, and a last pass that sends nothing. This is what 'npm start' runs.",
    argsHint: 'options only',
    options: {
      count: int({ min: 1, default: 100_000, help: 'accounts to seed' }),
      chunkEntries,
      keep: path({ arg: 'DIR', help: 'keep the two stores in DIR (default: a temporary directory, removed at the end)' }),
      progress: choice(['auto', 'tty', 'json', 'none'] as const, { default: 'auto', help: 'live progress on stderr: auto = tty on a terminal, none otherwise' }),
    },
  },
  health: {
    summary: "probe a URL (a provider's $health): exit 0 on 200, 5 network, 6 other status",
    description: "GETs the URL once (a provider's {dataset}/$health, or any URL) and exits 0 on 200 within --timeout, 5 when it " +
      'cannot be reached in time, 6 on any other status, with one line. Made for container health checks: it loads ' +
      'node:http(s) only. Redirects are not followed.',
    notes: `With --auth source or --auth target it sends that side's credentials (${SOURCE.token}…, ${TARGET.token}…)\n` +
      "to the URL's origin; with --auth serve the first of SDATA_SERVE_TOKEN's tokens (a probe beside 'serve' in its\n" +
      'container: a provider with tokens asks for one on $health too); by default none.',
    args: { url: arg(url({ help: 'the URL to probe' }), { name: 'URL', required: true }) },
    options: {
      timeout: duration({ bare: 's', default: 3000, help: 'the whole exchange, connection to status line' }),
      auth: choice(['none', 'source', 'target', 'serve'] as const, { default: 'none', help: "send the credentials of this side from the environment (serve: the provider's own token)" }),
      quiet: { ...quiet, help: 'no line on success' },
    },
    credentials: [SOURCE.token, SOURCE.user, SOURCE.password, TARGET.token, TARGET.user, TARGET.password, 'SDATA_SERVE_TOKEN'],
  },
  config: {
    summary: "show a command's effective configuration and where each value comes from",
    description: 'Prints the configuration a command would run with: every option with its value and its source: a flag, ' +
      'the environment (SDATA_SYNC_<OPTION>), the --config file (its section for the command), or the default. ' +
      'Credential variables are listed as set or not, never with their values.\n' +
      '  sdata-sync config --print --command run --config /etc/sdata-sync/config.json -- --chunk-entries 500',
    args: { flags: arg(string({ help: "the command's own flags, after --, to see them applied" }), { name: 'FLAG', variadic: true }) },
    options: {
      print: bool({ cliOnly: true, required: true, help: 'print the effective configuration' }),
      command: string({ arg: 'NAME', cliOnly: true, default: 'run', help: 'the command whose configuration to show' }),
      json: bool({ cliOnly: true, help: 'as one JSON document: values, sources, credentials set' }),
    },
  },
} as const satisfies Record<string, CommandDecl>;

export type CommandName = keyof typeof COMMANDS;

/**
 * Said when a flag, a config key or a variable looks like a secret: where this command reads its credentials from
 * (the environment, never a flag or a file), or, for a command that has none, that secrets never come from there.
 */
export function credentialsNote(name: CommandName | undefined): string {
  const c: readonly string[] | undefined = name === undefined ? undefined : (COMMANDS[name] as CommandDecl).credentials;
  return c !== undefined && c.length > 0
    ? `credentials are read from the environment only: ${c.join(', ')}`
    : 'secrets are never read from the command line or a config file';
}

export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

/** The one option every command has besides --help: where its --config file is (also SDATA_SYNC_CONFIG). */
export const CONFIG_OPTION = path({ cliOnly: true, help: 'read options from this JSON file (its section for the command); also SDATA_SYNC_CONFIG' });
export const CONFIG_ENV = 'SDATA_SYNC_CONFIG';
