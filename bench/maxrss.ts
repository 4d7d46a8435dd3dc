// Preloaded into benchmarked child processes (`node --import ./bench/maxrss.ts …`): at exit, writes the process's
// peak resident set size to the file named by BENCH_RSS_OUT, so the parent reads the child's own figure.
import { writeFileSync } from 'node:fs';

const out = process.env['BENCH_RSS_OUT'];
if (out) {
  process.on('exit', () => {
    const ru = process.resourceUsage();
    writeFileSync(out, JSON.stringify({ maxRssKiB: ru.maxRSS, userMs: ru.userCPUTime / 1000, systemMs: ru.systemCPUTime / 1000 }));
  });
}
