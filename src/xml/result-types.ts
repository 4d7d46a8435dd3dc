import type { Diagnosis } from '../protocol/diagnosis.ts';
import type { XmlLimits } from './limits.ts';

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
  /**
   * With ResultScannerOptions.copies, when every entry of the document can be copied as it stands (ResultCopies);
   * otherwise undefined.
   */
  copies?: ResultCopies | undefined;
}

/**
 * Where the entries of a result document stand in its text, each one read whole by the pattern of the entry our
 * provider writes (flat-result-entry.ts) and holding no character or `]]>` that XML does not allow there: text a
 * reader can copy from the document instead of parsing it again.
 */
export interface ResultCopies {
  /** Start and end of each entry, in characters of the decoded document (a leading BOM not counted): [s0, e0, s1, e1, …]. */
  spans: number[];
  /** The namespaces the root element declares (prefix '' for the default), which the entries' names use. */
  bindings: Record<string, string>;
}

export interface ResultScannerOptions {
  /** Name used in messages (URL). */
  source?: string;
  /** Limits on depth, attributes, names and text between entries (xml/limits.ts); the defaults for those not given. */
  limits?: Partial<XmlLimits>;
  /** Bounds one markup construct and one captured text inside an entry (default 16 MiB, --max-entry-bytes). */
  maxEntryBytes?: number;
  /** Say where the entries stand when all of them can be copied (ResultTail.copies). */
  copies?: boolean;
}
