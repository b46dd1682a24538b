// Fast all-zero tests over a large read (a whole lease area): most sectors of a resource
// area are zero, and testing 32-bit words is far cheaper than decoding their records.

/**
 * Word view over one buffer, made once per read. `bytes` may start at any byteOffset: the
 * unaligned head and tail of a range are tested byte by byte, the rest word by word.
 */
export class ZeroScanner {
  private readonly words: Uint32Array;
  /** Index in `bytes` of words[0] (0..3). */
  private readonly wordStart: number;

  constructor(private readonly bytes: Uint8Array) {
    this.wordStart = (4 - (bytes.byteOffset % 4)) % 4;
    const wordCount = Math.floor((bytes.byteLength - this.wordStart) / 4);
    this.words = wordCount > 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset + this.wordStart, wordCount) : new Uint32Array(0);
  }

  /** True when bytes[start, end) are all zero; throws RangeError outside the buffer. */
  isZero(start: number, end: number): boolean {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > this.bytes.length || start > end) {
      throw new RangeError(`zero test of bytes ${start}..${end} outside buffer of ${this.bytes.length}`);
    }
    const first = start - this.wordStart;
    const stop = end - this.wordStart;
    if (first >= 0 && (first & 3) === 0 && (stop & 3) === 0) return this.wordsZero(first >>> 2, stop >>> 2);
    const bytes = this.bytes;
    let i = start;
    // Head: bytes up to the first word boundary.
    while (i < end && (i - this.wordStart) % 4 !== 0) {
      if (bytes[i] !== 0) return false;
      i++;
    }
    const words = this.words;
    const lastWord = Math.floor((end - this.wordStart) / 4);
    for (let w = (i - this.wordStart) / 4; w < lastWord; w++) {
      if (words[w] !== 0) return false;
    }
    // Tail: bytes after the last whole word.
    for (i = Math.max(i, this.wordStart + lastWord * 4); i < end; i++) {
      if (bytes[i] !== 0) return false;
    }
    return true;
  }

  /**
   * The index in `words` of the word starting at byte `start`, or -1 when `start` is not on a
   * word boundary of this view (a buffer at an odd byteOffset). For callers that test fixed
   * record layouts word by word (paxos-disk.ts).
   */
  wordIndexAt(start: number): number {
    const first = start - this.wordStart;
    if (first < 0 || (first & 3) !== 0 || start >= this.bytes.length) return -1;
    return first >>> 2;
  }

  /** The buffer as 32-bit words from wordIndexAt(…)'s origin. */
  get wordView(): Uint32Array {
    return this.words;
  }

  /** words[from, to) all zero. */
  private wordsZero(from: number, to: number): boolean {
    const words = this.words;
    for (let w = from; w < to; w++) if (words[w] !== 0) return false;
    return true;
  }
}
