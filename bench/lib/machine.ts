// What a benchmark result must say about where it ran: commit, CPU, cores, Node and ONNX Runtime
// versions, and the CPU steal observed while it ran (this machine kind is shared: steal says how
// much the figures can be trusted).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

export interface MachineRecord {
  commit: string;
  dirty: boolean;
  cpu: string;
  cores: number;
  node: string;
  ort: string;
  platform: string;
  date: string;
  /** Share of CPU time stolen by the hypervisor over the run (0..1), from /proc/stat. */
  steal: number;
}

function git(root: string, args: string[]): string {
  try {
    return execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** [steal, total] jiffies of all CPUs, or undefined off Linux. */
function stealSample(): [number, number] | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    return [v[7] ?? 0, v.slice(0, 8).reduce((a, b) => a + b, 0)];
  } catch {
    return undefined;
  }
}

/** Starts measuring steal now; record() gives the machine record with the steal since then. */
export function machineRecorder(root: string): { record(): MachineRecord } {
  const start = stealSample();
  return {
    record(): MachineRecord {
      const end = stealSample();
      const steal = start && end && end[1] > start[1] ? (end[0] - start[0]) / (end[1] - start[1]) : 0;
      let ort = 'unknown';
      try {
        ort = (JSON.parse(readFileSync(join(root, 'node_modules/onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
      } catch {
        // not installed
      }
      return {
        commit: git(root, ['rev-parse', '--short', 'HEAD']),
        dirty: git(root, ['status', '--porcelain']) !== '',
        cpu: cpuModel(),
        cores: availableParallelism(),
        node: process.version,
        ort,
        platform: `${process.platform}-${process.arch}`,
        date: new Date().toISOString(),
        steal: Math.round(steal * 1000) / 1000,
      };
    },
  };
}
