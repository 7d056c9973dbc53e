// The shipped alert rules and dashboard: promtool checks and unit-tests the rules (Debian's prometheus
// package; skipped with a message without it), every alert is shown firing by a test, the Grafana
// dashboard is what its generator writes, and every metric they name is documented.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { dashboardJson, ROWS } from '../scripts/grafana-dashboard.js';

const PROM = join(import.meta.dirname, '..', 'deploy', 'prometheus');
const RULES = join(PROM, 'tensorgate-rules.yml');
const TESTS = readdirSync(join(PROM, 'tests'))
  .filter((f) => f.endsWith('.test.yml'))
  .map((f) => join('tests', f));
const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasPromtool) console.warn('promtool is not installed: the rule checks are skipped (apt-get install -y prometheus)');

const promtool = (...args: string[]) => spawnSync('promtool', args, { cwd: PROM, encoding: 'utf8' });

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string; labels?: Record<string, string> }> }>;
}
const rules = parseYaml(readFileSync(RULES, 'utf8')) as RuleFile;
const alerts = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined));

describe.skipIf(!hasPromtool)('Prometheus rules (promtool)', () => {
  it('pass promtool check rules and check config', () => {
    const check = promtool('check', 'rules', 'tensorgate-rules.yml');
    expect(check.stdout + check.stderr).toContain(`SUCCESS: ${rules.groups.reduce((n, g) => n + g.rules.length, 0)} rules found`);
    expect(check.status).toBe(0);
    const config = promtool('check', 'config', 'prometheus.yml');
    expect(config.status, config.stdout + config.stderr).toBe(0);
  });

  it('pass their unit tests (promtool test rules)', () => {
    const run = promtool('test', 'rules', ...TESTS);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout.match(/SUCCESS/g)).toHaveLength(TESTS.length);
  });
});

describe('alert coverage', () => {
  it('every alert has a severity and a summary, and a unit test shows it firing', () => {
    const fired = new Set<string>();
    for (const file of TESTS) {
      const t = parseYaml(readFileSync(join(PROM, file), 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }> };
      for (const test of t.tests) for (const a of test.alert_rule_test ?? []) if (a.exp_alerts.length > 0) fired.add(a.alertname);
    }
    for (const a of alerts) {
      expect(['page', 'ticket', 'warning'], a.alert).toContain(a.labels?.severity);
      expect(fired.has(a.alert!), `no test shows ${a.alert} firing`).toBe(true);
    }
    // The burn-rate pairs of the SRE workbook, both SLOs.
    const names = alerts.map((a) => a.alert);
    for (const slo of ['Availability', 'Latency']) for (const speed of ['Fast', 'Slow']) expect(names).toContain(`Tensorgate${slo}BudgetBurn${speed}`);
    expect(alerts.find((a) => a.alert === 'TensorgateAvailabilityBudgetBurnFast')!.expr).toMatch(/ratio_rate1h > \(14\.4 \* 0\.001\) and .*ratio_rate5m > \(14\.4 \* 0\.001\)/);
  });
});

describe('Grafana dashboard', () => {
  const file = join(import.meta.dirname, '..', 'deploy', 'grafana', 'tensorgate.json');

  it('is what scripts/grafana-dashboard.ts writes (regenerate after editing the panel table)', () => {
    expect(readFileSync(file, 'utf8')).toBe(dashboardJson());
  });

  it('has unique panel ids, a datasource variable and a query per panel', () => {
    const d = JSON.parse(readFileSync(file, 'utf8')) as { panels: Array<{ id: number; type: string; targets?: Array<{ expr: string }> }>; templating: { list: Array<{ name: string }> } };
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(d.templating.list.map((v) => v.name)).toEqual(['datasource', 'model']);
    for (const p of d.panels.filter((p) => p.type !== 'row')) expect(p.targets!.length).toBeGreaterThan(0);
    const titles = ROWS.flatMap((r) => r.panels.map((p) => p.title));
    for (const wanted of ['Latency P50 / P99 / P999', 'Requests per second', 'Errors by reason', 'Mean batch size', 'Queue time per request', 'Cache hit ratio', 'Route splits', 'Route weights and canary', 'Drifted features']) {
      expect(titles).toContain(wanted);
    }
  });
});

describe('metric names', () => {
  it('every tensorgate_* and nv_* name the rules and the dashboard use is documented in src/metrics/README.md', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'src', 'metrics', 'README.md'), 'utf8');
    const used = new Set<string>();
    const text = readFileSync(RULES, 'utf8') + readFileSync(join(import.meta.dirname, '..', 'deploy', 'grafana', 'tensorgate.json'), 'utf8');
    for (const m of text.matchAll(/(?<![:\w])((?:tensorgate|nv)_[a-z0-9_]+)/g)) used.add(m[1]!.replace(/_(bucket|sum|count)$/, ''));
    const missing = [...used].filter((name) => !name.startsWith('tensorgate_route_') && !readme.includes(`\`${name}`));
    expect(missing).toEqual([]);
  });
});
