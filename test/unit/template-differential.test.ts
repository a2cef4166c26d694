import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse as goParse, InvalidTemplateError } from '@evertdespiegeleer/go-template';
import { parseTemplate, TemplateError } from '../../src/template/index.js';

/**
 * Differential test: Go's own text/template (compiled to WebAssembly, dev dependency only) is the
 * oracle. Every template must render byte-identically, or both must fail with the same class of
 * error (parse vs exec).
 *
 * Where the two cannot agree, by construction, the corpus avoids it:
 * - the oracle receives data as JSON, so its numbers are float64 and its objects are maps with
 *   missingkey=error; our data are Go-like structs with int fields (as in the original program).
 *   So: no comparisons or %d between data numbers and literals, numbers in data stay below 1e6
 *   (same %v text either way), and whole objects are not printed (struct {…} vs map[…]).
 */
type Outcome = { ok: true; text: string } | { ok: false; kind: 'parse' | 'exec' };

const DIR = new URL('../fixtures/templates/', import.meta.url);

async function oracle(template: string, data: unknown): Promise<Outcome> {
  try {
    return { ok: true, text: await goParse(template, data) };
  } catch (err) {
    return { ok: false, kind: err instanceof InvalidTemplateError ? 'parse' : 'exec' };
  }
}

function ours(template: string, data: unknown): Outcome {
  try {
    return { ok: true, text: parseTemplate(template, 't').execute(structuredClone(data)) };
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    return { ok: false, kind: err.kind };
  }
}

const clusters = {
  Clusters: [
    { Name: 'alpha', Ip: '10.0.0.1', Port: 6379, ExternalPort: 7001 },
    { Name: 'beta', Ip: '::1', Port: 6380, ExternalPort: 7002 },
  ],
};
const misc = { L: [1, 'b', 2.5, true], S: 'hello', E: [], N: 0, T: true, F: false, Nested: { Inner: { Deep: 'd' } }, Clusters: clusters.Clusters };

const CORPUS: Array<[string, unknown]> = [
  [readFileSync(new URL('haproxy_template.cfg', DIR), 'utf8'), clusters],
  [readFileSync(new URL('benchmark_template.cfg', DIR), 'utf8'), clusters],
  ['{{range $i, $c := .Clusters}}{{if $i}},{{end}}{{$c.Name}}={{$c.Ip}}:{{$c.Port}}{{end}}', clusters],
  ['{{range .Clusters}}{{.Name}}{{else}}none{{end}}|{{range .E}}x{{else}}empty{{end}}', misc],
  ['{{if .T}}t{{else if .F}}f{{else}}n{{end}}{{if not .N}}zero{{end}}', misc],
  ['{{with .Nested.Inner}}{{.Deep}}{{end}}{{with .E}}x{{else}}no{{end}}', misc],
  ['{{- range .Clusters -}}\n  {{ .Name -}}\n{{- end }}', clusters],
  ['{{$first := index .Clusters 0}}{{$first.Name}} {{len .Clusters}} {{len .S}} {{index .L 1}}', misc],
  ['{{printf "%s:%v %q %5s|%-5s|" .S .T .S "ab" "cd"}}', misc],
  ['{{printf "%x %X %o %b %c %U %08.3f %e %g %+d % d" 255 255 8 5 65 65 3.14159 1234.5678 0.000012 5 7}}', {}],
  ['{{printf "%d %s"}}{{printf "%d" "x" 1}}{{printf "%!"}}', {}],
  ['{{print 1 2 "a" "b" 3 true nil}}|{{println "x" 1}}', {}],
  ['{{eq "a" "b" "a"}} {{ne 1 2}} {{lt "a" "b"}} {{le 2 2}} {{gt 3.5 1.5}} {{ge 1 2}}', {}],
  ['{{and 1 "x" .T}} {{and 0 .Missing}} {{or 0 "" "y"}} {{or .F .N}}', misc],
  ['{{html "<a href=\\"x\\">&\'"}} {{js "a\'b\\"<>=&\\n"}} {{urlquery "a b/c?d=e&f"}}', {}],
  ['{{define "row"}}<{{.Name}}>{{end}}{{range .Clusters}}{{template "row" .}}{{end}}{{block "b" .S}}[{{.}}]{{end}}', misc],
  ['{{/* comment */}}a{{- /* trimmed */ -}} b', {}],
  ['{{$x := 1}}{{range .L}}{{$x = .}}{{end}}{{$x}}', misc],
  ['{{range .L}}{{if eq . 2.5}}{{break}}{{end}}{{.}},{{end}}', { L: ['a', 'b'] }],
  ['{{1e6}} {{1.5e-7}} {{100000.0}} {{123456789.0}} {{-0.5}} {{0x10}} {{0o17}} {{1_000}} {{\'\\n\'}}', {}],
  ['{{slice .S 1 3}} {{slice .S 2}} {{index "abc" 1}}', misc],
  ['{{.Nested.Missing}}', misc],
  ['{{index .L 10}}', misc],
  ['{{eq 1 "1"}}', {}],
  ['{{lt true false}}', {}],
  ['{{len 3}}', {}],
  ['{{range 5}}x{{end}}', {}],
  ['{{template "nope"}}', {}],
  ['{{.S | printf "%s-%s" "x"}}', misc],
  ['{{if}}x{{end}}', {}],
  ['{{range .L}}', misc],
  ['{{else}}', {}],
  ['{{nosuch 1}}', {}],
  ['{{"unterminated}}', {}],
  ['{{.S.Field}}', misc],
  ['{{3 | 4}}', {}],
  ['{{(1)}} {{(print "a").x}}', {}],
  ['{{break}}', {}],
  ['{{$x := 1}}{{$y}}', {}],
];

