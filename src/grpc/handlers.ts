// The control-plane RPCs: decoded request -> ServerControl call -> response message, nothing else
// (the gRPC twin of src/server/v2-handlers.ts). Handlers return a response or throw; the front turns
// a throw into the status of src/protocol/errors.ts. An empty version field means "unspecified".
import type { Metadata } from '@grpc/grpc-js';
import type { ServerControl } from '../inference/index.js';
import { ProtocolError } from '../protocol/errors.js';
import { metadataText } from './call.js';
import { modelConfigToProto, repositoryParameters } from './messages.js';
import type * as M from './message-types.js';
import { INFERENCE_SERVICE_NAME, type ControlMethodName, type RequestOf, type ResponseOf } from './service-definition.js';

export type ControlHandler<K extends ControlMethodName> = (request: RequestOf<K>, metadata: Metadata) => ResponseOf<K> | Promise<ResponseOf<K>>;
export type ControlHandlers = { readonly [K in ControlMethodName]: ControlHandler<K> };

/** What still answers while the server drains: liveness, readiness and health, as over HTTP. */
export const ANSWERS_WHILE_DRAINING: ReadonlySet<ControlMethodName> = new Set<ControlMethodName>(['ServerLive', 'ServerReady', 'ModelReady', 'Check']);

const versionOf = (version: string): string | undefined => (version === '' ? undefined : version);

export function controlHandlers(control: ServerControl): ControlHandlers {
  const authorize = (metadata: Metadata): void => control.authorize(metadataText(metadata, 'authorization'));
  return {
    ServerLive: () => ({ live: control.live() }),
    ServerReady: () => ({ ready: control.ready() }),
    ModelReady: (r) => ({ ready: control.modelReady(r.name, versionOf(r.version)) }),
    ServerMetadata: () => control.serverMetadata(),
    ModelMetadata: (r) => control.modelMetadata(r.name, versionOf(r.version)),
    ModelConfig: (r) => ({ config: modelConfigToProto(control.modelConfig(r.name, versionOf(r.version))) }),
    // An empty name: every served version of every model, as Triton.
    ModelStatistics: (r) =>
      r.name === '' ? control.statistics(undefined, undefined) : control.statistics(r.name, versionOf(r.version)),
    RepositoryIndex: (r, metadata) => {
      authorize(metadata);
      return { models: control.repositoryIndex(r.ready) };
    },
    RepositoryModelLoad: async (r, metadata) => {
      authorize(metadata);
      await control.load(r.model_name, loadConfig(r.parameters));
      return {};
    },
    RepositoryModelUnload: async (r, metadata) => {
      authorize(metadata);
      await control.unload(r.model_name);
      return {};
    },
    Check: (r) => {
      if (r.service !== '' && r.service !== INFERENCE_SERVICE_NAME) {
        throw new ProtocolError('NOT_FOUND', `unknown service '${r.service}'`);
      }
      return { status: control.ready() ? 'SERVING' : 'NOT_SERVING' };
    },
  };
}

/**
 * Triton's load parameters: `config` (a JSON string) replaces the model's config file; `file:<path>`
 * parameters (model files sent in the request) are refused; others are ignored, as over HTTP.
 */
function loadConfig(parameters: Readonly<Record<string, M.ModelRepositoryParameter>>): string | undefined {
  const values = repositoryParameters(parameters);
  for (const key of Object.keys(values)) {
    if (key.startsWith('file:')) throw new ProtocolError('INVALID_ARGUMENT', `parameter '${key}': model files in a load request are not supported`);
  }
  const config = values.config;
  if (config !== undefined && typeof config !== 'string') throw new ProtocolError('INVALID_ARGUMENT', "parameter 'config' must be a JSON string");
  return config;
}
