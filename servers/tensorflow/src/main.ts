#!/usr/bin/env node
// Container entry point: reads only the env contract (PREDICTIVE_UNIT_PARAMETERS, MODEL_URI, ports...).
import { runFromEnv } from '@modelfleet/shared';
import { definition } from './index.js';

await runFromEnv(definition);
