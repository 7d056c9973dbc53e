// NVIDIA GPUs as the kernel driver reports them, read from /proc and /dev without loading any CUDA
// library, so the answer costs nothing on machines without a GPU. `root` lets tests use a fake tree.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Gpu {
  /** PCI bus id as the driver lists it (e.g. 0000:3b:00.0). */
  bus: string;
  model: string;
}

export interface GpuReport {
  gpus: Gpu[];
  /** The driver's version line (e.g. "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06 ..."). */
  driver?: string;
  /** Why no GPU can be used, when `gpus` is empty. */
  reason?: string;
}

export function detectNvidiaGpus(root = '/'): GpuReport {
  const proc = join(root, 'proc/driver/nvidia');
  const versionFile = join(proc, 'version');
  const driver = existsSync(versionFile) ? readFileSync(versionFile, 'utf8').split('\n')[0]?.trim() : undefined;
  const gpusDir = join(proc, 'gpus');
  const gpus: Gpu[] = [];
  if (existsSync(gpusDir)) {
    for (const bus of readdirSync(gpusDir).sort()) {
      const info = join(gpusDir, bus, 'information');
      const text = existsSync(info) ? readFileSync(info, 'utf8') : '';
      const model = /^Model:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? 'NVIDIA GPU';
      gpus.push({ bus, model });
    }
  }
  // Containers often get /dev/nvidia* without /proc/driver/nvidia/gpus: count the device nodes then.
  if (gpus.length === 0 && existsSync(join(root, 'dev/nvidiactl'))) {
    const devs = existsSync(join(root, 'dev')) ? readdirSync(join(root, 'dev')).filter((d) => /^nvidia\d+$/.test(d)) : [];
    for (const d of devs.sort()) gpus.push({ bus: `/dev/${d}`, model: 'NVIDIA GPU' });
  }
  if (gpus.length > 0) return { gpus, ...(driver ? { driver } : {}) };
  const reason = driver
    ? 'the NVIDIA driver is loaded but lists no GPU'
    : 'no NVIDIA GPU: no driver in /proc/driver/nvidia and no /dev/nvidiactl';
  return { gpus, reason, ...(driver ? { driver } : {}) };
}
