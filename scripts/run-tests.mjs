#!/usr/bin/env node
// Runs every compiled test file with Node's test runner. Files run one at a time: each starts real servers
// and Python processes, and two cores do not take more in parallel.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('../test/dist/', import.meta.url).pathname;
const filter = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && (!filter.length || filter.some((f) => p.slice(root.length).includes(f)))) files.push(p);
  }
})(root);
if (!files.length) {
  console.error('no test files found under test/dist (did the build run?)');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