describe('template engine vs Go text/template (WebAssembly oracle)', { timeout: 120000 }, () => {
  it('renders the hand-written corpus identically or fails alike', async () => {
    for (const [template, data] of CORPUS) {
      const expected = await oracle(template, data);
      assert.deepEqual(ours(template, data), expected, `template: ${JSON.stringify(template.slice(0, 200))}`);
    }
  });

  it('renders generated templates identically or fails alike', async () => {
    const field = fc.constantFrom('.Name', '.Ip', '.Port', '.ExternalPort');
    const text = fc.constantFrom('', 'x', ' ', '\n', 'server ', ':', '\t');
    const inner: fc.Arbitrary<string> = fc.letrec<{ node: string }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        text,
        field.map((f) => `{{ ${f} }}`),
        field.map((f) => `{{- ${f} -}}`),
        // Numbers are int here and float64 in the oracle: only %v prints them alike.
        fc.tuple(fc.constantFrom('.Name', '.Ip'), fc.constantFrom('%s', '%v', '%q', '%10v', '%-8s', '%x')).map(([f, v]) => `{{printf "${v}" ${f}}}`),
        fc.tuple(fc.constantFrom('.Port', '.ExternalPort'), fc.constantFrom('%v', '%10v', '%-8v')).map(([f, v]) => `{{printf "${v}" ${f}}}`),
        fc.tuple(fc.constantFrom('.Name', '.Ip'), fc.constantFrom('"alpha"', '"10.0.0.1"', '"zz"')).map(([f, v]) => `{{if eq ${f} ${v}}}Y{{else}}N{{end}}`),
        fc.array(tie('node'), { maxLength: 3 }).map((xs) => `{{with .Name}}${xs.join('')}{{end}}`.replace(/\{\{ ?-? ?\.(Ip|Port|ExternalPort)/g, '{{ .')),
        fc.array(tie('node'), { maxLength: 3 }).map((xs) => `{{if .Port}}${xs.join('')}{{end}}`),
        fc.constantFrom('{{len .Name}}', '{{print .Name .Port}}', '{{html .Ip}}', '{{urlquery .Name}}', '{{.Nope}}', '{{ .Name }'),
      ),
    })).node;
    const body = fc.array(inner, { maxLength: 6 }).map((xs) => `{{range .Clusters}}${xs.join('')}{{end}}`);
    const templates = fc.sample(fc.tuple(text, body, text).map(([a, b, c]) => a + b + c), { seed: 20261124, numRuns: 300 });
    for (const template of templates) {
      const expected = await oracle(template, clusters);
      assert.deepEqual(ours(template, clusters), expected, `template: ${JSON.stringify(template)}`);
    }
  });
});
