import { seedStore } from '../seeder/seed-store.ts';
import type { COMMANDS, Input } from './commands.ts';
import { stderrLine } from './common.ts';
import { EXIT } from './exit-codes.ts';

/** `sdata-sync seed`: options and help in commands.ts. */
export async function run({ values, args }: Input<typeof COMMANDS.seed>): Promise<number> {
  const count = args.count;
  const priority = values.priority;
  const started = process.hrtime.bigint();
  const quiet = values.quiet ?? false;
  const r = await seedStore({
    db: values.db,
    app: values.app,
    contract: values.contract,
    dataset: values.dataset,
    kind: values.kind,
    count,
    ...(values.endpointBase === undefined ? {} : { endpointBase: values.endpointBase }),
    ...(priority === undefined ? {} : { priority }),
    seed: values.seed,
    ...(quiet || !process.stderr.isTTY ? {} : { onProgress: (n: number) => process.stderr.write(`\rseeded ${n} / ${count}`) }),
  });
  if (!quiet && process.stderr.isTTY) process.stderr.write('\n');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!quiet) stderrLine(JSON.stringify({ seeded: r.count, endpoint: r.endpoint, db: values.db, seconds }));
  return EXIT.OK;
}
