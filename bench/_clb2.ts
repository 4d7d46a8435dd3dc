import { needsListMerge } from '../src/provider/payload/list-scan.ts';
import { seedResource } from '../src/seeder/seed-store.ts';
const xs: string[] = [];
for (let i = 0; i < 1000; i++) xs.push(Buffer.from(seedResource(i).payload).toString());
let k = 0;
for (let rep = 0; rep < 5; rep++) {
  const t = process.cpuUsage().user;
  for (let r = 0; r < 200; r++) for (const x of xs) if (needsListMerge(x)) k++;
  console.log('needsListMerge ns', ((process.cpuUsage().user - t) * 1000 / (200 * xs.length)).toFixed(0), k);
}
