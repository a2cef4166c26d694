import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { canonicalShape } from '../../src/config/schema.js';

/**
 * Keeps the documentation honest: links resolve, every configuration key is in the reference,
 * every exported metric is in the monitoring page, every alert has a runbook section, the example
 * configurations pass --check-config, and no sentence is kept on two pages.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function walkFiles(dir: string, keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walkFiles(p, keep));
    else if (keep(p)) out.push(p);
  }
  return out;
}

/** The pages the checks cover: README, docs/, bench/README.md, src/** and examples/** READMEs. */
const PAGES = [
  join(ROOT, 'README.md'),
  ...walkFiles(join(ROOT, 'docs'), (p) => p.endsWith('.md')),
  join(ROOT, 'bench/README.md'),
  ...walkFiles(join(ROOT, 'src'), (p) => basename(p) === 'README.md'),
  ...walkFiles(join(ROOT, 'examples'), (p) => basename(p) === 'README.md'),
].sort();

const rel = (p: string) => relative(ROOT, p);

/** The text outside fenced code blocks (fences replaced by empty lines, so line numbers stay). */
function prose(text: string): string {
  let inFence = false;
  return text
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        inFence = !inFence;
        return '';
      }
      return inFence ? '' : line;
    })
    .join('\n');
}

/** GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to dashes. */
export function githubSlug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

const anchorCache = new Map<string, Set<string>>();
function anchorsOf(file: string): Set<string> {
  let set = anchorCache.get(file);
  if (set) return set;
  set = new Set();
  const seen = new Map<string, number>();
  for (const line of prose(readFileSync(file, 'utf8')).split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const slug = githubSlug(m[1]!);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    set.add(n === 0 ? slug : `${slug}-${n}`);
  }
  anchorCache.set(file, set);
  return set;
}

interface Link {
  page: string;
  line: number;
  target: string;
}

function linksOf(page: string): Link[] {
  const links: Link[] = [];
  prose(readFileSync(page, 'utf8'))
    .split('\n')
    .forEach((line, i) => {
      // Inline code may hold brackets; a link's text may hold inline code, so keep a stand-in.
      const text = line.replace(/`[^`]*`/g, 'code');
      for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) links.push({ page, line: i + 1, target: m[1]! });
    });
  return links;
}

/** Problems with one relative link, or none. */
export function checkLink(link: Link): string | undefined {
  const { page, target } = link;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto:
  const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = pathPart === '' ? page : resolve(dirname(page), decodeURIComponent(pathPart));
  const where = `${rel(page)}:${link.line} → ${target}`;
  if (!existsSync(file)) return `${where}: no such file`;
  if (anchor !== undefined && file.endsWith('.md') && statSync(file).isFile() && !anchorsOf(file).has(anchor)) {
    return `${where}: no heading with the anchor #${anchor} in ${rel(file)}`;
  }
  return undefined;
}

/** Every key name the configuration schema knows, with the path it was found at. */
function schemaKeys(schema: z.ZodType, path = ''): Array<{ key: string; path: string }> {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodArray) return schemaKeys(s.element as z.ZodType, `${path}[]`);
  if (s instanceof z.ZodRecord) return schemaKeys(s.valueType as z.ZodType, `${path}{}`);
  // A key taking a value or an object (Verify: false | { Host, Port, Tls }): the object's keys count too.
  if (s instanceof z.ZodUnion) return (s.options as z.ZodType[]).flatMap((o) => schemaKeys(o, path));
  if (!(s instanceof z.ZodObject)) return [];
  return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([key, child]) => {
    const p = path ? `${path}.${key}` : key;
    return [{ key, path: p }, ...schemaKeys(child, p)];
  });
}

/** The words inside a page's code spans and code blocks: where configuration keys are named. */
function codeWords(text: string): Set<string> {
  const code = [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!).join(' ');
  return new Set(code.split(/[^A-Za-z0-9_]+/).filter(Boolean));
}

