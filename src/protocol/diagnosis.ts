import { escapeText } from './escape.ts';
import { NS } from './namespaces.ts';

export type Severity = 'info' | 'warning' | 'transient' | 'error' | 'fatal';
export type SdataCode =
  | 'BadUrlSyntax' | 'BadQueryParameter' | 'ApplicationNotFound' | 'ApplicationUnavailable' | 'DatasetNotFound'
  | 'DatasetUnavailable' | 'ContractNotFound' | 'ResourceKindNotFound' | 'BadWhereSyntax' | 'ApplicationDiagnosis';

export interface Diagnosis {
  severity: Severity;
  // eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- the codes we know, for readers; peers send others
  sdataCode: SdataCode | string;
  applicationCode?: string;
  message: string;
  payloadPath?: string;
}

export function parseSeverity(text: string): Severity {
  const l = text.trim().toLowerCase();
  return l === 'info' || l === 'warning' || l === 'transient' || l === 'fatal' ? l : 'error';
}

/** One `<sdata:diagnosis>`; the `sdata` prefix must be bound by the caller. */
export function serializeDiagnosis(d: Diagnosis): string {
  let s = `<sdata:diagnosis><sdata:severity>${d.severity}</sdata:severity><sdata:sdataCode>${escapeText(d.sdataCode)}</sdata:sdataCode>`;
  if (d.applicationCode !== undefined) s += `<sdata:applicationCode>${escapeText(d.applicationCode)}</sdata:applicationCode>`;
  s += `<sdata:message>${escapeText(d.message)}</sdata:message>`;
  if (d.payloadPath !== undefined) s += `<sdata:payloadPath>${escapeText(d.payloadPath)}</sdata:payloadPath>`;
  return `${s}</sdata:diagnosis>`;
}

/** A whole `sdata:diagnoses` document, the body of 4xx/5xx responses (core 3.10). */
export function serializeDiagnoses(list: readonly Diagnosis[]): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<sdata:diagnoses xmlns:sdata="${NS.sdata}">${list.map(serializeDiagnosis).join('')}</sdata:diagnoses>\n`;
}
