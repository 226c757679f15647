// How many server processes the default starts: the CPUs the process may use, capped by its cgroup's CPU quota
// (cgroup v2 cpu.max, cgroup v1 cfs quota/period), read from cgroup files laid out as the kernel does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { availableCpus, cgroupCpuQuota } from '@modelfleet/shared/config/cpus';

function cgroup(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-cgroup-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), `${text}\n`);
  }
  return root;
}

test('cgroup v2: "max" is no quota, "150000 100000" is 1.5 CPUs', () => {
  assert.equal(cgroupCpuQuota(cgroup({ 'cpu.max': 'max 100000' })), undefined);
  assert.equal(cgroupCpuQuota(cgroup({ 'cpu.max': '150000 100000' })), 1.5);
});

test('cgroup v1: cfs_quota_us / cfs_period_us, -1 is no quota', () => {
  assert.equal(cgroupCpuQuota(cgroup({ 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000' })), undefined);
  assert.equal(cgroupCpuQuota(cgroup({ 'cpu,cpuacct/cpu.cfs_quota_us': '200000', 'cpu,cpuacct/cpu.cfs_period_us': '100000' })), 2);
  assert.equal(cgroupCpuQuota(cgroup({})), undefined);
});

test('a 1-CPU container gets one process; a quota rounds up; never more than the CPUs the process may run on', () => {
  const cpus = os.availableParallelism();
  assert.equal(availableCpus(cgroup({ 'cpu.max': '100000 100000' })), 1);
  assert.equal(availableCpus(cgroup({ 'cpu.max': '50000 100000' })), 1);
  assert.equal(availableCpus(cgroup({ 'cpu.max': '150000 100000' })), Math.min(cpus, 2));
  assert.equal(availableCpus(cgroup({ 'cpu.max': '6400000 100000' })), cpus);
  assert.equal(availableCpus(cgroup({ 'cpu.max': 'max 100000' })), cpus);
});
