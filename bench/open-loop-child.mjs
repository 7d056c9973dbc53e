// Open-loop load: Poisson arrivals at a fixed rate, whatever the answers do (a closed loop would slow
// down with the server and hide its queueing). Latency runs from each request's scheduled time, so a
// late send counts against the server too (no coordinated omission). Runs in its own process.
// Usage: node open-loop-child.mjs URL BODY_FILE RATE SECONDS SEED  -> one JSON line on stdout
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

const [url, bodyFile, rateText, secondsText, seedText] = process.argv.slice(2);
const rate = Number(rateText);
const seconds = Number(secondsText);
const body = readFileSync(bodyFile);
const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
const target = new URL(url);

let seed = Number(seedText) >>> 0;
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const latencies = [];
/** Answers that arrived within the load window: the throughput (later ones only drain a backlog). */
let inWindow = 0;
let errors = 0;
let outstanding = 0;
const now = () => performance.now();
const start = now() + 50;
const end = start + seconds * 1000;
let next = start;

function send(scheduled) {
  outstanding++;
  const req = request(
    { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-length': body.length } },
    (res) => {
      res.resume();
      res.on('end', () => {
        outstanding--;
        const t = now();
        if (res.statusCode === 200) {
          latencies.push(t - scheduled);
          if (t <= end) inWindow++;
        } else errors++;
      });
    },
  );
  req.on('error', () => {
    outstanding--;
    errors++;
  });
  req.end(body);
}

function pump() {
  const t = now();
  while (next <= t && next < end) {
    send(next);
    next += (-Math.log(1 - random()) / rate) * 1000;
  }
  if (next < end) setTimeout(pump, Math.max(0, Math.min(5, next - now() - 0.5)));
  else finish();
}

function finish() {
  const wait = () => {
    if (outstanding > 0 && now() < end + 30_000) return setTimeout(wait, 5);
    latencies.sort((a, b) => a - b);
    const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    process.stdout.write(
      `${JSON.stringify({ offeredRps: rate, achievedRps: inWindow / seconds, ok: latencies.length, errors, unanswered: outstanding, p50Ms: q(0.5), p90Ms: q(0.9), p99Ms: q(0.99), maxMs: latencies[latencies.length - 1] ?? NaN })}\n`,
    );
    process.exit(0);
  };
  wait();
}

setTimeout(pump, 50);
