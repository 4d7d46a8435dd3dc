/**
 * The limits every reader enforces while it parses (README "Limits"), their defaults and the flags that raise them:
 * the one place these numbers live. A limit crossed ends the document with SDATA_E_LIMIT (exit 3, HTTP 400) naming
 * the limit, its value and its flag — except the entry cap, which makes that one entry invalid (it is skipped and
 * reported) — and whole documents read at once over their size get SDATA_E_TOO_LARGE (exit 3, HTTP 413).
 *
 * Each is checked where the reader passes anyway (a handler per element or attribute, a counter per 64 KiB slice of
 * input), never per character: see limit-guard.ts and the readers.
 */

/** Limits on the shape of any XML we read (the entry cap is separate: crossing it costs one entry, not the document). */
export interface XmlLimits {
  /** Elements open at once, the root counting 1. */
  maxDepth: number;
  /** UTF-8 bytes of one attribute value (after reference expansion, as saxes reports it). */
  maxAttributeBytes: number;
  /** Attributes on one element, namespace declarations included. */
  maxAttributes: number;
  /** UTF-8 bytes of one name: element, attribute, prefix included; also processing-instruction targets and entity references. */
  maxNameBytes: number;
  /**
   * Characters outside entries between two tags of a feed (text, comments, processing instructions, between entries
   * or in the feed head, before or after the root): a feed has only white space there.
   */
  maxTextBetweenEntries: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Readonly<XmlLimits> = {
  maxDepth: 256,
  maxAttributeBytes: MiB,
  maxAttributes: 1024,
  maxNameBytes: 1024,
  maxTextBetweenEntries: MiB,
};

/** The command-line flag that sets each limit (plan, run, pull, push, serve). */
export const LIMIT_FLAGS: Readonly<Record<keyof XmlLimits, string>> = {
  maxDepth: '--max-depth',
  maxAttributeBytes: '--max-attribute-bytes',
  maxAttributes: '--max-attributes',
  maxNameBytes: '--max-name-bytes',
  maxTextBetweenEntries: '--max-text-between-entries',
};

/** The limits `given` sets, the defaults for the rest. */
export function resolveLimits(given: Partial<XmlLimits> | undefined): XmlLimits {
  return given === undefined ? { ...DEFAULT_LIMITS } : { ...DEFAULT_LIMITS, ...given };
}

/** Entries larger than this many UTF-8 bytes are invalid unless the caller says otherwise (--max-entry-bytes). */
export const DEFAULT_MAX_ENTRY_BYTES = 16 * MiB;

// Documents read whole: small by nature, so bounded by size (SDATA_E_TOO_LARGE), without flags.

/** A digest document (a `$syncDigest` entry, a bare `sync:digest`, or one in a feed head): ~200 bytes per endpoint. */
export const MAX_DIGEST_BYTES = 4 * MiB;
/** Tracking payloads, diagnoses and other small answers of a peer. */
export const SMALL_BODY_LIMIT = 4 * MiB;
/** A `$schema` document (run --all-kinds): the contract's whole schema, read at once. */
export const MAX_SCHEMA_BYTES = 16 * MiB;
/** Feed-level `atom:link` elements kept per document, and diagnoses kept per result entry or result feed. */
export const MAX_FEED_LINKS = 1000;
export const MAX_DIAGNOSES = 100;
