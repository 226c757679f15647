#!/usr/bin/env node
// Container entry point: reads only the env contract (PREDICTIVE_UNIT_PARAMETERS, MODEL_URI, ports...).
import { runServer, settingsFromEnv } from '@modelfleet/shared';
import { definition } from './index.js';

try {
  await runServer(definition, settingsFromEnv());
} catch (err) {
  process.stderr.write(`${definition.implementation}: configuration error: ${(err as Error).message}\n`);
  process.exit(2);
}
