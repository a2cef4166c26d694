import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseTemplate, TemplateError } from '../../src/template/index.js';

const render = (t: string, data: unknown = {}) => parseTemplate(t, 'test.cfg').execute(data);

function errorOf(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TemplateError, `expected TemplateError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a TemplateError');
}

describe('Go text/template engine', () => {
  it('renders text, fields, chains, variables and pipelines', () => {
    assert.equal(render('a{{.A}}b{{.B.C}}', { A: 1, B: { C: 'x' } }), 'a1bx');
    assert.equal(render('{{$x := .A}}{{$x}}{{$.A}}', { A: 'v' }), 'vv');
    assert.equal(render('{{.A | printf "%s!"}}', { A: 'hi' }), 'hi!');
    assert.equal(render('{{(index .L 1).N}}', { L: [{ N: 1 }, { N: 2 }] }), '2');
  });

  it('range with else, index/element variables, break and continue, maps sorted by key', () => {
    assert.equal(render('{{range $i, $e := .L}}{{$i}}:{{$e}} {{end}}', { L: ['a', 'b'] }), '0:a 1:b ');
    assert.equal(render('{{range .L}}x{{else}}empty{{end}}', { L: [] }), 'empty');
    assert.equal(render('{{range .L}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}', { L: [1, 2, 3, 4, 5] }), '13');
    assert.equal(render('{{range $k, $v := .M}}{{$k}}={{$v}};{{end}}', { M: new Map([['b', 2], ['a', 1]]) }), 'a=1;b=2;');
  });

  it('if / else if / else, with / else, and/or short-circuit, not', () => {
    const t = '{{if .A}}a{{else if .B}}b{{else}}c{{end}}';
    assert.deepEqual([render(t, { A: 1, B: 0 }), render(t, { A: 0, B: 'x' }), render(t, { A: '', B: [] })], ['a', 'b', 'c']);
    assert.equal(render('{{with .A}}[{{.}}]{{else}}none{{end}}', { A: 'v' }), '[v]');
    assert.equal(render('{{with .A}}[{{.}}]{{else}}none{{end}}', { A: 0 }), 'none');
    assert.equal(render('{{and 1 0 (index .L 5)}}|{{or 0 "" "x"}}|{{not 0}}', { L: [] }), '0|x|true');
  });

  it('comparisons, len, index, slice, print family and escapers like Go', () => {
    assert.equal(render('{{eq 1 2 1}} {{ne "a" "b"}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1.5 2.5}}'), 'true true true true true false');
    assert.equal(render('{{len "héllo"}} {{len .L}} {{index .L 0}} {{slice "hello" 1 3}}', { L: [7] }), '6 1 7 el');
    assert.equal(render('{{print 1 2 "x" 3}}|{{println 1 "a"}}|{{printf "%5.2f|%-4d|%x|%q|%03d|%t|%c" 3.14159 42 255 "a\\"b" 7 true 65}}'), '1 2x3|1 a\n| 3.14|42  |ff|"a\\"b"|007|true|A');
    assert.equal(render('{{printf "%d %s" "x"}}{{printf "%d" 1 2}}'), '%!d(string=x) %!s(MISSING)1%!(EXTRA int=2)');
    assert.equal(render('{{1e6}} {{0.00001}} {{1.5}} {{0x1F}} {{\'a\'}}'), '1e+06 1e-05 1.5 31 97');
    assert.equal(render('{{html "<a&b>"}} {{js "a\'b<"}} {{urlquery "a b&c"}}'), "&lt;a&amp;b&gt; a\\'b\\u003C a+b%26c");
  });

  it('trim markers, comments, define/template/block', () => {
    assert.equal(render('a  {{- 1 -}}  \n b'), 'a1b');
    assert.equal(render('a{{/* note */}}b{{- /* x */ -}} c'), 'abc');
    assert.equal(render('{{define "x"}}<{{.}}>{{end}}{{template "x" 5}}{{block "y" "z"}}[{{.}}]{{end}}'), '<5>[z]');
  });

  it('parse errors name file, line and column', () => {
    const e = errorOf(() => parseTemplate('line one\n  {{ if .A }}x{{ nope .B }}', 'tpl.cfg'));
    assert.equal(e.kind, 'parse');
    assert.deepEqual([e.file, e.line, e.column], ['tpl.cfg', 2, 18]);
    assert.match(e.message, /^tpl\.cfg:2:18: function "nope" not defined$/);
    assert.equal(errorOf(() => parseTemplate('{{if .A}}x', 't')).kind, 'parse');
    assert.match(errorOf(() => parseTemplate('{{end}}', 't')).message, /unexpected \{\{end\}\}/);
    assert.match(errorOf(() => parseTemplate('{{$x}}', 't')).message, /undefined variable "\$x"/);
    assert.match(errorOf(() => parseTemplate('{{.A', 't')).message, /unclosed action/);
  });

  it('exec errors: missing struct field, bad index, incompatible comparison', () => {
    const e = errorOf(() => render('{{range .Clusters}}\n{{ .Nmae }}{{end}}', { Clusters: [{ Name: 'a' }] }));
    assert.equal(e.kind, 'exec');
    assert.equal(e.line, 2);
    assert.match(e.message, /can't evaluate field Nmae/);
    assert.match(errorOf(() => render('{{index .L 3}}', { L: [] })).message, /index out of range: 3/);
    assert.match(errorOf(() => render('{{eq 1 "a"}}')).message, /incompatible types for comparison/);
  });

  it('sees only the data given: no prototype or constructor access', () => {
    assert.equal(errorOf(() => render('{{.constructor}}', {})).kind, 'exec');
    assert.equal(errorOf(() => render('{{.__proto__}}', {})).kind, 'exec');
    assert.equal(errorOf(() => render('{{.toString}}', { a: 1 })).kind, 'exec');
  });

  it('any template text renders or fails with a positioned TemplateError, never another exception', () => {
    const pieces = ['{{', '}}', '{{-', '-}}', ' ', '.', '.A', '$', '$x', ':=', '|', '(', ')', 'if', 'else', 'end', 'range', 'with', 'printf', '"s"', '1', '1.5', 'eq', 'len', 'nil', 'true', '/*', '*/', 'text\n', 'define', 'template', 'break', "'c'", '`r`'];
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 4 })), { maxLength: 25 }), (parts) => {
        const text = parts.join('');
        try {
          parseTemplate(text, 'fuzz').execute({ A: [1, 2], B: 'x' });
        } catch (err) {
          if (!(err instanceof TemplateError)) throw err;
          assert.ok(err.line >= 1 && err.column >= 1);
        }
      }),
      { seed: 1234, numRuns: 3000 },
    );
  });
});

describe('the original redishappy template', () => {
  it('renders byte for byte as the original Go program did (fixture made with Go semantics, trailing TAB kept)', async () => {
    const { readFileSync } = await import('node:fs');
    const dir = new URL('../fixtures/templates/', import.meta.url);
    const tpl = readFileSync(new URL('haproxy_template.cfg', dir), 'utf8');
    const expected = readFileSync(new URL('haproxy_template.expected.cfg', dir), 'utf8');
    const data = { Clusters: [{ Name: 'one', Ip: '10.0.0.1', Port: 2345, ExternalPort: 5432 }, { Name: 'two', Ip: '10.0.1.1', Port: 5432, ExternalPort: 2345 }] };
    assert.equal(parseTemplate(tpl, 'haproxy_template.cfg').execute(data), expected);
    assert.ok(expected.includes('## end cluster one\t\n'));
  });
});
