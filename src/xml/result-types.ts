import type { Diagnosis } from '../protocol/diagnosis.ts';

// What a `$syncTarget` result feed says (batch-response form, docs/protocol.md §2.6), as ResultScanner reports it.

/** What one entry of a target result feed says about one input entry. */
export interface ResultEntry {
  /** 0-based position in this result document. */
  index: number;
  atomId: string | undefined;
  /** `sdata:uuid` of the resulting resource, when the target echoes a payload. */
  uuid: string | undefined;
  /** `http:httpStatus`; undefined when absent or not a number. */
  status: number | undefined;
  message: string | undefined;
  /** `http:httpMethod`: the operation the target actually applied (POST created, PUT updated, DELETE deleted). */
  method: string | undefined;
  location: string | undefined;
  diagnoses: Diagnosis[];
}

export interface ResultTail {
  next: string | undefined;
  entries: number;
  /** Feed-level `sdata:diagnosis` elements (outside entries). */
  diagnoses: Diagnosis[];
}

export interface ResultScannerOptions {
  /** Name used in messages (URL). */
  source?: string;
}
