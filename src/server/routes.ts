// The v2 REST routes (KServe Open Inference Protocol plus Triton's extensions), matched on path
// segments. The `route` string is the template used as the metrics label.
export type RouteName =
  | 'health_live'
  | 'health_ready'
  | 'server_metadata'
  | 'model_metadata'
  | 'model_ready'
  | 'model_infer'
  | 'model_config'
  | 'model_stats'
  | 'repository_index'
  | 'repository_load'
  | 'repository_unload'
  | 'trace_setting'
  | 'model_monitoring'
  | 'status_page'
  | 'status'
  | 'route_status'
  | 'route_control'
  | 'route_feedback'
  | 'metrics';

export interface RouteMatch {
  name: RouteName;
  /** Template for logs and metrics, e.g. /v2/models/{m}/infer. */
  route: string;
  /** 'GET, POST': either (the trace extension's settings). */
  method: 'GET' | 'POST' | 'GET, POST';
  model?: string;
  version?: string;
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * The route for a path, or null (404). A known path with the wrong method gives `method` to check;
 * `method` picks between routes that share a path (GET and POST .../routing).
 */
export function matchRoute(path: string, method = 'GET'): RouteMatch | null {
  const parts = path.split('/');
  if (parts[0] !== '' || parts[parts.length - 1] === '') {
    if (parts.length > 2 && parts[parts.length - 1] === '') parts.pop(); // tolerate one trailing slash
  }
  const p = parts.slice(1);
  if (p.length === 1 && p[0] === 'metrics') return { name: 'metrics', route: '/metrics', method: 'GET' };
  if (p.length === 1 && p[0] === '') return { name: 'status_page', route: '/', method: 'GET' };
  if (p.length === 1 && p[0] === 'status') return { name: 'status', route: '/status', method: 'GET' };
  if (p[0] !== 'v2') return null;
  if (p.length === 1) return { name: 'server_metadata', route: '/v2', method: 'GET' };
  if (p[1] === 'health' && p.length === 3) {
    if (p[2] === 'live') return { name: 'health_live', route: '/v2/health/live', method: 'GET' };
    if (p[2] === 'ready') return { name: 'health_ready', route: '/v2/health/ready', method: 'GET' };
    return null;
  }
  if (p[1] === 'trace' && p.length === 3 && p[2] === 'setting') return { name: 'trace_setting', route: '/v2/trace/setting', method: 'GET, POST' };
  if (p[1] === 'repository') {
    if (p.length === 3 && p[2] === 'index') return { name: 'repository_index', route: '/v2/repository/index', method: 'POST' };
    if (p.length === 5 && p[2] === 'models') {
      const model = decode(p[3]!);
      if (model === undefined) return null;
      if (p[4] === 'load') return { name: 'repository_load', route: '/v2/repository/models/{m}/load', method: 'POST', model };
      if (p[4] === 'unload') return { name: 'repository_unload', route: '/v2/repository/models/{m}/unload', method: 'POST', model };
    }
    return null;
  }
  if (p[1] !== 'models') return null;
  if (p.length === 3 && p[2] === 'stats') return { name: 'model_stats', route: '/v2/models/stats', method: 'GET' };
  if (p.length < 3) return null;
  const model = decode(p[2]!);
  if (model === undefined || model === '') return null;
  let rest = p.slice(3);
  let version: string | undefined;
  let base = '/v2/models/{m}';
  if (rest[0] === 'versions') {
    if (rest.length < 2) return null;
    version = decode(rest[1]!);
    if (version === undefined) return null;
    rest = rest.slice(2);
    base += '/versions/{v}';
  }
  const at = { model, ...(version !== undefined ? { version } : {}) };
  if (rest.length === 0) return { name: 'model_metadata', route: base, method: 'GET', ...at };
  if (rest.length === 2 && rest[0] === 'trace' && rest[1] === 'setting' && version === undefined) {
    return { name: 'trace_setting', route: '/v2/models/{m}/trace/setting', method: 'GET, POST', model };
  }
  if (rest.length !== 1) return null;
  switch (rest[0]) {
    case 'infer':
      return { name: 'model_infer', route: `${base}/infer`, method: 'POST', ...at };
    case 'ready':
      return { name: 'model_ready', route: `${base}/ready`, method: 'GET', ...at };
    case 'config':
      return { name: 'model_config', route: `${base}/config`, method: 'GET', ...at };
    case 'stats':
      return { name: 'model_stats', route: `${base}/stats`, method: 'GET', ...at };
    case 'monitoring':
      return { name: 'model_monitoring', route: `${base}/monitoring`, method: 'GET', ...at };
    case 'routing':
      if (version !== undefined) return null; // a route's state is not per version
      return method === 'POST'
        ? { name: 'route_control', route: '/v2/models/{m}/routing', method: 'POST', model }
        : { name: 'route_status', route: '/v2/models/{m}/routing', method: 'GET', model };
    case 'feedback':
      if (version !== undefined) return null;
      return { name: 'route_feedback', route: '/v2/models/{m}/feedback', method: 'POST', model };
    default:
      return null;
  }
}
