import { SdataError } from '../protocol/errors.ts';

// Placeholder until the command lands.
export async function genCommand(_argv: string[]): Promise<number> {
  throw new SdataError('SDATA_E_USAGE', 'gen: not implemented yet');
}
