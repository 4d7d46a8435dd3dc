// The baseline the plan bench compares with: bare saxes (namespaces on) over a file, read the way `plan` reads it
// (64 KiB chunks, one streaming TextDecoder), with no handler beyond an element counter.
// Usage: node bench/saxes-bare.ts FILE   → one JSON line on stdout.
import { createReadStream } from 'node:fs';
import { SaxesParser } from 'saxes';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: saxes-bare.ts FILE\n');
  process.exit(2);
}
const started = process.hrtime.bigint();
const parser = new SaxesParser({ xmlns: true });
let elements = 0;
// No 'error' handler: saxes throws by default, and a handler is not part of "bare".
parser.on('opentag', () => {
  elements++;
});
const decoder = new TextDecoder('utf-8', { fatal: true });
let bytes = 0;
for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 })) {
  bytes += (chunk as Buffer).length;
  parser.write(decoder.decode(chunk as Buffer, { stream: true }));
}
parser.write(decoder.decode());
parser.close();
process.stdout.write(`${JSON.stringify({ bytes, elements, seconds: Number(process.hrtime.bigint() - started) / 1e9 })}\n`);
