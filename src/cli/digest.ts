import { readSmallDocument, statusError } from '../http/body.ts';
import { MAX_DIGEST_BYTES } from '../xml/limits.ts';
import { HttpClient } from '../http/client.ts';
import { operationUrl } from '../http/url.ts';
import { parseDigestDocument } from '../xml/digest-document.ts';
import type { COMMANDS, Input } from './commands.ts';
import { clientOptions, loggerFrom } from './common.ts';
import { EXIT } from './exit-codes.ts';

/** `sdata-sync digest`: options and help in commands.ts. */
export async function run({ values: v, args }: Input<typeof COMMANDS.digest>): Promise<number> {
  const log = loggerFrom(v);
  const client = new HttpClient(clientOptions('target', args.collection, v, log));
  try {
    const url = operationUrl(args.collection, '$syncDigest');
    const res = await client.request({ method: 'GET', url, headers: { accept: 'application/atom+xml; type=entry' } });
    if (res.statusCode !== 200) throw await statusError('GET', res, 'reading the digest');
    const text = await readSmallDocument(res, MAX_DIGEST_BYTES);
    const d = parseDigestDocument(text, url); // refuse to print what a source would not accept
    log.debug(`${url}: ${d.entries.size} digest entr${d.entries.size === 1 ? 'y' : 'ies'}`);
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    return EXIT.OK;
  } finally {
    await client.close();
  }
}
