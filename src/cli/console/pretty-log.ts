// pino's JSON lines turned into lines a person reads on a terminal: time, level, message, then the
// other fields as key=value. Used by `tensorgate serve` when stdout is a TTY (or --log-format pretty);
// JSON stays the format for files, pipes and log collectors.
import type { Writable } from 'node:stream';

const LEVELS: Record<number, { name: string; color: number }> = {
  10: { name: 'TRACE', color: 90 },
  20: { name: 'DEBUG', color: 36 },
  30: { name: 'INFO', color: 32 },
  40: { name: 'WARN', color: 33 },
  50: { name: 'ERROR', color: 31 },
  60: { name: 'FATAL', color: 35 },
};
/** pino's own bookkeeping fields, not shown. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s="]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

export interface LogRecord {
  level: number;
  time: number;
  msg?: string;
  [key: string]: unknown;
}

export function formatRecord(r: LogRecord, color: boolean): string {
  const t = new Date(r.time);
  const time = `${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}:${String(t.getSeconds()).padStart(2, '0')}`;
  const lv = LEVELS[r.level] ?? { name: String(r.level), color: 0 };
  const level = color ? `\u001b[${lv.color}m${lv.name.padEnd(5)}\u001b[0m` : lv.name.padEnd(5);
  const fields = Object.entries(r)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
  const dim = (s: string) => (color && s ? `\u001b[2m${s}\u001b[0m` : s);
  return `${dim(time)} ${level} ${r.msg ?? ''}${fields ? ` ${dim(fields)}` : ''}\n`;
}

/** A pino destination that writes pretty lines to `out`, and hands each record to `observe`. */
export function prettyDestination(out: Writable & { isTTY?: boolean }, observe?: (r: LogRecord) => void): { write(line: string): void } {
  const color = out.isTTY === true && !process.env.NO_COLOR;
  return {
    write(line: string) {
      let record: LogRecord;
      try {
        record = JSON.parse(line) as LogRecord;
      } catch {
        out.write(line);
        return;
      }
      observe?.(record);
      out.write(formatRecord(record, color));
    },
  };
}
