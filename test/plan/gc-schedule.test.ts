import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUFFERS_GROWN, GcSchedule } from '../../src/plan/gc-schedule.ts';

/** Runs `pieces` pieces through a schedule whose ArrayBuffers hold `bytes(piece)`; the pieces after which it collected. */
function collections(pieces: number, bytes: (piece: number) => number): number[] {
  const at: number[] = [];
  let piece = 0;
  const s = new GcSchedule({ collect: () => void at.push(piece), buffers: () => bytes(piece) });
  for (piece = 1; piece <= pieces; piece++) s.betweenPieces();
  return at;
}

describe('GcSchedule', () => {
  it('collects after 16 and 256 pieces, then every 4096, when the buffers stay put', () => {
    assert.deepEqual(collections(9000, () => 4 * 2 ** 20), [16, 256, 4352, 8448]);
  });

  it('collects at its next look once the buffers grew by more than BUFFERS_GROWN since its last collection', () => {
    // 16 KiB more per piece, never freed: BUFFERS_GROWN (12 MiB) is 768 pieces' worth; it looks every 64 pieces.
    assert.equal(BUFFERS_GROWN, 12 * 2 ** 20);
    assert.deepEqual(collections(5000, (p) => p * 16 * 1024), [16, 256, 1088, 1920, 2752, 3584, 4352]);
  });

  it('does not collect again while what it found is what stays alive', () => {
    // 30 MiB held from piece 300 on and never let go: one collection sets the mark above it, no storm follows.
    const at = collections(4000, (p) => (p >= 300 ? 30 * 2 ** 20 : 2 ** 20));
    assert.deepEqual(at, [16, 256, 320]);
  });
});
