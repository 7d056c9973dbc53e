export * from './engine/index.js';
export type { JsCallOptions, JsInitializeArgs, JsModel, JsRequest, JsResponse, JsTensor } from './pipelines/js/api.js';
