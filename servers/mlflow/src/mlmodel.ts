/**
 * The MLflow model folder as MLflow documents it: an `MLmodel` YAML file (flavors, signature, input example
 * info, identity) beside the model files and the environment files.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@modelfleet/shared';
import { parse as parseYaml } from 'yaml';

/** MLflow's column types (mlflow.types.DataType) that enforcement handles. */
export const COLUMN_TYPES = ['boolean', 'integer', 'long', 'float', 'double', 'string', 'binary', 'datetime'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export interface ColumnSpec {
  name?: string;
  type: ColumnType;
  /** MLflow ≥ 2.10 marks optional columns `required: false`; older signatures have every column required. */
  required: boolean;
}

export interface TensorSpec {
  name?: string;
  /** A numpy dtype name: float32, int64, bool, object, str... */
  dtype: string;
  /** -1 for any size. */
  shape: number[];
}

export type Schema = { kind: 'columns'; columns: ColumnSpec[] } | { kind: 'tensors'; tensors: TensorSpec[] };

export interface ParamSpec {
  name: string;
  type: ColumnType;
  default: unknown;
  /** null for a scalar, [-1] for a list. */
  shape: number[] | null;
}

export interface Signature {
  inputs?: Schema;
  outputs?: Schema;
  params?: ParamSpec[];
}

export type Flavor = Record<string, unknown>;

export interface MlflowModel {
  /** The model folder. */
  root: string;
  flavors: Record<string, Flavor>;
  signature?: Signature;
  mlflowVersion?: string;
  modelUuid?: string;
  runId?: string;
  /** The example as an /invocations body (serving_input_example.json, else built from input_example.*). */
  servingExample?: unknown;
}

/** Reads `<root>/MLmodel`; a folder without one is not an MLflow model. */
export function readMlflowModel(modelPath: string): MlflowModel {
  const root = statSync(modelPath).isFile() ? path.dirname(modelPath) : modelPath;
  const file = path.join(root, 'MLmodel');
  if (!existsSync(file)) throw new ConfigError(`no MLmodel file in ${root}: MLFLOW_SERVER serves folders saved by mlflow.<flavor>.save_model / log_model`);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${file} must be a YAML mapping`);
  const m = doc as Record<string, unknown>;
  if (!m.flavors || typeof m.flavors !== 'object') throw new ConfigError(`${file} has no "flavors" mapping`);
  const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  return {
    root,
    flavors: m.flavors as Record<string, Flavor>,
    signature: m.signature ? parseSignature(m.signature, file) : undefined,
    mlflowVersion: str(m.mlflow_version),
    modelUuid: str(m.model_uuid),
    runId: str(m.run_id),
    servingExample: readExample(root, m.saved_input_example_info),
  };
}

/** MLmodel stores each part of the signature as a JSON string. */
function parseSignature(raw: unknown, file: string): Signature {
  if (typeof raw !== 'object' || raw === null) throw new ConfigError(`${file}: "signature" must be a mapping`);
  const s = raw as Record<string, unknown>;
  const json = (key: string): unknown => {
    const v = s[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch (err) {
      throw new ConfigError(`${file}: signature.${key} is not valid JSON: ${(err as Error).message}`);
    }
  };
  const inputs = json('inputs');
  const outputs = json('outputs');
  const params = json('params');
  return {
    ...(inputs !== undefined ? { inputs: parseSchema(inputs, `${file}: signature.inputs`) } : {}),
    ...(outputs !== undefined ? { outputs: parseSchema(outputs, `${file}: signature.outputs`) } : {}),
    ...(params !== undefined ? { params: parseParams(params, `${file}: signature.params`) } : {}),
  };
}

function parseSchema(raw: unknown, where: string): Schema {
  if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError(`${where} must be a non-empty list`);
  const specs = raw as Array<Record<string, unknown>>;
  const isTensor = (x: Record<string, unknown>) => x.type === 'tensor';
  if (specs.every(isTensor)) {
    return {
      kind: 'tensors',
      tensors: specs.map((x, i) => {
        const t = x['tensor-spec'] as { dtype?: unknown; shape?: unknown } | undefined;
        if (!t || typeof t.dtype !== 'string' || !Array.isArray(t.shape)) throw new ConfigError(`${where}[${i}]: tensor-spec needs dtype and shape`);
        return { ...(typeof x.name === 'string' ? { name: x.name } : {}), dtype: t.dtype, shape: t.shape.map(Number) };
      }),
    };
  }
  if (specs.some(isTensor)) throw new ConfigError(`${where} mixes tensor and column specs`);
  const columns = specs.map((x, i): ColumnSpec => {
    if (!COLUMN_TYPES.includes(x.type as ColumnType)) {
      throw new ConfigError(
        `${where}[${i}]${typeof x.name === 'string' ? ` (${x.name})` : ''}: column type ${JSON.stringify(x.type)} is not supported (supported: ${COLUMN_TYPES.join(', ')})`,
      );
    }
    return { ...(typeof x.name === 'string' ? { name: x.name } : {}), type: x.type as ColumnType, required: x.required !== false };
  });
  const named = columns.filter((c) => c.name !== undefined).length;
  if (named !== 0 && named !== columns.length) throw new ConfigError(`${where}: either every column has a name or none has`);
  return { kind: 'columns', columns };
}

function parseParams(raw: unknown, where: string): ParamSpec[] {
  if (!Array.isArray(raw)) throw new ConfigError(`${where} must be a list`);
  return raw.map((p: Record<string, unknown>, i) => {
    if (typeof p?.name !== 'string' || !COLUMN_TYPES.includes(p.type as ColumnType)) throw new ConfigError(`${where}[${i}] needs a name and a type`);
    return { name: p.name, type: p.type as ColumnType, default: p.default ?? null, shape: Array.isArray(p.shape) ? p.shape.map(Number) : null };
  });
}

/**
 * The input example as a scoring-API body: MLflow ≥ 2.17 saves serving_input_example.json in that form; older
 * versions save input_example.json as a DataFrame (split or records orient) or a tf-serving `{"inputs": ...}`.
 */
function readExample(root: string, info: unknown): unknown {
  const serving = path.join(root, 'serving_input_example.json');
  if (existsSync(serving)) return JSON.parse(readFileSync(serving, 'utf8'));
  if (!info || typeof info !== 'object') return undefined;
  const i = info as Record<string, unknown>;
  const file = path.join(root, String(i.artifact_path ?? 'input_example.json'));
  if (!existsSync(file)) return undefined;
  const content: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (i.type === 'dataframe') return i.pandas_orient === 'records' ? { dataframe_records: content } : { dataframe_split: content };
  if (i.type === 'ndarray') return content && typeof content === 'object' && !Array.isArray(content) ? content : { inputs: content };
  return undefined; // sparse matrices and other example types have no JSON scoring form
}

/** The python_function flavor: how MLflow itself would load the model. */
export function pyfuncFlavor(model: MlflowModel): Flavor {
  const f = model.flavors.python_function;
  if (!f) {
    throw new ConfigError(
      `the model has no python_function flavor (flavors: ${Object.keys(model.flavors).join(', ')}), so no MLflow scoring server can serve it either`,
    );
  }
  return f;
}
