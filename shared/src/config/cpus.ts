import { readFileSync } from 'node:fs';
import os from 'node:os';

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The CPU quota of this process's cgroup in CPUs (e.g. 1.5 for a Kubernetes limit of 1500m), or undefined when
 * there is none: cgroup v2's cpu.max ("max 100000" or "150000 100000"), else cgroup v1's cfs_quota_us / cfs_period_us
 * (-1 = none). A quota does not show in os.availableParallelism(), which counts the CPUs the process may run on.
 */
export function cgroupCpuQuota(root = '/sys/fs/cgroup'): number | undefined {
  const v2 = read(`${root}/cpu.max`)?.split(/\s+/);
  if (v2 && v2.length === 2) return v2[0] === 'max' ? undefined : Number(v2[0]) / Number(v2[1]) || undefined;
  for (const dir of [`${root}/cpu`, `${root}/cpu,cpuacct`]) {
    const quota = Number(read(`${dir}/cpu.cfs_quota_us`));
    const period = Number(read(`${dir}/cpu.cfs_period_us`));
    if (quota > 0 && period > 0) return quota / period;
  }
  return undefined;
}

/**
 * CPUs this process can use: the CPUs it may run on, capped by its cgroup quota rounded up (as Go's GOMAXPROCS
 * does: a 1.5-CPU limit gets 2 processes and the kernel's throttling shares them; a 1-CPU container gets 1).
 */
export function availableCpus(root?: string): number {
  const quota = cgroupCpuQuota(root);
  const cpus = os.availableParallelism();
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.ceil(quota - 1e-9)));
}
