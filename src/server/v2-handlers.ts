// The v2 endpoints: decode with src/protocol, route with src/routing, answer. Handlers return an
// OutgoingResponse or throw; server.ts turns throws into `{"error": ...}` with the right status.
import { decodeInferRequest, parseInferenceHeaderLength } from '../protocol/infer-request.js';
import { encodeInferResponse } from '../protocol/infer-response.js';
import { ProtocolError } from '../protocol/errors.js';
import { modelMetadata, modelStatistics, repositoryIndex, serverMetadata } from '../protocol/metadata.js';
import { parseModelConfig } from '../repository/config-file.js';
import { RepositoryError } from '../repository/errors.js';
import type { AbortSignalLike } from '../engine/index.js';
import type { ModelRepository, ServedInstance } from '../repository/repository.js';
import type { InferenceRouter } from '../routing/inference-router.js';
import type { RouteMatch } from './routes.js';
import type { IncomingRequest, OutgoingResponse } from './transport.js';

export const SERVER_NAME = 'tensorgate';
export const EXTENSIONS = [
  'binary_tensor_data',
  'schedule_policy',
  'model_configuration',
  'model_repository',
  'model_repository(unload_dependents)',
  'statistics',
];

const JSON_HEADERS = { 'content-type': 'application/json' };

export function json(status: number, value: unknown): OutgoingResponse {
  return { status, headers: JSON_HEADERS, body: JSON.stringify(value) };
}

export interface HandlerContext {
  repository: ModelRepository;
  router: InferenceRouter;
  version: string;
  /** False while shutting down. */
  ready: () => boolean;
}

function parseBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('expected a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new ProtocolError(400, `malformed JSON: ${(err as Error).message}`);
  }
}

/** The instances a metadata/config/ready request is about (404 when none). */
function servedOrThrow(ctx: HandlerContext, m: RouteMatch): ServedInstance[] {
  const served = ctx.repository.served(m.model!, m.version);
  if (served.length === 0) {
    if (!ctx.repository.exists(m.model!)) throw new RepositoryError('NOT_FOUND', `unknown model '${m.model}'`);
    if (m.version !== undefined) throw new RepositoryError('NOT_FOUND', `model '${m.model}' has no served version ${m.version}`);
    throw new RepositoryError('UNAVAILABLE', `model '${m.model}' is not loaded`);
  }
  return served;
}

export async function handleInfer(ctx: HandlerContext, m: RouteMatch, req: IncomingRequest, signal: AbortSignalLike): Promise<OutgoingResponse> {
  const resolved = ctx.router.resolve(m.model!, m.version);
  const target = resolved instanceof Promise ? await resolved : resolved;
  try {
    const headerText = req.headers['inference-header-content-length'];
    // A repeated request to a caching model is answered from the reply tier before any decoding.
    const cached = ctx.router.cachedReply(target, headerText, req.body);
    if (cached.reply) return { status: 200, headers: cached.reply.headers, body: cached.reply.body };
    const headerLength = parseInferenceHeaderLength(headerText);
    const decoded = decodeInferRequest(req.body, headerLength, target.model.metadata);
    // Fixed-shape option objects: conditional spreads would make these call sites megamorphic.
    const outputs = await ctx.router.infer(target, {
      inputs: decoded.inputs,
      outputs: decoded.outputs ? decoded.outputs.map((o) => o.name) : undefined,
      priority: decoded.priority,
      timeoutUs: decoded.timeoutUs,
      signal,
    });
    const encoded = encodeInferResponse({
      modelName: target.name,
      modelVersion: target.versionLabel,
      id: decoded.id,
      outputs,
      requested: decoded.outputs,
      binaryDataOutput: decoded.binaryDataOutput,
      order: target.outputOrder,
    });
    if (cached.key) ctx.router.rememberReply(target, cached.key, { headers: encoded.headers, body: encoded.body });
    return { status: 200, headers: encoded.headers, body: encoded.body };
  } finally {
    ctx.router.release(target);
  }
}

export function handleModelMetadata(ctx: HandlerContext, m: RouteMatch): OutgoingResponse {
  const served = servedOrThrow(ctx, m);
  const head = served[0]!;
  const versions = served.map((s) => s.versionLabel);
  return json(200, modelMetadata(m.model!, versions, head.model.metadata.inputs, head.model.metadata.outputs));
}

export function handleModelReady(ctx: HandlerContext, m: RouteMatch): OutgoingResponse {
  if (!ctx.repository.exists(m.model!)) throw new RepositoryError('NOT_FOUND', `unknown model '${m.model}'`);
  const ready = ctx.ready() && ctx.repository.served(m.model!, m.version).length > 0;
  return json(ready ? 200 : 503, { name: m.model, ...(m.version !== undefined ? { version: m.version } : {}), ready });
}

export function handleModelConfig(ctx: HandlerContext, m: RouteMatch): OutgoingResponse {
  return json(200, servedOrThrow(ctx, m)[0]!.config);
}

export function handleStats(ctx: HandlerContext, m: RouteMatch): OutgoingResponse {
  const instances = m.model === undefined ? ctx.repository.allServed() : servedOrThrow(ctx, m);
  return json(
    200,
    modelStatistics(
      instances.map((i) => {
        const cache = ctx.router.cacheStats(i);
        return { name: i.name, version: i.versionLabel, stats: i.model.stats(), ...(cache ? { cache } : {}) };
      }),
    ),
  );
}

export function handleServerMetadata(ctx: HandlerContext): OutgoingResponse {
  return json(200, serverMetadata(ctx.version, EXTENSIONS));
}

export function handleIndex(ctx: HandlerContext, req: IncomingRequest): OutgoingResponse {
  const body = parseBody(req.body);
  const ready = body.ready === true;
  return json(200, repositoryIndex(ctx.repository.index({ ready })));
}

export async function handleLoad(ctx: HandlerContext, m: RouteMatch, req: IncomingRequest): Promise<OutgoingResponse> {
  const body = parseBody(req.body);
  const parameters = (body.parameters ?? {}) as Record<string, unknown>;
  let override;
  if (parameters.config !== undefined) {
    if (typeof parameters.config !== 'string') throw new ProtocolError(400, "parameter 'config' must be a JSON string");
    let raw: unknown;
    try {
      raw = JSON.parse(parameters.config);
    } catch (err) {
      throw new ProtocolError(400, `parameter 'config' is not valid JSON: ${(err as Error).message}`);
    }
    override = parseModelConfig(raw, 'load request config', m.model!);
  }
  await ctx.repository.load(m.model!, override);
  return json(200, {});
}

export async function handleUnload(ctx: HandlerContext, m: RouteMatch, req: IncomingRequest): Promise<OutgoingResponse> {
  parseBody(req.body);
  await ctx.repository.unload(m.model!);
  return json(200, {});
}
