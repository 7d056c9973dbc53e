// The transport-agnostic inference service: request context, ordered stages, control plane.
export { RequestContext, nowNs, type FallbackExecutor, type FrontName, type RoutingDecision, type RoutingReason, type SampledTrace, type TraceContext, type TraceStep } from './context.js';
export { InferenceService, type InferenceServiceOptions } from './service.js';
export { DEFAULT_ADMISSION, type AdmissionOptions } from './admission.js';
export { ServerControl, EXTENSIONS, type ServerControlOptions } from './control.js';
export type { InferenceWire } from './wire.js';
export type { Stage } from './stage.js';
export { inferInProcess } from './inproc.js';
export type { InferenceObserver } from './stages/latency.js';
export type { Leases } from './stages/resolve.js';
