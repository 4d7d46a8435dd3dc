// Preloaded into the engine by the reliability harness (`node --import`). When the bin starts loading its command
// (the import of src/cli/main.ts, the first slow step: ~200 ms to load `run` before it can handle a signal), it
// writes `loading` on fd 3 if HARNESS_FD3 is set, and sends itself HARNESS_SIGNAL_AT_LOAD (e.g. SIGTERM) if set:
// a real signal, delivered by the kernel, at the moment the default action would otherwise end the process.
// Plain JavaScript: a .ts preload would load Node's type stripper first and move the moment.
import { writeSync } from 'node:fs';
import { registerHooks } from 'node:module';

const signal = process.env.HARNESS_SIGNAL_AT_LOAD;
const fd3 = process.env.HARNESS_FD3 === '1';
let seen = false;
registerHooks({
  resolve(specifier, context, next) {
    if (!seen && specifier.endsWith('/cli/main.ts')) {
      seen = true;
      if (fd3) writeSync(3, 'loading\n');
      if (signal) process.kill(process.pid, signal);
    }
    return next(specifier, context);
  },
});
