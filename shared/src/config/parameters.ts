/**
 * Seldon's PREDICTIVE_UNIT_PARAMETERS: a JSON list of {name, value, type}. The operator always appends
 * model_uri; anything a server does not know is a start-up error (Seldon's servers crash on unknown kwargs,
 * we say which name is wrong and what is accepted instead).
 */
export type ParameterType = 'STRING' | 'INT' | 'FLOAT' | 'DOUBLE' | 'BOOL' | 'JSON';

export interface ParameterSpec {
  name: string;
  type: ParameterType;
  description: string;
  default?: unknown;
  choices?: readonly string[];
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const TRUE = new Set(['true', 't', 'yes', 'y', 'on', '1']);
const FALSE = new Set(['false', 'f', 'no', 'n', 'off', '0']);

export function convertParameter(name: string, value: unknown, type: string): unknown {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  switch (type.toUpperCase()) {
    case 'STRING':
      return typeof value === 'string' ? value : text;
    case 'INT': {
      const n = typeof value === 'number' ? value : Number(text);
      if (!Number.isInteger(n)) throw new ConfigError(`parameter "${name}": ${text} is not an INT`);
      return n;
    }
    case 'FLOAT':
    case 'DOUBLE': {
      const n = typeof value === 'number' ? value : Number(text);
      if (!Number.isFinite(n) && !/^(nan|inf|-inf)$/i.test(text)) throw new ConfigError(`parameter "${name}": ${text} is not a ${type}`);
      return n;
    }
    case 'BOOL': {
      if (typeof value === 'boolean') return value;
      const s = text.toLowerCase();
      if (TRUE.has(s)) return true;
      if (FALSE.has(s)) return false;
      throw new ConfigError(`parameter "${name}": ${text} is not a BOOL`);
    }
    case 'JSON':
      if (typeof value !== 'string') return value;
      try {
        return JSON.parse(value);
      } catch (e) {
        throw new ConfigError(`parameter "${name}": not valid JSON (${(e as Error).message})`);
      }
    default:
      throw new ConfigError(`parameter "${name}": unknown type ${type} (use STRING, INT, FLOAT, DOUBLE, BOOL or JSON)`);
  }
}

/** Parses the env form; returns name -> converted value, in order (later entries win, as in Seldon). */
export function parseParameterList(json: string | undefined): Array<{ name: string; value: unknown }> {
  if (!json || !json.trim()) return [];
  let list: unknown;
  try {
    list = JSON.parse(json);
  } catch (e) {
    throw new ConfigError(`PREDICTIVE_UNIT_PARAMETERS is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(list)) throw new ConfigError('PREDICTIVE_UNIT_PARAMETERS must be a JSON list of {"name","value","type"}');
  return list.map((p, i) => {
    if (!p || typeof p !== 'object' || typeof (p as { name?: unknown }).name !== 'string') {
      throw new ConfigError(`PREDICTIVE_UNIT_PARAMETERS[${i}] needs a string "name"`);
    }
    const { name, value, type } = p as { name: string; value?: unknown; type?: string };
    return { name, value: convertParameter(name, value ?? '', type ?? 'STRING') };
  });
}

/** Checks names and choices against a server's specs and fills defaults. */
export function resolveParameters(
  implementation: string,
  specs: readonly ParameterSpec[],
  given: Array<{ name: string; value: unknown }>,
): Record<string, unknown> {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const out: Record<string, unknown> = {};
  for (const s of specs) if (s.default !== undefined) out[s.name] = s.default;
  for (const { name, value } of given) {
    const spec = byName.get(name);
    if (!spec) {
      throw new ConfigError(
        `unknown parameter "${name}" for ${implementation}; accepted: ${specs.map((s) => s.name).join(', ')}`,
      );
    }
    const v = typeof value === 'string' && spec.type !== 'STRING' ? convertParameter(name, value, spec.type) : value;
    if (spec.choices && !spec.choices.includes(String(v))) {
      throw new ConfigError(`parameter "${name}" for ${implementation} must be one of ${spec.choices.join(', ')}; got "${String(v)}"`);
    }
    out[name] = v;
  }
  return out;
}