/** Sentences of a page's prose (tables and lists included, code left out), white space folded. */
function sentences(text: string): string[] {
  return prose(text)
    .split(/\n\s*\n/)
    .flatMap((block) => block.replace(/\s+/g, ' ').split(/(?<=[.:;!?])\s+(?=[A-Z`*(])|\s*\|\s*/))
    .map((s) => s.trim())
    .filter((s) => s.length >= 90);
}

describe('documentation', () => {
  it('covers the pages it should', () => {
    for (const p of ['README.md', 'docs/configuration.md', 'docs/monitoring.md', 'bench/README.md', 'src/outputs/haproxy/README.md']) {
      assert.ok(PAGES.includes(join(ROOT, p)), p);
    }
  });

  it('every relative link resolves to a file, and every #anchor into a .md file to a heading', () => {
    const links = PAGES.flatMap(linksOf);
    assert.ok(links.length > 50, `${links.length} links found`);
    const problems = links.map(checkLink).filter((p): p is string => p !== undefined);
    assert.deepEqual(problems, []);
  });

  it('the anchor of a heading is the one GitHub makes', () => {
    assert.equal(githubSlug('Client-visible outage (`BENCH_ONLY=outage`, issue 22)'), 'client-visible-outage-bench_onlyoutage-issue-22');
    assert.equal(githubSlug('HAProxy ([`src/outputs/haproxy/`](../src/outputs/haproxy), [README](x.md))'), 'haproxy-srcoutputshaproxy-readme');
  });

  it('every configuration key (base schema and each output kind) is in docs/configuration.md', () => {
    const words = codeWords(readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8'));
    const keys = schemaKeys(canonicalShape);
    assert.ok(keys.length > 60, `${keys.length} keys found`);
    const missing = keys.filter((k) => !words.has(k.key)).map((k) => k.path);
    assert.deepEqual(missing, [], 'keys the configuration reference does not name');
  });

  it('every metric the daemon exports is in docs/monitoring.md', () => {
    const registry = readFileSync(join(ROOT, 'src/metrics/registry.ts'), 'utf8');
    const names = [...registry.matchAll(/name: '(redishappy_[a-z_]+)'|perCluster\('(redishappy_[a-z_]+)'/g)].map((m) => (m[1] ?? m[2])!);
    assert.ok(names.length >= 15, `${names.length} metrics found`);
    const words = codeWords(readFileSync(join(ROOT, 'docs/monitoring.md'), 'utf8'));
    assert.deepEqual(names.filter((n) => !words.has(n)), [], 'metrics docs/monitoring.md does not name');
  });

  it('every alert rule has a runbook_url pointing at its own section of docs/monitoring.md', () => {
    const text = readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8');
    const anchors = anchorsOf(join(ROOT, 'docs/monitoring.md'));
    const alerts = text.split(/^ {6}- alert: /m).slice(1);
    assert.ok(alerts.length >= 8);
    for (const a of alerts) {
      const name = a.split('\n')[0]!.trim();
      const url = /^ {10}runbook_url: "?([^"\n]+)"?$/m.exec(a)?.[1];
      assert.ok(url, `${name}: no runbook_url`);
      const m = /^https:\/\/github\.com\/[^/]+\/redishappy\/blob\/main\/docs\/monitoring\.md#(.+)$/.exec(url);
      assert.ok(m, `${name}: ${url} is not https://github.com/OWNER/redishappy/blob/main/docs/monitoring.md#section`);
      assert.equal(m[1], name.toLowerCase(), `${name}: the runbook section is named after the alert`);
      assert.ok(anchors.has(m[1]!), `${name}: docs/monitoring.md has no heading #${m[1]}`);
    }
  });

  it('no sentence is kept on two pages (or twice on one)', () => {
    const where = new Map<string, string>();
    const twice: string[] = [];
    for (const page of PAGES) {
      for (const s of sentences(readFileSync(page, 'utf8'))) {
        const seen = where.get(s);
        if (seen !== undefined) twice.push(`${seen} and ${rel(page)}: ${s.slice(0, 100)}…`);
        else where.set(s, rel(page));
      }
    }
    assert.deepEqual(twice, []);
  });
});

