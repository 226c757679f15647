#!/usr/bin/env node
/**
 * Container entry point for a user's Python class, as Seldon's images run `seldon-core-microservice $MODEL_NAME`:
 * the class from the first argument or MODEL_NAME, the code in MODEL_URI or the working directory, everything else
 * from the env contract.
 */
import { runFromEnv } from './run.js';
import { pythonClassDefinition } from './wrapper/definition.js';

const name = process.argv[2] ?? process.env.MODEL_NAME;
if (!name) {
  process.stderr.write('modelfleet-microservice: set MODEL_NAME (or pass the class name): Model or package.module.Model\n');
  process.exit(2);
}
try {
  await runFromEnv(pythonClassDefinition(name), []); // its argument is the class, not KServe arguments
} catch (err) {
  process.stderr.write(`modelfleet-microservice: ${(err as Error).message}\n`);
  process.exit(2);
}
