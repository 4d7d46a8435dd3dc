import { parentPort, workerData } from 'node:worker_threads';
import type { Digest } from '../protocol/digest.ts';
import { Decider } from './decide.ts';
import { readSegment, SegmentReaders, type SegmentJob } from './segment.ts';

/**
 * A helper thread of segmented planning (parallel.ts): reads the pieces it is given, each with a reader of its own,
 * and answers with one batch per piece, in the order received. The batch's buffer is transferred, not copied.
 *
 * Protocol: workerData = { target: Digest | undefined }; ← SegmentJob; → SegmentBatch | { crash: string }.
 */
const port = parentPort!;
const readers = new SegmentReaders(new Decider((workerData as { target: Digest | undefined }).target));

port.on('message', (job: SegmentJob) => {
  try {
    const b = readSegment(job, readers);
    port.postMessage(b, [b.out.buffer as ArrayBuffer]);
  } catch (e) {
    port.postMessage({ crash: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
