import { SdataError } from '../protocol/errors.ts';

// Placeholder until the command lands.
export async function digestCommand(_argv: string[]): Promise<number> {
  throw new SdataError('SDATA_E_USAGE', 'digest: not implemented yet');
}
