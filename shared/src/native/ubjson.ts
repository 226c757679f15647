/**
 * UBJSON decoder covering what XGBoost's UBJWriter emits (big-endian numbers, length-prefixed keys, optimized
 * containers `[$type#count` / `{$type#count`). Optimized numeric arrays decode straight into typed arrays.
 */
export type UbjValue = null | boolean | number | string | UbjValue[] | { [k: string]: UbjValue } | UbjTypedArray;
export type UbjTypedArray = Int8Array | Uint8Array | Int16Array | Int32Array | Float32Array | Float64Array;

const SIZES: Record<string, number> = { i: 1, U: 1, I: 2, l: 4, L: 8, d: 4, D: 8, C: 1 };

export function decodeUbjson(bytes: Uint8Array): UbjValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  let pos = 0;

  const need = (n: number): void => {
    if (pos + n > bytes.length) throw new Error(`UBJSON truncated at byte ${pos}`);
  };
  const marker = (): string => {
    need(1);
    return String.fromCharCode(bytes[pos++]);
  };

  function scalar(m: string): number {
    need(SIZES[m] ?? 0);
    let v: number;
    switch (m) {
      case 'i': v = view.getInt8(pos); break;
      case 'U': case 'C': v = view.getUint8(pos); break;
      case 'I': v = view.getInt16(pos); break;
      case 'l': v = view.getInt32(pos); break;
      case 'L': v = Number(view.getBigInt64(pos)); break;
      case 'd': v = view.getFloat32(pos); break;
      case 'D': v = view.getFloat64(pos); break;
      default: throw new Error(`UBJSON: '${m}' is not a numeric type (byte ${pos - 1})`);
    }
    pos += SIZES[m];
    return v;
  }

  function length(): number {
    const n = scalar(marker());
    if (!Number.isInteger(n) || n < 0) throw new Error(`UBJSON: bad length ${n}`);
    return n;
  }

  function str(): string {
    const n = length();
    need(n);
    const s = text.decode(bytes.subarray(pos, pos + n));
    pos += n;
    return s;
  }

  function typedArray(type: string, count: number): UbjTypedArray | UbjValue[] {
    const size = SIZES[type];
    if (size === undefined || type === 'C') {
      const out: UbjValue[] = [];
      for (let i = 0; i < count; i++) out.push(value(type));
      return out;
    }
    need(size * count);
    let out: UbjTypedArray;
    switch (type) {
      case 'U': out = bytes.slice(pos, pos + count); break;
      case 'i': out = new Int8Array(bytes.slice(pos, pos + count).buffer); break;
      case 'I': out = new Int16Array(count); for (let i = 0; i < count; i++) out[i] = view.getInt16(pos + 2 * i); break;
      case 'l': out = new Int32Array(count); for (let i = 0; i < count; i++) out[i] = view.getInt32(pos + 4 * i); break;
      case 'L': out = new Float64Array(count); for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(pos + 8 * i)); break;
      case 'd': out = new Float32Array(count); for (let i = 0; i < count; i++) out[i] = view.getFloat32(pos + 4 * i); break;
      default: out = new Float64Array(count); for (let i = 0; i < count; i++) out[i] = view.getFloat64(pos + 8 * i); break;
    }
    pos += size * count;
    return out;
  }

  /** Reads the optional `$type` / `#count` header of a container. */
  function header(): { type?: string; count?: number } {
    let type: string | undefined;
    let count: number | undefined;
    if (bytes[pos] === 0x24 /* $ */) {
      pos++;
      type = marker();
    }
    if (bytes[pos] === 0x23 /* # */) {
      pos++;
      count = length();
    } else if (type !== undefined) {
      throw new Error('UBJSON: typed container without a count');
    }
    return { type, count };
  }

  function value(m: string): UbjValue {
    switch (m) {
      case 'Z': return null;
      case 'T': return true;
      case 'F': return false;
      case 'S': case 'H': return str();
      case 'C': return String.fromCharCode(scalar('C'));
      case '[': {
        const { type, count } = header();
        if (count !== undefined) return type !== undefined ? typedArray(type, count) : Array.from({ length: count }, () => value(next()));
        const out: UbjValue[] = [];
        for (let m2 = next(); m2 !== ']'; m2 = next()) out.push(value(m2));
        return out;
      }
      case '{': {
        const { type, count } = header();
        const out: { [k: string]: UbjValue } = {};
        if (count !== undefined) {
          for (let i = 0; i < count; i++) {
            const k = str();
            out[k] = value(type ?? next());
          }
          return out;
        }
        while (bytes[pos] !== 0x7d /* } */) {
          need(1);
          if (bytes[pos] === 0x4e /* N */) { pos++; continue; }
          const k = str();
          out[k] = value(next());
        }
        pos++;
        return out;
      }
      default:
        return scalar(m);
    }
  }

  /** Next value marker, skipping no-ops. */
  function next(): string {
    let m = marker();
    while (m === 'N') m = marker();
    return m;
  }

  const root = value(next());
  return root;
}
