import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { SdataError } from '../protocol/errors.ts';
import { parse, parseCount } from './common.ts';
import { EXIT } from './exit-codes.ts';

export const HEALTH_HELP = `Usage: sdata-sync health URL [--timeout MS]

GETs URL (a provider's $health, e.g. http://127.0.0.1:8080/sdata/hub/crm/-/$health) and exits 0 if it answers
200: a container's HEALTHCHECK without curl. The body goes to stdout. If SDATA_SERVE_TOKEN is set (the provider's
own tokens, comma-separated), the first one is sent as a Bearer token.

Options:
  --timeout MS   give up after this long (default 5000)
  -h, --help

Exit codes: 0 healthy (200), 5 no answer (refused, reset, timed out), 6 any other status.
`;

/**
 * A health probe: one GET with node:http, nothing else loaded (it runs every few seconds in a container). Minimal
 * on purpose: no retries (the orchestrator retries), no redirects.
 */
export async function healthCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, 'health');
  if (values.help) {
    process.stdout.write(HEALTH_HELP);
    return EXIT.OK;
  }
  if (positionals.length !== 1) throw new SdataError('SDATA_E_USAGE', "health: give exactly one URL (see 'sdata-sync health --help')");
  const url = positionals[0]!;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SdataError('SDATA_E_USAGE', `health: '${url}' is not an absolute URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new SdataError('SDATA_E_USAGE', `health: '${url}' is not an http(s) URL`);
  const timeoutMs = values.timeout === undefined ? 5000 : parseCount(values.timeout, '--timeout');
  const token = process.env['SDATA_SERVE_TOKEN']?.split(',').map((t) => t.trim()).find((t) => t !== '');
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
      method: 'GET', timeout: timeoutMs, headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        if (text.length < 64 * 1024) text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  }).catch((e: unknown) => {
    throw new SdataError('SDATA_E_NETWORK', `GET ${url}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { url, cause: e });
  });
  if (status !== 200) throw new SdataError('SDATA_E_HTTP', `GET ${url}: ${status}`, { url, status });
  process.stdout.write(body.endsWith('\n') ? body : `${body}\n`);
  return EXIT.OK;
}
