import { SdataError } from '../protocol/errors.ts';
import { seedStore } from '../seeder/seed-store.ts';
import { parse, parseCount, stderrLine } from './common.ts';
import { EXIT } from './exit-codes.ts';

export const SEED_HELP = `Usage: sdata-sync seed --db FILE --app NAME --contract NAME --kind KIND [options] N

Adds N generated resources (~1 KB each: nested elements, a child list, a reference, xsi:nil, non-ASCII text,
entity references) to a provider store, created if missing. Each is a local change of the store's own
endpoint with its own tick (docs/protocol.md §3.1), so the store's digest and syncStates are correct for a sync source.
The same --seed gives the same resources.

Options:
  --db FILE              SQLite database file
  --app NAME, --contract NAME, --dataset NAME (default '-')
  --kind KIND            resource kind (default accounts)
  --endpoint-base URL    identity of a new store's endpoint (default http://localhost/sdata/APP/CONTRACT/DATASET)
  --priority N           this endpoint's conflictPriority in its own digest (1..9)
  --seed S               generator seed (default 1)
  --quiet                no progress on stderr
  -h, --help
`;

export async function seedCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    db: { type: 'string' },
    app: { type: 'string' },
    contract: { type: 'string' },
    dataset: { type: 'string' },
    kind: { type: 'string' },
    'endpoint-base': { type: 'string' },
    priority: { type: 'string' },
    seed: { type: 'string' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }, 'seed');
  if (values.help) {
    process.stdout.write(SEED_HELP);
    return EXIT.OK;
  }
  if (!values.db) throw new SdataError('SDATA_E_USAGE', "seed: --db FILE is required (see 'sdata-sync seed --help')");
  if (positionals.length !== 1) throw new SdataError('SDATA_E_USAGE', 'seed: expected one argument, the number of resources N');
  const count = parseCount(positionals[0]!, 'N', 0);
  const priority = values.priority === undefined ? undefined : parseCount(values.priority, '--priority');
  if (priority !== undefined && priority > 9) throw new SdataError('SDATA_E_USAGE', '--priority: conflict priorities are 1..9');
  const started = process.hrtime.bigint();
  const quiet = values.quiet ?? false;
  const r = await seedStore({
    db: values.db,
    app: values.app ?? 'hub',
    contract: values.contract ?? 'crm',
    dataset: values.dataset ?? '-',
    kind: values.kind ?? 'accounts',
    count,
    ...(values['endpoint-base'] === undefined ? {} : { endpointBase: values['endpoint-base'] }),
    ...(priority === undefined ? {} : { priority }),
    seed: values.seed === undefined ? 1 : parseCount(values.seed, '--seed', 0),
    ...(quiet || !process.stderr.isTTY ? {} : { onProgress: (n: number) => process.stderr.write(`\rseeded ${n} / ${count}`) }),
  });
  if (!quiet && process.stderr.isTTY) process.stderr.write('\n');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!quiet) stderrLine(JSON.stringify({ seeded: r.count, endpoint: r.endpoint, db: values.db, seconds }));
  return EXIT.OK;
}
