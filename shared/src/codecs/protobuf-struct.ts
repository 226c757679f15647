/**
 * google.protobuf.Value / ListValue / Struct as @grpc/proto-loader represents them (a `kind` oneof naming the set
 * field) to and from plain JSON values: Seldon's ndarray, jsonData and meta.tags are these.
 */
type ProtoValue = {
  kind?: string;
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, ProtoValue> };
  listValue?: { values?: ProtoValue[] };
};

export function valueToJson(v: ProtoValue | null | undefined): unknown {
  if (!v) return null;
  switch (v.kind) {
    case 'numberValue':
      return v.numberValue;
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return v.boolValue;
    case 'structValue':
      return structToJson(v.structValue);
    case 'listValue':
      return listToJson(v.listValue);
    default:
      return null;
  }
}

export function listToJson(l: { values?: ProtoValue[] } | null | undefined): unknown[] {
  return (l?.values ?? []).map(valueToJson);
}

export function structToJson(s: { fields?: Record<string, ProtoValue> } | null | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s?.fields ?? {}).map(([k, v]) => [k, valueToJson(v)]));
}

export function jsonToValue(x: unknown): ProtoValue {
  if (x === null || x === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof x === 'number') return Number.isFinite(x) ? { numberValue: x } : { nullValue: 'NULL_VALUE' };
  if (typeof x === 'string') return { stringValue: x };
  if (typeof x === 'boolean') return { boolValue: x };
  if (Array.isArray(x)) return { listValue: jsonToList(x) };
  return { structValue: jsonToStruct(x as Record<string, unknown>) };
}

export function jsonToList(x: unknown[]): { values: ProtoValue[] } {
  return { values: x.map(jsonToValue) };
}

export function jsonToStruct(x: Record<string, unknown>): { fields: Record<string, ProtoValue> } {
  return { fields: Object.fromEntries(Object.entries(x).map(([k, v]) => [k, jsonToValue(v)])) };
}
