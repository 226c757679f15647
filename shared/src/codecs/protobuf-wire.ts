/**
 * A minimal protobuf wire reader and writer for the hot gRPC messages (SeldonMessage, ModelInferRequest/Response):
 * they go straight between bytes and what the handlers use, without protobufjs objects and proto-loader's
 * conversions. Readers return undefined (via Bail) for anything outside their fast path, and the caller falls back
 * to protobufjs, so rare shapes keep protobufjs's exact behaviour.
 */

/** Thrown inside a fast-path reader: the message is not one it handles (or not valid); protobufjs decides. */
export class Bail extends Error {}
const BAIL = new Bail();

export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
export const FIXED32 = 5;

export class WireReader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint below 2^53 (larger, negative or truncated ones bail). */
  varint(): number {
    const { buf, end } = this;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= end) throw BAIL;
      const b = buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw BAIL;
  }

  /** An int32 field's value: negative ones are written as 10-byte varints (two's complement). */
  int32(): number {
    const v = this.varint();
    if (v > 0x7fffffff) throw BAIL;
    return v;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw BAIL;
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  float(): number {
    if (this.pos + 4 > this.end) throw BAIL;
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A length-delimited field: returns its end offset, leaving pos at its start. */
  len(): number {
    const n = this.varint();
    const end = this.pos + n;
    if (end > this.end) throw BAIL;
    return end;
  }

  string(): string {
    const end = this.len();
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end;
    return s;
  }

  bytes(): Buffer {
    const end = this.len();
    const b = this.buf.subarray(this.pos, end);
    this.pos = end;
    return b;
  }

  /** Skips one field of the given wire type. */
  skip(wire: number): void {
    if (wire === VARINT) this.varint();
    else if (wire === FIXED64) this.pos += 8;
    else if (wire === LEN) this.pos = this.len();
    else if (wire === FIXED32) this.pos += 4;
    else throw BAIL;
    if (this.pos > this.end) throw BAIL;
  }
}

/** Runs a fast-path reader; undefined when it bailed. */
export function tryRead<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (err instanceof Bail) return undefined;
    throw err;
  }
}

/** An append-only writer; nested messages reserve one length byte and shift when the length needs more. */
export class WireWriter {
  buf: Buffer;
  pos = 0;
  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(v: number): void {
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  float(v: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.pos);
    this.pos += 4;
  }

  string(field: number, s: string): void {
    const n = Buffer.byteLength(s);
    this.tag(field, LEN);
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, LEN);
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Starts a length-delimited field; pass the result to end() once its contents are written. */
  begin(field: number): number {
    this.tag(field, LEN);
    this.ensure(1);
    return this.pos++;
  }

  end(mark: number): void {
    const n = this.pos - mark - 1;
    if (n < 0x80) {
      this.buf[mark] = n;
      return;
    }
    let size = 1;
    for (let v = n; v >= 0x80; v = Math.floor(v / 128)) size++;
    this.ensure(size - 1);
    this.buf.copyWithin(mark + size, mark + 1, this.pos);
    this.pos += size - 1;
    let at = mark;
    let v = n;
    while (v >= 0x80) {
      this.buf[at++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[at] = v;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
