/**
 * `sdata-sync/reader`: the streaming sync-feed reader (push bytes, get the head, each entry with its exact source
 * text, and the tail) and the target-digest parser. See docs/library.md.
 */
export { FeedReader } from '../xml/feed-reader.ts';
export {
  DEFAULT_MAX_ENTRY_BYTES, type EntryRecord, type FeedHandler, type FeedHead, type FeedLink, type FeedReaderOptions, type FeedTail,
} from '../xml/feed-types.ts';
export { parseDigestDocument } from '../xml/digest-document.ts';
export type { Digest, DigestEntry } from '../protocol/digest.ts';
export type { SyncMode, SyncState } from '../protocol/sync-state.ts';
export { isSdataError, SdataError, type SdataErrorCode } from '../protocol/errors.ts';
