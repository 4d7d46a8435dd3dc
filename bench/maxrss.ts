// Preloaded into benchmarked child processes (`node --import ./bench/maxrss.ts …`): at exit, writes the process's
// peak resident set size, CPU time and the bytes it had the kernel write to storage (/proc/self/io: for a provider,
// its WAL, checkpoints and database file) to the file named by BENCH_RSS_OUT, so the parent reads the child's own
// figures.
import { readFileSync, writeFileSync } from 'node:fs';

const out = process.env['BENCH_RSS_OUT'];
if (out) {
  process.on('exit', () => {
    const ru = process.resourceUsage();
    let writeBytes = 0;
    try {
      writeBytes = Number(/write_bytes: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
    } catch {
      // not Linux: no figure
    }
    writeFileSync(out, JSON.stringify({ maxRssKiB: ru.maxRSS, userMs: ru.userCPUTime / 1000, systemMs: ru.systemCPUTime / 1000, writeBytes }));
  });
}
