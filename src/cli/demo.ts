import { SdataError } from '../protocol/errors.ts';

// Placeholder until the command lands.
export async function demoCommand(_argv: string[]): Promise<number> {
  throw new SdataError('SDATA_E_USAGE', 'demo: not implemented yet');
}
