/**
 * Just enough of the protobuf wire format to edit an ONNX ModelProto without a schema: split a message into its
 * fields (keeping each field's original bytes, so everything we do not touch is written back unchanged) and
 * build new length-delimited fields.
 */

export interface WireField {
  field: number;
  wireType: number;
  /** The whole field as it appeared: tag, length prefix and payload. */
  raw: Uint8Array;
  /** The payload of a length-delimited field (wire type 2); undefined for the others. */
  payload?: Uint8Array;
  /** The value of a varint field (wire type 0). */
  varint?: bigint;
}

function readVarint(buf: Uint8Array, pos: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint in ONNX model');
    const b = buf[pos++];
    value |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return { value, next: pos };
    shift += 7n;
    if (shift > 70n) throw new Error('malformed varint in ONNX model');
  }
}

export function parseFields(buf: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const tag = readVarint(buf, pos);
    pos = tag.next;
    const field = Number(tag.value >> 3n);
    const wireType = Number(tag.value & 7n);
    let payload: Uint8Array | undefined;
    let varint: bigint | undefined;
    if (wireType === 0) {
      const v = readVarint(buf, pos);
      varint = v.value;
      pos = v.next;
    } else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else if (wireType === 2) {
      const len = readVarint(buf, pos);
      pos = len.next;
      payload = buf.subarray(pos, pos + Number(len.value));
      pos += Number(len.value);
    } else throw new Error(`unsupported protobuf wire type ${wireType} in ONNX model`);
    if (pos > buf.length) throw new Error('truncated field in ONNX model');
    fields.push({ field, wireType, raw: buf.subarray(start, pos), payload, varint });
  }
  return fields;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A length-delimited field (submessage, string or bytes). */
export function lenField(field: number, payload: Uint8Array | string): Uint8Array {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([Uint8Array.from(varint(field * 8 + 2)), Uint8Array.from(varint(bytes.length)), bytes]);
}

export function varintField(field: number, value: number): Uint8Array {
  return Uint8Array.from([...varint(field * 8), ...varint(value)]);
}

export const concat = (parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);

export const text = (b: Uint8Array | undefined): string => (b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8') : '');
