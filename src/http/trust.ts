import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { getCACertificates } from 'node:tls';
import { fileError, SdataError } from '../protocol/errors.ts';

/**
 * Extra certificate authorities for `https://` peers (`--ca FILE`): a provider with a self-signed certificate, or
 * one from a company CA. They are trusted in addition to Node's defaults, never instead of them: the other side of
 * a run may have a public certificate. (NODE_EXTRA_CA_CERTS works too: Node reads it at start-up into its defaults,
 * which undici's connections use.)
 */

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM file, checked: a file that holds none, or a broken one, is refused up front. */
export function readCaFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw fileError(`--ca ${path}`, 'read', e, { source: path });
  }
  const certs = text.match(PEM_CERT) ?? [];
  if (certs.length === 0) throw new SdataError('SDATA_E_USAGE', `--ca ${path}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)`);
  certs.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (e) {
      throw new SdataError('SDATA_E_USAGE', `--ca ${path}: certificate ${i + 1} cannot be read: ${(e as Error).message}`);
    }
  });
  return certs;
}

/** What a TLS connection trusts with these extra certificates: Node's defaults plus them. */
export function trustedWith(extra: readonly string[]): string[] {
  return [...getCACertificates('default'), ...extra];
}
