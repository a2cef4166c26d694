import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { needTool } from '../support/tools.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROM = join(ROOT, 'deploy/prometheus');
const skip = needTool('promtool', 'prometheus');

function promtool(args: string[], cwd: string): string {
  try {
    return execFileSync('promtool', args, { cwd, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    assert.fail(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

interface Panel {
  title?: string;
  targets?: Array<{ expr?: string }>;
  /** A row's panels (collapsed rows hold theirs here). */
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  annotations?: { list: Array<{ expr?: string }> };
  templating?: { list: Array<{ type: string; name: string; query?: string | { query?: string } }> };
}

/**
 * Every PromQL expression of a dashboard: panel targets (rows' panels too, at any depth),
 * annotations, and the series selector inside each query variable's label_values(...).
 */
function dashboardQueries(dash: Dashboard): string[] {
  const exprs: string[] = [];
  const walk = (panels: Panel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) exprs.push(t.expr);
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  for (const a of dash.annotations?.list ?? []) if (a.expr) exprs.push(a.expr);
  for (const v of dash.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const query = (typeof v.query === 'string' ? v.query : v.query?.query ?? '').trim();
    // label_values(selector, label) or label_values(label): the selector is PromQL.
    const m = /^label_values\((?:(.+),\s*)?([a-zA-Z_]\w*)\s*\)$/.exec(query);
    assert.ok(m, `variable ${v.name}: ${query} is not label_values([selector,] label)`);
    if (m[1]) exprs.push(m[1]);
  }
  return exprs;
}

/** deploy/prometheus and deploy/grafana checked with the real promtool. */
describe('shipped alerts and dashboard (promtool)', { skip }, () => {
  it('alerts.yml passes promtool check rules', () => {
    assert.match(promtool(['check', 'rules', 'alerts.yml'], PROM), /SUCCESS: 9 rules found/);
  });

  it('alerts.yml unit tests (cases that fire and cases that stay silent) pass', () => {
    assert.match(promtool(['test', 'rules', 'alerts.test.yml'], PROM), /SUCCESS/);
  });

  it('RedishappyRouteWrong is tested for both doors (door="write": the master, door="read": the read pool), each with its own wording', () => {
    const tests = readFileSync(join(PROM, 'alerts.test.yml'), 'utf8');
    for (const door of ['write', 'read']) assert.match(tests, new RegExp(`exp_labels: \\{ severity: critical, [^}]*door: ${door} \\}`), `a RedishappyRouteWrong case with door ${door}`);
    assert.match(tests, /summary: "Reads of c1 do not reach its read pool through haproxy \(a\)"/);
  });

  it('every rule has a severity, a for: where a blip is not an incident, and annotations saying what to do', () => {
    const text = readFileSync(join(PROM, 'alerts.yml'), 'utf8');
    const alerts = text.split(/^ {6}- alert: /m).slice(1);
    assert.equal(alerts.length, 9);
    for (const a of alerts) {
      const name = a.split('\n')[0]!;
      const severity = /^ {10}severity: (critical|warning|info)$/m.exec(a)?.[1];
      assert.ok(severity, `${name}: severity critical, warning or info`);
      // Every alert but the informational one waits before firing: a blip is not an incident.
      if (severity !== 'info') assert.match(a, /^ {8}for: \d+[smh]$/m, `${name} has no for:`);
      assert.match(a, /^ {10}summary: /m, name);
      assert.match(a, /^ {10}description: /m, name);
    }
  });

  it('the Grafana dashboard is valid JSON and every query (panels, rows, annotations, variables) parses as PromQL', () => {
    const dash = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/redishappy.json'), 'utf8')) as Dashboard;
    const exprs = dashboardQueries(dash);
    assert.ok(exprs.includes('redishappy_topology_version{job=~"$job"}'), 'the instance variable\'s selector is checked');
    assert.ok(exprs.length >= 10, `${exprs.length} queries`);
    // Grafana's variables are replaced the way Grafana would before the query reaches Prometheus.
    const promql = exprs.map((e) => e.replaceAll('$__rate_interval', '5m').replace(/\$(job|instance)\b/g, '.*'));
    const dir = mkdtempSync(join(tmpdir(), 'rh-dash-'));
    const rules = ['groups:', '  - name: dashboard', '    rules:', ...promql.map((e, i) => `      - record: dashboard_query_${i}\n        expr: ${JSON.stringify(e)}`)].join('\n');
    writeFileSync(join(dir, 'queries.yml'), rules + '\n');
    assert.match(promtool(['check', 'rules', 'queries.yml'], dir), new RegExp(`SUCCESS: ${promql.length} rules found`));
    // Each query uses only metrics redishappy exports.
    const known = readFileSync(join(ROOT, 'src/metrics/registry.ts'), 'utf8');
    for (const name of new Set(promql.flatMap((e) => e.match(/redishappy_[a-z_]+/g) ?? []))) {
      if (name.startsWith('redishappy_process_')) continue; // prom-client's default metrics
      assert.ok(known.includes(`'${name}'`), `dashboard uses ${name}, which redishappy does not export`);
    }
  });
});
