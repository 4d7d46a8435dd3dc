/**
 * The feed reader's window on its input: forwarding cuts each entry's exact source text out of the decoded stream
 * instead of re-serialising events, so the reader keeps only the text from the last `<` (outside entries) or from
 * the entry's `<` (inside one): memory is one entry plus one input chunk, whatever the feed size.
 *
 * Without ever concatenating chunks (a rope would be flattened, i.e. copied, on first search): `cur` is the chunk
 * saxes is parsing; `tail` is what an unfinished tag outside entries needs (from the last `<`); `parts` are the
 * pieces of the current entry that came in earlier chunks. Positions are global: characters since the start of
 * the input, as saxes' `position` counts them.
 *
 * The per-entry size cap lives here, because this is what holds the entry: it is checked after each chunk, every
 * character of the entry counted (tags and attribute values included), so an entry over the cap stops being held
 * at most one chunk past it.
 */
export class RetainedText {
  /** The chunk being parsed, and the global positions of its start and of the next chunk's. */
  cur = '';
  curStart = 0;
  private nextStart = 0;
  private tail = '';
  private tailStart = 0;
  private parts: string[] = [];
  private partsChars = 0;
  private inEntry = false;
  /** The current entry is over the cap: its text is not held (and will not be). */
  overflow = false;
  /** Global position of the current entry's `<`. */
  entryStart = 0;
  private readonly maxEntryBytes: number;

  constructor(maxEntryBytes: number) {
    this.maxEntryBytes = maxEntryBytes;
  }

  reset(): void {
    this.cur = this.tail = '';
    this.curStart = this.nextStart = this.tailStart = this.entryStart = 0;
    this.parts = [];
    this.partsChars = 0;
    this.inEntry = this.overflow = false;
  }

  /** Characters currently held (one partial tag outside entries, the current entry inside one). */
  get chars(): number {
    return this.tail.length + this.partsChars;
  }

  /** Global position just after everything pushed so far. */
  get end(): number {
    return this.nextStart;
  }

  /** A new chunk, about to be parsed. */
  next(text: string): void {
    this.cur = text;
    this.curStart = this.nextStart;
    this.nextStart += text.length;
  }

  /** After each chunk: keep what the current entry, or an unfinished start tag, will need. */
  retain(): void {
    const cur = this.cur;
    if (this.inEntry && !this.overflow) {
      const piece = this.entryStart > this.curStart ? cur.slice(this.entryStart - this.curStart) : cur;
      this.parts.push(piece);
      this.partsChars += piece.length;
      this.checkCap();
      return;
    }
    // Outside an entry only a start tag in progress matters, and it begins at the last '<' (tags contain none).
    const idx = cur.lastIndexOf('<');
    if (idx >= 0) {
      this.tail = idx === 0 ? cur : cur.slice(idx);
      this.tailStart = this.curStart + idx;
    } else if (this.tail.length + cur.length <= this.maxEntryBytes) {
      this.tail += cur;
    } else {
      // A start tag this long makes its entry invalid anyway (see beginEntry); stay bounded.
      this.tail = '';
      this.tailStart = this.nextStart;
    }
  }

  /** Inside an entry: stops holding it once it is over the cap (see the class comment). */
  private checkCap(): void {
    // Characters never exceed UTF-8 bytes, so this test can only under-count: the exact check is at the end tag.
    if (!this.overflow && this.partsChars > this.maxEntryBytes) {
      this.overflow = true;
      this.parts = [];
      this.partsChars = 0;
    }
  }

  /** An entry's start tag has just been read; `lt` is the global position of its `<` (-1: no longer held). */
  beginEntry(lt: number): void {
    this.inEntry = true;
    this.parts = [];
    this.partsChars = 0;
    this.overflow = lt < 0;
    this.entryStart = lt;
    if (lt >= 0 && lt < this.curStart) {
      // The start tag straddles chunks: its beginning is in the tail.
      const piece = this.tail.slice(lt - this.tailStart);
      this.parts.push(piece);
      this.partsChars = piece.length;
    }
  }

  /**
   * The entry's exact text, up to global position `end` (just after its end tag), and the window leaves the entry;
   * undefined when the entry is larger than the cap in UTF-8 bytes.
   */
  endEntry(end: number): string | undefined {
    let text: string | undefined;
    if (!this.overflow) {
      const rel = end - this.curStart;
      text = this.parts.length === 0 ? this.cur.slice(this.entryStart - this.curStart, rel) : this.parts.join('') + this.cur.slice(0, rel);
      if (text.length * 3 > this.maxEntryBytes && Buffer.byteLength(text) > this.maxEntryBytes) text = undefined;
    }
    this.inEntry = this.overflow = false;
    this.parts = [];
    this.partsChars = 0;
    return text;
  }

  /** Global position of the last '<' before global position `pos`, or -1 when it is no longer held. */
  ltBefore(pos: number): number {
    const rel = pos - 1 - this.curStart;
    if (rel >= 0) {
      const i = this.cur.lastIndexOf('<', rel);
      if (i >= 0) return this.curStart + i;
    }
    if (this.inEntry) {
      let end = this.curStart;
      for (let k = this.parts.length - 1; k >= 0; k--) {
        const part = this.parts[k]!;
        end -= part.length;
        const i = part.lastIndexOf('<');
        if (i >= 0) return end + i;
      }
      return -1;
    }
    const i = this.tail.lastIndexOf('<');
    return i >= 0 ? this.tailStart + i : -1;
  }

  /** Held text between two global positions, outside entries (the start tag being read may straddle chunks). */
  held(from: number, to: number): string {
    const cs = this.curStart;
    if (from >= cs) return this.cur.slice(from - cs, to - cs);
    return this.tail.slice(from - this.tailStart) + this.cur.slice(0, to - cs);
  }

  /** Held text of the current entry between two global positions (the entry must not have overflowed). */
  inEntryText(from: number, to: number): string {
    const cs = this.curStart;
    if (from >= cs) return this.cur.slice(from - cs, to - cs);
    const all = this.parts.join('') + this.cur;
    return all.slice(from - this.entryStart, to - this.entryStart);
  }

  /** Whether the current chunk has `</` at global position `pos`. */
  endTagAt(pos: number): boolean {
    const rel = pos - this.curStart;
    return rel >= 0 && this.cur.charCodeAt(rel) === 60 && this.cur.charCodeAt(rel + 1) === 47;
  }
}
