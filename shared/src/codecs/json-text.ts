/**
 * Request JSON text. `JSON.parse` stays first (the hot path); only when it fails do we look for the non-standard
 * literals Python's `json.dumps` writes for non-finite floats (`NaN`, `Infinity`, `-Infinity`): Seldon's server
 * (Flask) accepts them, so the Seldon protocol does too, and the other protocols name the literal in their 400.
 */
import { randomBytes } from 'node:crypto';

export type NonFinite = 'NaN' | 'Infinity' | '-Infinity';

const VALUES: Record<NonFinite, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
// A string no client sends: the literal becomes it, and the reviver turns it back into the number.
const SENTINEL = `\u0000mf${randomBytes(6).toString('hex')}:`;

/**
 * Rewrites the non-finite literals outside strings as sentinel strings; undefined when there are none (so the
 * caller reports the original syntax error).
 */
function quoteNonFinite(text: string): { text: string; first: NonFinite } | undefined {
  let out = '';
  let from = 0;
  let first: NonFinite | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c /* \ */) i++;
        else if (s === 0x22) break;
      }
      continue;
    }
    let lit: NonFinite | undefined;
    if (c === 0x4e /* N */ && text.startsWith('NaN', i)) lit = 'NaN';
    else if (c === 0x49 /* I */ && text.startsWith('Infinity', i)) lit = 'Infinity';
    else if (c === 0x2d /* - */ && text.startsWith('-Infinity', i)) lit = '-Infinity';
    if (!lit) continue;
    out += text.slice(from, i) + JSON.stringify(SENTINEL + lit);
    i += lit.length - 1;
    from = i + 1;
    first ??= lit;
  }
  return first ? { text: out + text.slice(from), first } : undefined;
}

/** The first non-finite literal outside strings, if any (for error messages of protocols that refuse them). */
export function nonFiniteLiteral(text: string): NonFinite | undefined {
  return quoteNonFinite(text)?.first;
}

/** JSON.parse, then (only if that fails) a parse that also takes Python's NaN / Infinity / -Infinity. */
export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const quoted = quoteNonFinite(text);
    if (quoted === undefined) throw e;
    try {
      return JSON.parse(quoted.text, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(SENTINEL) ? VALUES[v.slice(SENTINEL.length) as NonFinite] : v));
    } catch {
      throw e; // still not JSON: report what JSON.parse said about the original text
    }
  }
}

/** JSON.parse for protocols without the literals: the 400 names the literal when that is what broke the parse. */
export function parseStrictJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const lit = nonFiniteLiteral(text);
    if (lit) throw new SyntaxError(`${lit} is not a JSON value (this protocol takes null for a missing value; ${(e as Error).message})`);
    throw e;
  }
}
