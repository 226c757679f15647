/**
 * The client's commands for the `modelfleet` bin (shared/src/cli.ts imports this module at run time when the
 * command is `predict` or `test`). Resolves with the process exit code.
 */
import { predict } from './predict.js';
import { runTest } from './tester.js';

export async function runCli(command: string, args: string[]): Promise<number> {
  if (command === 'predict') return predict(args, process.stdout, process.stderr);
  if (command === 'test') return runTest(args, process.stdout, process.stderr);
  process.stderr.write(`unknown client command "${command}"\n`);
  return 2;
}
