/**
 * `sdata-sync/reader`: the streaming sync-feed reader (push bytes, get the head, each entry with its exact source
 * text, and the tail) and the target-digest parser. See docs/library.md.
 */
export { FeedReader } from '../xml/feed-reader.ts';
export type { EntryRecord, FeedHandler, FeedHead, FeedLink, FeedReaderOptions, FeedTail } from '../xml/feed-types.ts';
export { DEFAULT_LIMITS, DEFAULT_MAX_ENTRY_BYTES, type XmlLimits } from '../xml/limits.ts';
export { parseDigestDocument } from '../xml/digest-document.ts';
export type { Digest, DigestEntry } from '../protocol/digest.ts';
export type { SyncMode, SyncState } from '../protocol/sync-state.ts';
export { isSdataError, SdataError, type SdataErrorCode } from '../protocol/errors.ts';
