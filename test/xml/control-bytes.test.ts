import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import wabt from 'wabt';
import { CONTROL_WASM, firstControlByRegExp, firstControlByte } from '../../src/xml/control-bytes.ts';
import { prng } from '../helpers/feeds.ts';

// The C0 check every byte scanner makes on every piece (src/xml/control-bytes.ts) runs in WebAssembly. Its oracle is
// the regular expression it replaced, over the bytes read as Latin-1; and its module must be control-bytes.wat as
// written, which a reader can review, not some other binary.

const ALLOWED = [0x09, 0x0a, 0x0d];
const CONTROLS = Array.from({ length: 0x20 }, (_, i) => i).filter((b) => !ALLOWED.includes(b));

/** Bytes a feed holds: ASCII markup and text, TAB/LF/CR, and UTF-8 of characters above U+007F (no byte below 0x80 in them). */
function ordinaryBytes(rand: () => number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    const r = rand();
    out[i] = r < 0.05 ? ALLOWED[Math.floor(r * 60)]! : r < 0.2 ? 0x80 + Math.floor(rand() * 0x80) : 0x20 + Math.floor(rand() * 0x60);
  }
  return out;
}

describe('control bytes', () => {
  it('is control-bytes.wat as written (assembled by wabt)', async () => {
    const w = await wabt();
    const text = readFileSync(new URL('../../src/xml/control-bytes.wat', import.meta.url), 'utf8');
    const mod = w.parseWat('control-bytes.wat', text, { simd: true });
    try {
      mod.validate();
      const bytes = Buffer.from(mod.toBinary({}).buffer);
      assert.equal(CONTROL_WASM, bytes.toString('base64'),
        'src/xml/control-bytes.ts CONTROL_WASM is not control-bytes.wat: set it to the base64 of `wat2wasm src/xml/control-bytes.wat`');
    } finally {
      mod.destroy();
    }
  });

  it('finds nothing where there is nothing, at every length around the vector blocks', () => {
    const rand = prng(7);
    for (let n = 0; n <= 300; n++) {
      const b = ordinaryBytes(rand, n);
      assert.equal(firstControlByte(b), -1, `length ${n}`);
      assert.equal(firstControlByRegExp(b), -1);
    }
  });

  it('finds each control byte at every offset of a block and its tail, and the first of several', () => {
    const rand = prng(11);
    const base = ordinaryBytes(rand, 200);
    for (const c of CONTROLS) {
      for (let at = 0; at < 200; at += at < 140 ? 1 : 7) {
        const b = Buffer.from(base);
        b[at] = c;
        if (at + 30 < b.length) b[at + 30] = CONTROLS[(c * 7) % CONTROLS.length]!;
        assert.equal(firstControlByte(b), at, `0x${c.toString(16)} at ${at}`);
      }
    }
    // TAB, LF, CR, DEL, and the bytes of C1 controls (U+0085 is C2 85) are characters XML 1.0 allows.
    assert.equal(firstControlByte(Buffer.from('a\tb\nc\r\x7f\u0085\u2028<x/>', 'utf8')), -1);
  });

  it('agrees with the regular expression on random pieces larger than its memory, views included', () => {
    const rand = prng(3);
    for (let k = 0; k < 12; k++) {
      const n = Math.floor(rand() * 700_000);
      const b = ordinaryBytes(rand, n);
      const hits = k % 3 === 0 ? 0 : 1 + Math.floor(rand() * 3);
      for (let h = 0; h < hits; h++) b[Math.floor(rand() * n)] = CONTROLS[Math.floor(rand() * CONTROLS.length)]!;
      const from = Math.floor(rand() * Math.min(n, 5000));
      const view = new Uint8Array(b.buffer, b.byteOffset + from, n - from);
      assert.equal(firstControlByte(b), firstControlByRegExp(b), `piece ${k}, ${n} bytes`);
      assert.equal(firstControlByte(view), firstControlByRegExp(view), `piece ${k} from ${from}`);
    }
    // A hit only beyond the first window (256 KiB) is found there.
    const b = ordinaryBytes(rand, 600_000);
    b[590_000] = 0x0b;
    assert.equal(firstControlByte(b), 590_000);
  });

  it('answers the same without WebAssembly (node --jitless has none)', () => {
    const url = new URL('../../src/xml/control-bytes.ts', import.meta.url).href;
    const script = `import { firstControlByte } from ${JSON.stringify(url)};
      delete globalThis.WebAssembly;
      const b = Buffer.alloc(300_000, 0x61); b[299_000] = 0x1f;
      process.stdout.write(JSON.stringify([firstControlByte(Buffer.from('a\\tb\\r\\n')), firstControlByte(b)]));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.deepEqual(JSON.parse(out), [-1, 299_000]);
  });
});
