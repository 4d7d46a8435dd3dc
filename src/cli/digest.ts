import { readSmallDocument, statusError } from '../http/body.ts';
import { MAX_DIGEST_BYTES } from '../xml/limits.ts';
import { HttpClient } from '../http/client.ts';
import { operationUrl } from '../http/url.ts';
import { SdataError } from '../protocol/errors.ts';
import { parseDigestDocument } from '../xml/digest-document.ts';
import { clientOptions, COMMON_HTTP_OPTIONS, loggerFrom, parse } from './common.ts';
import { EXIT } from './exit-codes.ts';

export const DIGEST_HELP = `Usage: sdata-sync digest TARGET_COLLECTION_URL [options]

Prints the target's $syncDigest entry (what the engine posts to a source) on stdout, as the target sent it.
TARGET_COLLECTION_URL is a kind's collection, e.g. http://host/sdata/myApp/myContract/-/accounts

Options: --retries N, --timeout-connect/-headers/-body MS, --verbose, --log-format text|json, -h
Credentials: SDATA_TARGET_TOKEN, or SDATA_TARGET_USER and SDATA_TARGET_PASSWORD.
`;

export async function digestCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, { ...COMMON_HTTP_OPTIONS }, 'digest');
  if (v.help) {
    process.stdout.write(DIGEST_HELP);
    return EXIT.OK;
  }
  if (positionals.length !== 1) throw new SdataError('SDATA_E_USAGE', "digest: give exactly one TARGET_COLLECTION_URL (see 'sdata-sync digest --help')");
  const log = loggerFrom(v);
  const client = new HttpClient(clientOptions('target', positionals[0]!, v, log));
  try {
    const url = operationUrl(positionals[0]!, '$syncDigest');
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
