// `tensorgate serve` as a real child process (through tsx, from src/), for signal and crash tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './engine.js';

export interface ChildServer {
  child: ChildProcess;
  /** Parsed pino lines so far (stdout), and raw stderr. */
  logs: Array<Record<string, unknown>>;
  stderr(): string;
  /** The bound port (from the 'listening' log line). */
  port: number;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** Resolves with the first log line whose msg matches. */
  waitLog(msg: RegExp, ms?: number): Promise<Record<string, unknown>>;
  kill(): void;
}

/**
 * Starts `node --import tsx src/cli/main.ts serve --http-port 0 --grpc-port 0 <args>` and resolves once it listens;
 * rejects with its output if it exits first.
 */
export async function spawnServe(args: string[], ms = 30_000): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', join('src', 'cli', 'main.ts'), 'serve', '--http-port', '0', '--grpc-port', '0', '--log-level', 'info', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  let pendingLine = '';
  const watchers: Array<() => void> = [];
  const notify = () => watchers.splice(0).forEach((w) => w());
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (text: string) => {
    const lines = (pendingLine + text).split('\n');
    pendingLine = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line, unparsed: true });
      }
    }
    notify();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    stderr += text;
  });
  let exitValue: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      exitValue = code ?? signal ?? -1;
      notify();
      resolve(exitValue);
    });
  });

  const waitLog = async (msg: RegExp, wait = 15_000): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + wait;
    for (;;) {
      const found = logs.find((l) => typeof l.msg === 'string' && msg.test(l.msg));
      if (found) return found;
      if (exitValue !== undefined) {
        throw new Error(`tensorgate exited (${exitValue}) before logging ${msg}:\nstdout: ${JSON.stringify(logs)}\nstderr: ${stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`no log line ${msg} within ${wait} ms:\nstdout: ${JSON.stringify(logs)}\nstderr: ${stderr}`);
      await Promise.race([new Promise<void>((r) => watchers.push(r)), new Promise((r) => setTimeout(r, 100))]);
    }
  };

  try {
    const listening = await waitLog(/^listening$/, ms);
    return {
      child,
      logs,
      stderr: () => stderr,
      port: Number(listening.port),
      exited,
      waitLog,
      kill: () => {
        if (exitValue === undefined) child.kill('SIGKILL');
      },
    };
  } catch (err) {
    if (exitValue === undefined) child.kill('SIGKILL');
    throw err;
  }
}
