/** Integer datatypes' value ranges: a value outside its datatype is a 400, never a silent wrap-around. */
import { badInput } from '../errors.js';
import type { Datatype } from '../tensor.js';

const RANGES: Partial<Record<Datatype, readonly [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  INT64: [-9223372036854775808, 9223372036854775807], // as doubles: the checks below use < for the top
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  UINT64: [0, 18446744073709551615],
};

/** Throws a 400 naming the input, datatype and value when an element is not an integer of the datatype's range. */
export function checkIntegers(name: string, datatype: Datatype, values: ArrayLike<unknown>): void {
  const range = RANGES[datatype];
  if (!range) return;
  const [lo, hi] = range;
  const wide = datatype === 'INT64' || datatype === 'UINT64';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const ok = typeof v === 'number' && Number.isInteger(v) && v >= lo && (wide ? v < hi : v <= hi);
    if (!ok) {
      const bounds = datatype === 'INT64' ? '[-2^63, 2^63-1]' : datatype === 'UINT64' ? '[0, 2^64-1]' : `[${lo}, ${hi}]`;
      const what = typeof v === 'number' && Number.isInteger(v) ? `outside ${datatype}'s range ${bounds}` : 'not an integer';
      throw badInput(`input ${name}: ${datatype} value ${JSON.stringify(v) ?? String(v)} is ${what}`);
    }
  }
}
