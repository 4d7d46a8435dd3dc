import { documentText } from './encoding.ts';
import { guardDocument } from './limit-guard.ts';
import { SMALL_BODY_LIMIT } from './limits.ts';
import { createParser } from './saxes-adapter.ts';
import { parseSeverity, type Diagnosis } from '../protocol/diagnosis.ts';
import { NS } from '../protocol/namespaces.ts';
import { setTrackingField, type Tracking } from '../protocol/tracking.ts';

/**
 * Readers for the small bodies of the asynchronous-operation dance: `sdata:tracking` (every 202) and
 * `sdata:diagnoses` (4xx/5xx). Both are lenient (Postel, core 1.2): the spec's own examples write the namespace as
 * `…/sdata/2008` (docs/protocol.md A6), some providers use no namespace at all, and a body that is not XML (an HTML error
 * page from a proxy) yields nothing rather than an exception. These bodies are capped by the caller, so the whole
 * text is parsed at once (with the default limits: one that breaks them yields what was read before).
 */

const SDATA_URIS: ReadonlySet<string> = new Set([NS.sdata, NS.sdataLegacy, '']);

function isSdata(uri: string | undefined): boolean {
  return SDATA_URIS.has(uri ?? '');
}

type Visitor = {
  open(local: string, depth: number): void;
  text(t: string): void;
  close(local: string, depth: number): void;
};

function walk(xml: string, v: Visitor): boolean {
  // Lenient, but not about the encoding: a body in another one yields nothing (encoding.ts).
  const text = documentText(xml);
  if (typeof text !== 'string') return false;
  const p = createParser();
  try {
    guardDocument(p, text, '<small body>', 'the body', SMALL_BODY_LIMIT);
  } catch {
    return false;
  }
  let depth = 0;
  let failed = false;
  // Entities are never expanded; a DOCTYPE has no business in a tracking payload.
  p.on('doctype', () => {
    failed = true;
    throw new Error('stop');
  });
  p.on('opentag', (t) => {
    depth++;
    if (isSdata(t.uri)) v.open(t.local, depth);
  });
  p.on('text', (t) => v.text(t));
  p.on('cdata', (t) => v.text(t));
  p.on('closetag', (t) => {
    if (isSdata(t.uri)) v.close(t.local, depth);
    depth--;
  });
  try {
    p.write(text).close();
  } catch {
    failed = true;
  }
  return !failed;
}

/** The `sdata:tracking` of a 202 body, or undefined when there is none (an empty 202 is tolerated). */
export function parseTracking(xml: string): Tracking | undefined {
  let found: Tracking | undefined;
  let field = '';
  let text = '';
  walk(xml, {
    open(local) {
      if (local === 'tracking') found = {};
      else if (found) {
        field = local;
        text = '';
      }
    },
    text(t) {
      if (field) text += t;
    },
    close(local) {
      if (found && local === field) setTrackingField(found, local, text);
      field = '';
    },
  });
  return found;
}

const DIAG_FIELDS: ReadonlySet<string> = new Set(['severity', 'sdataCode', 'applicationCode', 'message', 'payloadPath']);

/** Every `sdata:diagnosis` in a document (a `diagnoses` body, or one embedded in a feed or entry). */
export function parseDiagnoses(xml: string): Diagnosis[] {
  const out: Diagnosis[] = [];
  let cur: Partial<Record<string, string>> | undefined;
  let field = '';
  let text = '';
  walk(xml, {
    open(local) {
      if (local === 'diagnosis') cur = {};
      else if (cur && DIAG_FIELDS.has(local)) {
        field = local;
        text = '';
      }
    },
    text(t) {
      if (field) text += t;
    },
    close(local) {
      if (local === 'diagnosis' && cur) {
        out.push(toDiagnosis(cur));
        cur = undefined;
      } else if (cur && local === field) {
        cur[field] = text.trim();
        field = '';
      }
    },
  });
  return out;
}

export function toDiagnosis(f: Partial<Record<string, string>>): Diagnosis {
  const d: Diagnosis = {
    severity: parseSeverity(f['severity'] ?? 'error'),
    sdataCode: f['sdataCode'] || 'ApplicationDiagnosis',
    message: f['message'] ?? '',
  };
  if (f['applicationCode']) d.applicationCode = f['applicationCode'];
  if (f['payloadPath']) d.payloadPath = f['payloadPath'];
  return d;
}

/** One line for messages: "error ApplicationDiagnosis/SyncTickGap: message". */
export function formatDiagnosis(d: Diagnosis): string {
  const code = d.applicationCode ? `${d.sdataCode}/${d.applicationCode}` : d.sdataCode;
  return `${d.severity} ${code}${d.message ? `: ${d.message}` : ''}`;
}
