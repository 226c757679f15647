/**
 * Seldon requests carry one table plus column names (data.names). For an ONNX model with several inputs (as
 * converters make for one-input-per-feature pipelines) each named column feeds the input of that name.
 */
import { badInput } from '../errors.js';
import type { BytesArray, NumericArray, Tensor } from '../tensor.js';
import { fromNumbers } from '../tensor.js';
import type { OrtInputInfo } from './tensors.js';

export function splitByNames(table: Tensor, inputs: OrtInputInfo[]): Array<[OrtInputInfo, Tensor]> {
  const names = (table.parameters!.names as unknown[]).map(String);
  if (table.shape.length !== 2 || table.shape[1] !== names.length) {
    throw badInput(`data.names has ${names.length} names but the data has shape [${table.shape}]: expected [rows, ${names.length}]`);
  }
  const missing = inputs.filter((i) => !names.includes(i.name)).map((i) => i.name);
  if (missing.length) throw badInput(`data.names must name every model input; missing ${missing.join(', ')} (got ${names.join(', ')})`);
  const [rows, cols] = table.shape;
  return inputs.map((info) => {
    const c = names.indexOf(info.name);
    return [info, column(table, rows, cols, c, info)];
  });
}

function column(table: Tensor, rows: number, cols: number, c: number, info: OrtInputInfo): Tensor {
  const shape = [rows, 1];
  if (table.datatype === 'BYTES') {
    const src = table.data as BytesArray;
    const values: BytesArray = [];
    for (let r = 0; r < rows; r++) values.push(src[r * cols + c]);
    if (info.type === 'string') return { name: info.name, datatype: 'BYTES', shape, data: values };
    // A table mixing strings and numbers decodes as BYTES; its numeric columns go back to numbers here.
    const nums = values.map((v) => Number(typeof v === 'string' ? v : Buffer.from(v).toString('utf8')));
    if (nums.some((n, i) => Number.isNaN(n) && String(values[i]).toLowerCase() !== 'nan')) {
      throw badInput(`column ${info.name} feeds a ${info.type} input but holds values that are not numbers`);
    }
    return { name: info.name, datatype: 'FP64', shape, data: fromNumbers('FP64', nums) };
  }
  const src = table.data as NumericArray;
  const out = new (src.constructor as { new (n: number): NumericArray })(rows);
  for (let r = 0; r < rows; r++) (out as Float64Array)[r] = src[r * cols + c] as number;
  return { name: info.name, datatype: table.datatype, shape, data: out };
}
