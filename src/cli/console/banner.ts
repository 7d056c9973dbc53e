// What `tensorgate serve` prints on a terminal once it is up: where to reach it and what it serves.
import type { RunningServer } from '../serve.js';

export interface BannerInput {
  version: string;
  host: string;
  startedMs: number;
  running: Pick<RunningServer, 'port' | 'grpcPort' | 'server' | 'repository'>;
  /** Why node:http serves when uWS was wanted (--http-engine auto), if it does. */
  uwsReason?: string;
  /** Which native addon serves (describeChoice). */
  addon?: string;
}

export function banner(b: BannerInput, color: boolean): string {
  const bold = (s: string) => (color ? `\u001b[1m${s}\u001b[0m` : s);
  const host = b.host === '0.0.0.0' || b.host === '::' ? 'localhost' : b.host.includes(':') ? `[${b.host}]` : b.host;
  const http = `http://${host}:${b.running.port}`;
  const transport = b.running.server.transportKind === 'uws' ? 'uWebSockets.js' : `node:http${b.uwsReason ? ` (${b.uwsReason})` : ''}`;
  const models = b.running.repository.index();
  const lines = [
    '',
    `${bold(`tensorgate ${b.version}`)} ready in ${(b.startedMs / 1000).toFixed(1)} s`,
    `  HTTP      ${http}   KServe v2 over ${transport}`,
    `  gRPC      ${b.running.grpcPort ? `${host}:${b.running.grpcPort}   Triton's GRPCInferenceService` : 'off (--grpc-port 0)'}`,
    `  Metrics   ${http}/metrics`,
    `  Status    ${http}/`,
    `  Models    ${models.length ? '' : 'none (the repository is empty, or --model-control-mode explicit without --load-model)'}`,
    ...models.map((m) => `    ${m.state === 'READY' ? '✓' : '·'} ${m.name}${m.version ? ` v${m.version}` : ''}  ${m.state}${m.reason ? `: ${m.reason}` : ''}`),
    ...(b.addon ? [`  Addon     ${b.addon}`] : []),
    `  Try       curl ${http}/v2/models${models[0] ? `/${models[0].name}` : ''}`,
    '  Stop      Ctrl-C (finishes the requests in flight first)',
    '',
  ];
  return `${lines.join('\n')}\n`;
}