/** The example configurations: examples/**\/*.json and the json blocks marked <!-- runnable -->. */
function exampleConfigs(): Array<{ name: string; text: string; dir: string }> {
  const out = walkFiles(join(ROOT, 'examples'), (p) => p.endsWith('.json')).map((p) => ({ name: rel(p), text: readFileSync(p, 'utf8'), dir: dirname(p) }));
  for (const page of PAGES) {
    const lines = readFileSync(page, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() !== '<!-- runnable -->') return;
      assert.match(lines[i + 1] ?? '', /^```json\s*$/, `${rel(page)}:${i + 1}: <!-- runnable --> must precede a json block`);
      const end = lines.findIndex((l, j) => j > i + 1 && /^```\s*$/.test(l));
      out.push({ name: `${rel(page)}:${i + 2}`, text: lines.slice(i + 2, end).join('\n'), dir: dirname(page) });
    });
  }
  return out;
}

/**
 * The executable a configuration is meant for: redishappy-haproxy with a HAProxy section,
 * redishappy-consul with a Consul section alone, else the umbrella.
 */
function executableFor(config: Record<string, unknown>): string {
  const has = (s: string) => Object.keys(config).some((k) => k.toLowerCase() === s.toLowerCase());
  if (has('HAProxy')) return 'bin/redishappy-haproxy.js';
  if (has('Consul') && !has('Templates')) return 'bin/redishappy-consul.js';
  return 'bin/redishappy.js';
}

/**
 * Template files the docs tell the reader to install (e.g. /etc/redishappy/x.tmpl) are taken from
 * examples/ by their file name, so the check runs here without touching /etc.
 */
function withLocalTemplates(config: unknown, examples: Map<string, string>): { config: unknown; missing: string[] } {
  const missing: string[] = [];
  const fix = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(fix);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, child]) => {
        if (k.toLowerCase() === 'templatepath' && typeof child === 'string' && child.startsWith('/') && !existsSync(child)) {
          const local = examples.get(basename(child));
          if (local) return [k, local];
          missing.push(child);
        }
        return [k, fix(child)];
      }),
    );
  };
  return { config: fix(config), missing };
}

describe('example configurations pass --check-config', () => {
  const templates = new Map(walkFiles(join(ROOT, 'examples'), (p) => !p.endsWith('.json') && !p.endsWith('.md')).map((p) => [basename(p), p]));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(REDISHAPPY_|BIND$|GOJI_BIND$|PORT$)/.test(k)));
  const examples = exampleConfigs();

  it('finds the examples', () => {
    assert.ok(examples.length >= 3, examples.map((e) => e.name).join(', '));
  });

  for (const example of examples) {
    it(example.name, () => {
      const parsed = JSON.parse(example.text) as Record<string, unknown>;
      const { config, missing } = withLocalTemplates(parsed, templates);
      assert.deepEqual(missing, [], 'templates neither on this machine nor in examples/');
      const dir = mkdtempSync(join(tmpdir(), 'rh-docs-'));
      try {
        const file = join(dir, 'config.json');
        writeFileSync(file, JSON.stringify(config));
        const bin = executableFor(parsed);
        // Relative template paths are relative to the working directory: the example's own.
        const r = spawnSync(process.execPath, [join(ROOT, bin), '--check-config', '--config', file], { cwd: example.dir, env, encoding: 'utf8' });
        assert.equal(r.status, 0, `${bin} --check-config ${example.name}:\n${r.stdout}${r.stderr}`);
        assert.match(r.stdout, /configuration OK/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
