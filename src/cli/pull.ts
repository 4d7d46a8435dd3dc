import { SdataError } from '../protocol/errors.ts';

// Placeholder until the command lands.
export async function pullCommand(_argv: string[]): Promise<number> {
  throw new SdataError('SDATA_E_USAGE', 'pull: not implemented yet');
}
