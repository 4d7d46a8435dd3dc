import { LimitGuard, limitMessage, type LimitFailure } from './limit-guard.ts';
import { MAX_DIGEST_BYTES, type XmlLimits } from './limits.ts';
import type { RetainedText } from './retained-text.ts';
import { dropPendingText, inTag, type NsParser } from './saxes-adapter.ts';

/**
 * Input reaches saxes in slices that end at multiples of this many bytes of the document (and wherever the caller's
 * chunks end); `checkpoint` runs at those multiples only, so that a document gives the same errors at the same places
 * however it is chunked — whole, or in pieces on two threads (plan/parallel.ts). What saxes accumulates can overshoot
 * a limit by at most one slice before it is refused.
 */
export const SLICE_BYTES = 64 * 1024;

/**
 * The feed reader's limits beyond those every element and attribute keeps (LimitGuard): what a feed may hold
 * outside its entries — at most `maxTextBetweenEntries` characters between two tags (text, comments, PIs: between
 * entries, in the head, around the root), a head `sync:digest` of at most MAX_DIGEST_BYTES — and what saxes may
 * hold between two slices of input (`checkpoint`). Positions are the reader's: characters since its input began.
 */
export class FeedLimits {
  private readonly p: NsParser;
  private readonly win: RetainedText;
  private readonly guard: LimitGuard;
  private readonly maxText: number;
  private readonly fail: LimitFailure;
  /** Just after the last tag outside entries: the text since then is between tags. */
  private lastTag = 0;
  private digestStart = 0;

  constructor(p: NsParser, win: RetainedText, limits: XmlLimits, fail: LimitFailure) {
    this.p = p;
    this.win = win;
    this.fail = fail;
    this.maxText = limits.maxTextBetweenEntries;
    this.guard = new LimitGuard(p, limits, fail);
  }

  reset(): void {
    this.lastTag = this.digestStart = 0;
  }

  /**
   * Between two slices: what saxes is accumulating is measured (LimitGuard) or dropped (`dropText`: the text of
   * comments, CDATA sections and PIs, when no handler of the reader takes it — saxes would hold a long one whole
   * until its end); outside entries, the text since the last tag and the size of the head's digest.
   */
  checkpoint(inEntry: boolean, dropText: boolean, inDigest: boolean): void {
    if (dropText) dropPendingText(this.p);
    if (!inEntry) {
      const end = this.win.end;
      // Inside a tag, the text ended where the tag began.
      if (end - this.lastTag > this.maxText) this.textUpTo(inTag(this.p) ? this.win.ltBefore(end) : end);
      if (inDigest) this.digestAt(end);
    }
    this.guard.checkPending();
  }

  /** A tag outside entries has just been read: the text before it is checked, and text starts again after it. */
  tagOutside(): void {
    const pos = this.p.position;
    if (pos - this.lastTag > this.maxText) this.textUpTo(this.win.ltBefore(pos));
    this.lastTag = pos;
  }

  /** An entry's end tag ended at `pos`. */
  entryEnded(pos: number): void {
    this.lastTag = pos;
  }

  /** Head text captured so far in one element (it may span child elements). */
  captured(length: number): void {
    if (length > this.maxText) throw this.tooMuch();
  }

  digestBegins(pos: number): void {
    this.digestStart = pos;
  }

  /** Inside the head's digest, at `pos`. */
  digestAt(pos: number): void {
    if (pos - this.digestStart > MAX_DIGEST_BYTES) throw this.fail('SDATA_E_TOO_LARGE', `the feed's sync:digest is larger than ${MAX_DIGEST_BYTES} bytes`);
  }

  /** The text since the last tag ends at `upTo` (where a tag begins; -1: no longer known, then not checked). */
  private textUpTo(upTo: number): void {
    if (upTo - this.lastTag > this.maxText) throw this.tooMuch();
  }

  private tooMuch(): Error {
    return this.fail('SDATA_E_LIMIT', limitMessage('text between entries (or in the feed head)', 'maxTextBetweenEntries', this.maxText, ' characters'));
  }
}
