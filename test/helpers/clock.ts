import type { Clock } from '../../src/http/retry.ts';

/**
 * A clock that does not wait: every wait is recorded and ends at once, moving `now` on by its length (time starts
 * at 0); the jitter draws 1 (the full ceiling).
 */
export function instantClock(): Clock & { waits: number[] } {
  const waits: number[] = [];
  let t = 0;
  return {
    waits,
    random: () => 1,
    now: () => t,
    sleep(ms: number, signal?: AbortSignal): Promise<void> {
      waits.push(ms);
      if (signal?.aborted) return Promise.reject(signal.reason);
      t += ms;
      return Promise.resolve();
    },
  };
}

/**
 * A clock whose waits never end by themselves: only the signal's abort ends one (rejecting, as the real sleep does).
 * `waiting` resolves when the first wait begins, so a test can abort exactly during a backoff, without timing.
 */
export function heldClock(): Clock & { waits: number[]; waiting: Promise<void> } {
  const waits: number[] = [];
  let entered!: () => void;
  const waiting = new Promise<void>((resolve) => {
    entered = resolve;
  });
  return {
    waits,
    waiting,
    random: () => 1,
    now: () => 0,
    sleep(ms: number, signal?: AbortSignal): Promise<void> {
      waits.push(ms);
      entered();
      if (!signal) return Promise.reject(new Error('heldClock: a wait without a signal would never end'));
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    },
  };
}
