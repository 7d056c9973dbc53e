// The uWS echo: uWebSockets.js that reads and parses the v2 JSON body and answers a fixed reply,
// with no model: what the HTTP layer alone does on this machine (not a ceiling for a server that
// batches). Usage: node uws-echo.mjs <port>
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const uws = require('@trufflesuite/uws-js-unofficial');
const port = Number(process.argv[2]);
const reply = JSON.stringify({ model_name: 'm', model_version: '1', outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 1], data: [0] }] });

uws
  .App()
  .post('/*', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    const chunks = [];
    res.onData((chunk, last) => {
      chunks.push(Buffer.from(chunk.slice(0)));
      if (!last) return;
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (!Array.isArray(body.inputs) || aborted) return;
      res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'application/json').end(reply));
    });
  })
  .listen('127.0.0.1', port, (socket) => {
    if (!socket) process.exit(1);
    console.log('ready');
  });
