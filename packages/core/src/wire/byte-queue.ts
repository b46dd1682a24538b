// A FIFO of bytes for stream framing: append chunks, look at the front,
// consume from the front. Capacity follows what is buffered, so memory stays
// proportional to the unparsed tail (framing.ts bounds that tail).

const MIN_CAPACITY = 4096;

export class ByteQueue {
  private buf = new Uint8Array(MIN_CAPACITY);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  get capacity(): number {
    return this.buf.byteLength;
  }

  append(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    if (this.end + chunk.byteLength > this.buf.byteLength) this.makeRoom(chunk.byteLength);
    this.buf.set(chunk, this.end);
    this.end += chunk.byteLength;
  }

  /** A view of the first `size` bytes (valid until the next append/consume). */
  peek(size: number): Uint8Array {
    if (size > this.length) throw new RangeError(`peek ${size} of ${this.length} buffered bytes`);
    return this.buf.subarray(this.start, this.start + size);
  }

  /** A copy of the first `size` bytes, removed from the queue. */
  take(size: number): Uint8Array {
    const copy = this.peek(size).slice();
    this.consume(size);
    return copy;
  }

  consume(size: number): void {
    if (size > this.length) throw new RangeError(`consume ${size} of ${this.length} buffered bytes`);
    this.start += size;
    if (this.start === this.end) this.clear();
  }

  /** Drops everything and returns to the minimum capacity. */
  clear(): void {
    this.start = 0;
    this.end = 0;
    if (this.buf.byteLength > MIN_CAPACITY * 4) this.buf = new Uint8Array(MIN_CAPACITY);
  }

  /** Releases spare capacity once most of a large chunk has been consumed. */
  shrink(): void {
    if (this.buf.byteLength <= MIN_CAPACITY * 4 || this.length * 4 >= this.buf.byteLength) return;
    const live = this.length;
    const smaller = new Uint8Array(Math.max(MIN_CAPACITY, live * 2));
    smaller.set(this.buf.subarray(this.start, this.end), 0);
    this.buf = smaller;
    this.start = 0;
    this.end = live;
  }

  private makeRoom(extra: number): void {
    const live = this.length;
    const needed = live + extra;
    // Reuse the current array when compacting frees enough room; otherwise grow to
    // what is needed (not doubling beyond it, so a big chunk does not pin 2x memory).
    const target = needed <= this.buf.byteLength ? this.buf : new Uint8Array(Math.max(MIN_CAPACITY, needed));
    if (target === this.buf) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      target.set(this.buf.subarray(this.start, this.end), 0);
      this.buf = target;
    }
    this.start = 0;
    this.end = live;
  }
}
