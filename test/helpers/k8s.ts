// Offline checks for deploy/k8s: render with `kubectl kustomize`, validate every object against the
// Kubernetes and KEDA schemas (kubernetes-models, @kubernetes-models/keda), catch fields the schemas do
// not know (their TypeScript types, through the compiler's excess-property check: the ajv validators
// accept unknown keys), pull the metric names out of PromQL, and check PromQL with promtool.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments, stringify as toYaml } from 'yaml';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Service } from 'kubernetes-models/v1/Service';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { ROOT } from './engine.js';

export const DEPLOY = join(ROOT, 'deploy', 'k8s');
/**
 * kubectl with Kustomize 5 (kubectl ≥ 1.27): components and `labels` need it. Debian's old
 * kubernetes-client (1.20, Kustomize 2) would fail to render, not validate: treated as absent.
 */
export const HAVE_KUBECTL = ((): boolean => {
  const r = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (r.status !== 0) return false;
  try {
    const v = JSON.parse(r.stdout) as { kustomizeVersion?: string };
    return Number(/^v(\d+)/.exec(v.kustomizeVersion ?? '')?.[1] ?? 0) >= 5;
  } catch {
    return false;
  }
})();
export const HAVE_PROMTOOL = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

/** A rendered Kubernetes object (what the YAML says; the checks below give it a schema). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

export function render(dir: string): K8sObject[] {
  const r = spawnSync('kubectl', ['kustomize', join(DEPLOY, dir)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject);
}

/** Schema per apiVersion/kind: the model class that validates it and the TypeScript type that names its fields. */
const SCHEMAS: Record<string, { validate: (o: K8sObject) => void; module: string; type: string }> = {
  'apps/v1/Deployment': { validate: (o) => new Deployment(o as never).validate(), module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'v1/Service': { validate: (o) => new Service(o as never).validate(), module: 'kubernetes-models/v1/Service', type: 'IService' },
  'v1/ConfigMap': { validate: (o) => new ConfigMap(o as never).validate(), module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'v1/PersistentVolumeClaim': {
    validate: (o) => new PersistentVolumeClaim(o as never).validate(),
    module: 'kubernetes-models/v1/PersistentVolumeClaim',
    type: 'IPersistentVolumeClaim',
  },
  'policy/v1/PodDisruptionBudget': {
    validate: (o) => new PodDisruptionBudget(o as never).validate(),
    module: 'kubernetes-models/policy/v1/PodDisruptionBudget',
    type: 'IPodDisruptionBudget',
  },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    validate: (o) => new HorizontalPodAutoscaler(o as never).validate(),
    module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    type: 'IHorizontalPodAutoscaler',
  },
  'keda.sh/v1alpha1/ScaledObject': {
    validate: (o) => new ScaledObject(o as never).validate(),
    module: '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject',
    type: 'IScaledObject',
  },
};

export const schemaKey = (o: K8sObject): string => `${o.apiVersion}/${o.kind}`;
export const hasSchema = (o: K8sObject): boolean => schemaKey(o) in SCHEMAS;

/** Throws the validator's message, prefixed with the object's kind and name. */
export function validateObject(o: K8sObject): void {
  const schema = SCHEMAS[schemaKey(o)];
  if (!schema) throw new Error(`${schemaKey(o)} ${o.metadata.name}: no schema to validate against`);
  try {
    schema.validate(o);
  } catch (err) {
    throw new Error(`${o.kind} ${o.metadata.name}: ${(err as Error).message}`);
  }
}

/**
 * Type-checks every object as an object literal of its kubernetes-models type, in memory: an unknown
 * or misspelt field is a compile error. Returns the diagnostics, one line each.
 */
export function unknownFields(objects: K8sObject[]): string[] {
  const file = join(ROOT, 'test', '__k8s_objects__.ts');
  const imports = new Map<string, string>();
  const decls = objects.map((o, i) => {
    const schema = SCHEMAS[schemaKey(o)]!;
    imports.set(schema.module, schema.type);
    return `// ${o.kind} ${o.metadata.name}\nexport const o${i}: ${schema.type} = ${JSON.stringify(o, null, 1)};`;
  });
  const text = [...[...imports].map(([m, t]) => `import type { ${t} } from '${m}';`), ...decls].join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, text, lang) : getSourceFile(name, lang, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const lines = text.split('\n');
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return message;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    let owner = line;
    while (owner > 0 && !lines[owner]!.startsWith('// ')) owner--;
    return `${lines[owner]!.slice(3)}: ${message}`;
  });
}

// ---------------------------------------------------------------------------------------------
// PromQL

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2']);

/**
 * The metric names a PromQL expression reads: plain selectors, and the regexes of `__name__=~"…"`
 * matchers. Functions and aggregations (an identifier before "("), keywords, label names, strings,
 * durations and numbers are not metric names.
 */
export function metricNames(promql: string): { names: string[]; nameRegexes: string[] } {
  const nameRegexes: string[] = [];
  let s = promql.replace(/\{([^}]*)\}/g, (_, inner: string) => {
    const m = /__name__\s*=~?\s*"([^"]*)"/.exec(inner);
    if (m) nameRegexes.push(m[1]!);
    return ' ';
  });
  s = s
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/(?<![\w:])\d+(\.\d+)?(e[+-]?\d+)?(?![\w:])/gi, ' ');
  const names = new Set<string>();
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (KEYWORDS.has(m[0])) continue;
    if (s.slice(m.index + m[0].length).trimStart().startsWith('(')) continue;
    names.add(m[0]);
  }
  return { names: [...names], nameRegexes };
}

/** prometheus-adapter's Go templates filled in as the adapter would for a query over some pods. */
export function fillAdapterTemplate(metricsQuery: string, series: string): string {
  return metricsQuery
    .replaceAll('<<.Series>>', series)
    .replaceAll('<<.LabelMatchers>>', 'namespace="default",pod=~"tensorgate-a|tensorgate-b"')
    .replaceAll('<<.GroupBy>>', 'pod');
}

/** `promtool check rules` on a rules file: the output, and whether it passed. */
export function promtoolCheckRules(rulesFile: object): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tg-rules-'));
  try {
    const path = join(dir, 'rules.yml');
    writeFileSync(path, toYaml(rulesFile));
    const r = spawnSync('promtool', ['check', 'rules', path], { encoding: 'utf8' });
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
