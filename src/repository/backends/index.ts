// The backends a repository can serve. Each registers itself with the platforms it claims.
import { registerBackend } from '../backend.js';
import { ENSEMBLE_BACKEND } from './ensemble.js';
import { JS_BACKEND } from './js.js';
import { ONNX_BACKEND } from './onnx.js';
import { ROUTE_BACKEND } from './route.js';
import { ROUTE_PLATFORM } from '../routing-schema.js';

registerBackend(ONNX_BACKEND, ['onnxruntime_onnx', 'onnx_onnxv1']);
registerBackend(JS_BACKEND);
registerBackend(ENSEMBLE_BACKEND, ['ensemble']);
registerBackend(ROUTE_BACKEND, [ROUTE_PLATFORM]);
