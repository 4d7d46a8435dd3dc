import { SdataError } from '../protocol/errors.ts';

export type Side = 'source' | 'target';

/**
 * Credentials come from the environment only (never argv, never logged): `SDATA_<SIDE>_TOKEN` gives Bearer,
 * `SDATA_<SIDE>_USER` + `SDATA_<SIDE>_PASSWORD` give Basic. Returns the Authorization header value, if any.
 */
export function authorizationFromEnv(side: Side, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const p = `SDATA_${side.toUpperCase()}_`;
  const token = env[`${p}TOKEN`];
  const user = env[`${p}USER`];
  const password = env[`${p}PASSWORD`];
  if (token !== undefined && token !== '') {
    if (user !== undefined && user !== '') {
      throw new SdataError('SDATA_E_USAGE', `both ${p}TOKEN and ${p}USER are set; choose Bearer or Basic for the ${side}`);
    }
    return `Bearer ${token}`;
  }
  if (user !== undefined && user !== '') {
    if (user.includes(':')) throw new SdataError('SDATA_E_USAGE', `${p}USER must not contain ':' (Basic authentication)`);
    return `Basic ${Buffer.from(`${user}:${password ?? ''}`, 'utf8').toString('base64')}`;
  }
  if (password !== undefined && password !== '') {
    throw new SdataError('SDATA_E_USAGE', `${p}PASSWORD is set without ${p}USER`);
  }
  return undefined;
}
