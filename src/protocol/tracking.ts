import { escapeText } from './escape.ts';
import { NS } from './namespaces.ts';

/** `sdata:tracking`, the body of every 202 (core 3.11). All fields optional on input. */
export interface Tracking {
  phase?: string;
  phaseDetail?: string;
  progress?: number;
  elapsedSeconds?: number;
  remainingSeconds?: number;
  pollingMillis?: number;
}

export function serializeTracking(t: Tracking): string {
  let s = `<?xml version="1.0" encoding="utf-8"?>\n<sdata:tracking xmlns:sdata="${NS.sdata}">`;
  if (t.phase !== undefined) s += `<sdata:phase>${escapeText(t.phase)}</sdata:phase>`;
  if (t.phaseDetail !== undefined) s += `<sdata:phaseDetail>${escapeText(t.phaseDetail)}</sdata:phaseDetail>`;
  if (t.progress !== undefined) s += `<sdata:progress>${t.progress.toFixed(1)}</sdata:progress>`;
  if (t.elapsedSeconds !== undefined) s += `<sdata:elapsedSeconds>${Math.floor(t.elapsedSeconds)}</sdata:elapsedSeconds>`;
  if (t.remainingSeconds !== undefined) s += `<sdata:remainingSeconds>${Math.ceil(t.remainingSeconds)}</sdata:remainingSeconds>`;
  if (t.pollingMillis !== undefined) s += `<sdata:pollingMillis>${Math.round(t.pollingMillis)}</sdata:pollingMillis>`;
  return `${s}</sdata:tracking>\n`;
}

/** Applies one tracking child (by local name) to a Tracking; unknown names and bad numbers are ignored (lenient, docs/protocol.md A6). */
export function setTrackingField(t: Tracking, local: string, text: string): void {
  const v = text.trim();
  if (local === 'phase') t.phase = v;
  else if (local === 'phaseDetail') t.phaseDetail = v;
  else {
    const n = Number(v);
    if (v === '' || !Number.isFinite(n)) return;
    if (local === 'progress') t.progress = n;
    else if (local === 'elapsedSeconds') t.elapsedSeconds = n;
    else if (local === 'remainingSeconds') t.remainingSeconds = n;
    else if (local === 'pollingMillis') t.pollingMillis = n;
  }
}
