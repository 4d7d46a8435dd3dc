/**
 * Whether bytes hold a C0 control character that XML 1.0 does not allow (below 0x20, other than TAB, LF and CR).
 * Every piece the byte scanners read is checked for them (piece-scanner.ts), so this runs over every byte of every
 * feed that plan, run and a target read. A regular expression over the piece's Latin-1 view read ~1.2 GB/s here,
 * about an eighth of `plan --threads 1`'s time; the same test in WebAssembly's 16-byte vectors reads ~6–10 GB/s,
 * the copy into its memory included (docs/decisions/0031-control-bytes-in-wasm.md).
 *
 * The module is control-bytes.wat, assembled: CONTROL_WASM below must be its bytes, which
 * test/xml/control-bytes.test.ts checks (it assembles the text with wabt). Where WebAssembly is not available
 * (`node --jitless`), the regular expression answers: the same answer, slower.
 */

/** control-bytes.wat, assembled (wat2wasm), base64. */
export const CONTROL_WASM = 'AGFzbQEAAAABCwJgAXsBe2ABfwF/AwMCAAEFAwEABAcZAgZtZW1vcnkCAAxmaXJzdENvbnRyb2wAAQq0AQIoACAAQSD9D/0mIABBCf0P/SMgAEEK/Q/9I/1QIABBDf0P/SP9UP1PC4gBAQN/IABBQHEhAgJAA0AgASACTw0BIAH9AAQAEAAgAf0ABBAQAP1QIAH9AAQgEAAgAf0ABDAQAP1Q/VD9Uw0BIAFBwABqIQEMAAsLAkADQCABIABPDQEgAS0AACEDIANBIEkgA0EJRyADQQpHIANBDUdxcXEEQCABDwsgAUEBaiEBDAALC0F/Cw==';

/** The module's memory, in 64 KiB pages (control-bytes.wat): the bytes are checked this much at a time. */
const WINDOW = 4 * 65536;

/** The characters, for the fallback: a UTF-8 string holds them only as themselves, so bytes read as Latin-1 do too. */
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f]/;

/** What this module uses of WebAssembly's JavaScript API (the compiler's libraries here do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

interface Vectors {
  memory: Uint8Array;
  firstControl: (n: number) => number;
}

let vectors: Vectors | null | undefined;

function load(): Vectors | null {
  try {
    const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const instance = new wasm.Instance(new wasm.Module(Buffer.from(CONTROL_WASM, 'base64')), {});
    const memory = new Uint8Array((instance.exports['memory'] as { buffer: ArrayBuffer }).buffer);
    return { memory, firstControl: instance.exports['firstControl'] as (n: number) => number };
  } catch {
    // No WebAssembly (--jitless) or no vector instructions: the expression answers.
    return null;
  }
}

/** The offset of the first such byte in `bytes`, or -1. */
export function firstControlByte(bytes: Uint8Array): number {
  const v = vectors === undefined ? (vectors = load()) : vectors;
  if (v === null) return firstControlByRegExp(bytes);
  const n = bytes.length;
  for (let at = 0; at < n; at += WINDOW) {
    const part = n - at > WINDOW ? bytes.subarray(at, at + WINDOW) : at === 0 ? bytes : bytes.subarray(at);
    v.memory.set(part, 0);
    const i = v.firstControl(part.length);
    if (i >= 0) return at + i;
  }
  return -1;
}

/** The same answer without WebAssembly (and the oracle of the tests). */
export function firstControlByRegExp(bytes: Uint8Array): number {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return b.toString('latin1').search(CONTROL);
}
