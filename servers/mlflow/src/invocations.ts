/**
 * MLflow's own scoring API (`mlflow models serve`): POST /invocations with JSON (dataframe_split,
 * dataframe_records, instances, inputs, plus params) or CSV, answered `{"predictions": ...}`; GET /ping, /health,
 * /version. Bodies become the same tensors as every other protocol, so the signature is enforced the same way.
 */
import type { Express, Request, Response } from 'express';
import { asServingError, badInput, HTTP_STATUS, jsonValues, ndarrayToTensor, nest, ServingError } from '@modelfleet/shared';
import type { InferenceRequest, InferenceResponse, ServerContext, Tensor } from '@modelfleet/shared';

const FORMATS = ['dataframe_split', 'dataframe_records', 'instances', 'inputs'] as const;

/** A column of JSON cells: numbers (null as NaN) are FP64, booleans BOOL, anything with a string BYTES. */
function columnTensor(name: string, cells: unknown[]): Tensor {
  for (const v of cells) {
    if (v !== null && typeof v === 'object') throw badInput(`column ${JSON.stringify(name)}: cells must be numbers, strings or booleans`);
  }
  if (cells.every((v) => typeof v === 'number' || v === null)) {
    return { name, datatype: 'FP64', shape: [cells.length], data: Float64Array.from(cells, (v) => (v === null ? NaN : (v as number))) };
  }
  if (cells.every((v) => typeof v === 'boolean')) return { name, datatype: 'BOOL', shape: [cells.length], data: Uint8Array.from(cells, (v) => (v ? 1 : 0)) };
  return { name, datatype: 'BYTES', shape: [cells.length], data: cells.map((v) => (v === null ? '' : String(v))) };
}

/** pandas orient="split": {columns?, data: rows, index?}. Without columns it is one table whose columns are positional. */
function dataframeSplit(v: unknown): Tensor[] {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badInput('dataframe_split must be an object {"columns": [...], "data": [[...], ...]}');
  const { columns, data } = v as { columns?: unknown; data?: unknown };
  if (!Array.isArray(data)) throw badInput('dataframe_split.data must be a list of rows');
  const rows = data.map((r) => (Array.isArray(r) ? r : [r]));
  if (columns === undefined) return [ndarrayToTensor(rows, 'input-0', 'dataframe_split.data')];
  if (!Array.isArray(columns)) throw badInput('dataframe_split.columns must be a list');
  rows.forEach((r, i) => {
    if (r.length !== columns.length) throw badInput(`dataframe_split.data[${i}] has ${r.length} values for ${columns.length} columns`);
  });
  return columns.map((name, j) => columnTensor(String(name), rows.map((r) => r[j])));
}

/** pandas orient="records": [{column: value}, ...]; a key missing from a record is a missing value. */
function dataframeRecords(v: unknown): Tensor[] {
  if (!Array.isArray(v) || !v.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
    throw badInput('dataframe_records must be a list of objects {"column": value}');
  }
  const records = v as Array<Record<string, unknown>>;
  const names = [...new Set(records.flatMap((r) => Object.keys(r)))];
  return names.map((name) => columnTensor(name, records.map((r) => r[name] ?? null)));
}

/**
 * TF-serving style: a list is one tensor (rows first); an object is named tensors; a list of objects is rows of
 * named tensors, stacked per name.
 */
function tfServing(key: string, v: unknown): { inputs: Tensor[]; contentType: string } {
  if (Array.isArray(v) && v.length > 0 && v.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
    const rows = v as Array<Record<string, unknown>>;
    const names = Object.keys(rows[0]);
    rows.forEach((r, i) => {
      const k = Object.keys(r);
      if (k.length !== names.length || !names.every((n) => n in r)) throw badInput(`${key}[${i}] has keys ${k.join(', ')}; ${key}[0] has ${names.join(', ')}`);
    });
    return { inputs: names.map((n) => ndarrayToTensor(rows.map((r) => r[n]), n, `${key}[*].${n}`)), contentType: 'dict' };
  }
  if (Array.isArray(v)) return { inputs: [ndarrayToTensor(v, 'input-0', key)], contentType: 'np' };
  if (v && typeof v === 'object') {
    return { inputs: Object.entries(v).map(([n, x]) => ndarrayToTensor(Array.isArray(x) ? x : [x], n, `${key}.${n}`)), contentType: 'dict' };
  }
  throw badInput(`"${key}" must be a list or an object of named lists`);
}

