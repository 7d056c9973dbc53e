// Resource metrics with Triton's names: the machine's CPU utilization and memory (Linux /proc, as
// Triton reads them), and per GPU its utilization, memory and power through NVML (read by the native
// addon, which loads libnvidia-ml at run time: without a driver there are no GPU series at all).
// Read at scrape time; CPU utilization is over the time since the previous reading (at least 1 s).
import { readFileSync } from 'node:fs';
import type { NativeGpuReadings } from '../engine/binding.js';
import { ScrapeFamily, type Sample } from './family.js';

/** Reads the GPUs (undefined: this addon cannot). */
export type GpuReader = () => NativeGpuReadings | undefined;

interface CpuTimes {
  busy: number;
  total: number;
}

/** Aggregate CPU times from /proc/stat's first line (jiffies), or undefined off Linux. */
export function readCpuTimes(text?: string): CpuTimes | undefined {
  let stat = text;
  if (stat === undefined) {
    try {
      stat = readFileSync('/proc/stat', 'utf8');
    } catch {
      return undefined;
    }
  }
  const line = stat.split('\n', 1)[0]!;
  if (!line.startsWith('cpu ')) return undefined;
  // user nice system idle iowait irq softirq steal (guest time is already in user/nice)
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** MemTotal and MemTotal − MemAvailable from /proc/meminfo, in bytes. */
export function readMemory(text?: string): { total: number; used: number } | undefined {
  let info = text;
  if (info === undefined) {
    try {
      info = readFileSync('/proc/meminfo', 'utf8');
    } catch {
      return undefined;
    }
  }
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(info!);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb('MemTotal');
  const available = kb('MemAvailable');
  if (total === undefined || available === undefined) return undefined;
  return { total, used: total - available };
}

export class ResourceMetrics {
  readonly families: ScrapeFamily[];
  #last: { at: number; times: CpuTimes } | undefined;
  #utilization: number | undefined;
  #gpus: NativeGpuReadings | undefined;
  #gpuReadAt = -Infinity;

  constructor(gpu: GpuReader | undefined) {
    const gpus = (): NativeGpuReadings['devices'] => {
      if (gpu === undefined) return [];
      // One NVML read per scrape: every GPU family reads the same snapshot.
      const now = performance.now();
      if (now - this.#gpuReadAt > 100) {
        this.#gpus = gpu();
        this.#gpuReadAt = now;
      }
      return this.#gpus?.available ? this.#gpus.devices : [];
    };
    const perGpu = (name: string, help: string, value: (d: NativeGpuReadings['devices'][number]) => number) =>
      new ScrapeFamily(name, help, 'gauge', (out: Sample[]) => {
        for (const d of gpus()) {
          const v = value(d);
          if (v >= 0) out.push({ labels: { gpu_uuid: d.uuid }, value: v });
        }
      });
    this.families = [
      new ScrapeFamily('nv_cpu_utilization', 'CPU utilization rate [0.0 - 1.0] of the machine, all cores, since the previous reading', 'gauge', (out) => {
        const u = this.cpuUtilization();
        if (u !== undefined) out.push({ labels: {}, value: u });
      }),
      new ScrapeFamily('nv_cpu_memory_total_bytes', 'CPU total memory (RAM) of the machine, in bytes', 'gauge', (out) => {
        const m = readMemory();
        if (m) out.push({ labels: {}, value: m.total });
      }),
      new ScrapeFamily('nv_cpu_memory_used_bytes', 'CPU used memory (RAM) of the machine (total − available), in bytes', 'gauge', (out) => {
        const m = readMemory();
        if (m) out.push({ labels: {}, value: m.used });
      }),
      perGpu('nv_gpu_utilization', 'GPU utilization rate [0.0 - 1.0] (NVML)', (d) => d.utilization),
      perGpu('nv_gpu_memory_total_bytes', 'GPU total memory, in bytes (NVML)', (d) => d.memoryTotalBytes),
      perGpu('nv_gpu_memory_used_bytes', 'GPU used memory, in bytes (NVML)', (d) => d.memoryUsedBytes),
      perGpu('nv_gpu_power_usage', 'GPU power usage in watts (NVML)', (d) => d.powerWatts),
      perGpu('nv_gpu_power_limit', 'Maximum GPU power limit in watts (NVML)', (d) => d.powerLimitWatts),
    ];
  }

  /** The machine's CPU utilization since the previous reading (kept for 1 s); undefined off Linux. */
  cpuUtilization(): number | undefined {
    const now = performance.now();
    if (this.#last !== undefined && now - this.#last.at < 1000 && this.#utilization !== undefined) return this.#utilization;
    const times = readCpuTimes();
    if (times === undefined) return undefined;
    const prev = this.#last?.times ?? { busy: 0, total: 0 }; // first reading: the average since boot
    const dt = times.total - prev.total;
    if (dt > 0) this.#utilization = Math.min(1, Math.max(0, (times.busy - prev.busy) / dt));
    this.#last = { at: now, times };
    return this.#utilization;
  }
}
