// Streaming load for bench:grpc, in its own process: one ModelStreamInfer stream keeping `inflight`
// requests outstanding for `seconds` (after a 1 s warm-up), each answer matched by id. Prints JSON:
// { rps, p50_us, p99_us, errors }. Usage: node grpc-stream-client.mjs <port> <request.bin> <inflight> <seconds>
import { readFileSync } from 'node:fs';
import { Client, credentials } from '@grpc/grpc-js';

const [port, file, inflight, seconds] = process.argv.slice(2);
const request = readFileSync(file);
const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
const identity = (b) => b;
const stream = client.makeBidiStreamRequest('/inference.GRPCInferenceService/ModelStreamInfer', identity, identity);

// ModelStreamInferResponse: field 1 error_message (string), field 2 infer_response (bytes). An error
// shows as a non-empty field 1; that is all this client needs to read.
const failed = (msg) => msg.length > 0 && msg[0] === 0x0a && msg[1] > 0;

const latencies = [];
let errors = 0;
let measuring = false;
const sent = [];
const warmEnd = Date.now() + 1000;
const end = warmEnd + Number(seconds) * 1000;
function send() {
  sent.push(performance.now());
  stream.write(request);
}
stream.on('data', (msg) => {
  const t0 = sent.shift();
  if (measuring) {
    if (failed(msg)) errors++;
    else latencies.push(performance.now() - t0);
  }
  if (Date.now() < end) send();
  else if (sent.length === 0) stream.end();
});
stream.on('error', (err) => {
  console.error(err.message);
  process.exit(1);
});
stream.on('end', () => {
  latencies.sort((a, b) => a - b);
  const q = (p) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 1000);
  console.log(JSON.stringify({ rps: latencies.length / Number(seconds), p50_us: q(0.5), p99_us: q(0.99), errors }));
  process.exit(0);
});
setTimeout(() => (measuring = true), warmEnd - Date.now());
for (let i = 0; i < Number(inflight); i++) send();