/** A JSON scoring body as an inference request: its inputs, content type and params. */
export function parseScoringJson(body: unknown): InferenceRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw badInput(
      `the body must be a JSON object with exactly one of ${FORMATS.join(', ')} (and optionally params). ` +
        'Since MLflow 2.0 a bare list or a bare pandas document is no longer accepted: wrap it, e.g. {"dataframe_split": ...}',
    );
  }
  const b = body as Record<string, unknown>;
  const present = FORMATS.filter((f) => b[f] !== undefined);
  const unknown = Object.keys(b).filter((k) => !(FORMATS as readonly string[]).includes(k) && k !== 'params');
  if (present.length !== 1 || unknown.length) {
    throw badInput(
      `the body must have exactly one of ${FORMATS.join(', ')} (and optionally params); got ${Object.keys(b).join(', ') || 'no fields'}`,
    );
  }
  const params = b.params;
  if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params))) throw badInput('"params" must be an object');
  const format = present[0];
  let inputs: Tensor[];
  let contentType = 'pd';
  if (format === 'dataframe_split') inputs = dataframeSplit(b[format]);
  else if (format === 'dataframe_records') inputs = dataframeRecords(b[format]);
  else ({ inputs, contentType } = tfServing(format, b[format]));
  if (!inputs.length) throw badInput(`${format} holds no data`);
  return { inputs, parameters: { ...(params as Record<string, unknown> | undefined), content_type: contentType } };
}

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF) into rows of strings. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (quoted) throw badInput('CSV: unterminated quoted field');
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** A CSV body (header row first) as a DataFrame: like pandas.read_csv, all-numeric columns are numbers, empty cells missing. */
export function parseScoringCsv(text: string): InferenceRequest {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw badInput('CSV: empty body; send a header row and data rows');
  rows.forEach((r, i) => {
    if (r.length !== header.length) throw badInput(`CSV: row ${i + 1} has ${r.length} fields, the header ${header.length}`);
  });
  const inputs = header.map((name, j) => {
    const cells = rows.map((r) => r[j]);
    const numeric = cells.every((c) => c.trim() === '' || !Number.isNaN(Number(c)));
    if (numeric) return columnTensor(name, cells.map((c) => (c.trim() === '' ? null : Number(c))));
    const bool = cells.every((c) => /^(true|false)$/i.test(c));
    return columnTensor(name, bool ? cells.map((c) => /^true$/i.test(c)) : cells);
  });
  return { inputs, parameters: { content_type: 'pd' } };
}

/** `{"predictions": ...}` as MLflow writes it: DataFrames as records, dicts of arrays as objects, arrays as lists. */
export function scoringResponse(response: InferenceResponse): { predictions: unknown } {
  const value = (t: Tensor) => nest(jsonValues(t), t.shape);
  const outputs = response.outputs;
  switch (response.parameters?.content_type) {
    case 'pd': {
      const columns = outputs.map((t) => ({ name: t.name, rows: t.shape[0] ?? 0, values: jsonValues(t), width: t.shape.slice(1).reduce((a, b) => a * b, 1) }));
      const n = columns[0]?.rows ?? 0;
      return {
        predictions: Array.from({ length: n }, (_, i) =>
          Object.fromEntries(columns.map((c) => [c.name, c.width === 1 ? c.values[i] : c.values.slice(i * c.width, (i + 1) * c.width)])),
        ),
      };
    }
    case 'dict':
      return { predictions: Object.fromEntries(outputs.map((t) => [t.name, value(t)])) };
    default:
      return { predictions: outputs.length === 1 ? value(outputs[0]) : Object.fromEntries(outputs.map((t) => [t.name, value(t)])) };
  }
}

/** MLflow's error body: {"error_code", "message"}. */
function sendError(res: Response, err: unknown, ctx: ServerContext, status?: number): void {
  const e = asServingError(err);
  const code = status ?? HTTP_STATUS[e.kind];
  const errorCode = e.kind === 'bad_input' ? 'BAD_REQUEST' : e.kind === 'not_ready' || e.kind === 'unavailable' ? 'TEMPORARILY_UNAVAILABLE' : 'INTERNAL_ERROR';
  if (code >= 500 && code !== 503) ctx.log.error(`/invocations failed: ${e.message}`);
  res.status(code).json({ error_code: errorCode, message: e.message });
}

/** The request's body as an inference request, or a ServingError carrying the status MLflow answers (415 for types). */
function scoringRequest(req: Request): InferenceRequest {
  const type = String(req.headers['content-type'] ?? '');
  const [mime, ...paramParts] = type.split(';').map((s) => s.trim());
  const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  if (mime === 'text/csv') return parseScoringCsv(body);
  if (mime !== 'application/json') {
    throw Object.assign(badInput(`this predictor only supports the content types application/json and text/csv; got ${JSON.stringify(type || 'none')}`), { status: 415 });
  }
  for (const p of paramParts.filter(Boolean)) {
    const [k, v] = p.split('=').map((s) => s.trim().toLowerCase());
    if (k !== 'charset' || v !== 'utf-8') throw Object.assign(badInput(`unsupported content type parameter "${p}": only charset=utf-8 is accepted`), { status: 415 });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw badInput(`invalid JSON: ${(err as Error).message}`);
  }
  return parseScoringJson(parsed);
}

/** Mounts /invocations, /ping, /health and /version. `version` is what /version answers. */
export function mountScoringApi(app: Express, ctx: ServerContext, version: () => string): void {
  const health = (_req: Request, res: Response) => {
    res.status(ctx.plane.ready ? 200 : 503).type('text/plain').send('\n');
  };
  app.get('/ping', health);
  app.get('/health', health);
  app.get('/version', (_req, res) => {
    res.type('text/plain').send(version());
  });
  app.post('/invocations', async (req, res) => {
    const end = ctx.metrics.duration.startTimer({ protocol: 'mlflow', endpoint: 'invocations' });
    res.once('finish', () => {
      end();
      ctx.metrics.requests.inc({ protocol: 'mlflow', endpoint: 'invocations', code: String(res.statusCode) });
    });
    try {
      // The scoring API answers every output the model gives, as V2 does without named outputs.
      const response = await ctx.plane.infer(scoringRequest(req), 'v2');
      res.json(scoringResponse(response));
    } catch (err) {
      sendError(res, err, ctx, err instanceof ServingError ? (err as ServingError & { status?: number }).status : undefined);
    }
  });
}
