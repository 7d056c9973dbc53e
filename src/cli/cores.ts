// How many CPUs this process can use: the CPUs it may run on (affinity), capped by a cgroup CPU quota
// (a container's CPU limit: Kubernetes' resources.limits.cpu), which os.availableParallelism() does not
// see. A pod limited to 2 CPUs on a 64-core node must not start 64 HTTP threads.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** CPUs a cgroup quota allows (rounded up), or undefined when there is none: cgroup v2 `cpu.max` text. */
export function quotaFromCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return undefined;
  const q = Number(quota);
  const p = Number(period ?? 100_000);
  return q > 0 && p > 0 ? Math.max(1, Math.ceil(q / p)) : undefined;
}

/** The same from cgroup v1's cpu.cfs_quota_us and cpu.cfs_period_us (-1: no quota). */
export function quotaFromCfs(quota: string, period: string): number | undefined {
  const q = Number(quota.trim());
  const p = Number(period.trim());
  return q > 0 && p > 0 ? Math.max(1, Math.ceil(q / p)) : undefined;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The CPUs this process can use (at least 1). */
export function availableCores(): number {
  const cpus = availableParallelism();
  const v2 = read('/sys/fs/cgroup/cpu.max');
  const v1q = read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') ?? read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us');
  const v1p = read('/sys/fs/cgroup/cpu/cpu.cfs_period_us') ?? read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us');
  const quota = v2 !== undefined ? quotaFromCpuMax(v2) : v1q !== undefined && v1p !== undefined ? quotaFromCfs(v1q, v1p) : undefined;
  return Math.max(1, Math.min(cpus, quota ?? cpus));
}
