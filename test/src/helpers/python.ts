import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findPython } from '@modelfleet/shared/python/interpreter';

const run = promisify(execFile);

/** Runs Python code with an interpreter that has `modules`; returns stdout. Tests train their models this way. */
export async function python(code: string, modules: string[] = ['sklearn'], args: string[] = []): Promise<string> {
  const { bin } = await findPython(modules);
  const { stdout } = await run(bin, ['-c', code, ...args], { maxBuffer: 256 * 1024 * 1024, timeout: 300_000 });
  return stdout;
}

/** Runs Python code that prints one JSON document; returns it parsed. */
export async function pythonJson<T = unknown>(code: string, modules: string[] = ['sklearn'], args: string[] = []): Promise<T> {
  return JSON.parse(await python(code, modules, args)) as T;
}
