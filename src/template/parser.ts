import { TemplateError } from './error.js';
import { lex, type Token } from './lexer.js';

/** The template AST, close to Go's text/template/parse node types. */
export type Arg =
  | { type: 'field'; pos: number; names: string[] } // .A.B
  | { type: 'dot'; pos: number }
  | { type: 'variable'; pos: number; name: string; fields: string[] } // $x.A
  | { type: 'function'; pos: number; name: string }
  | { type: 'string'; pos: number; value: string }
  | { type: 'number'; pos: number; text: string; value: number; isInt: boolean; isChar: boolean }
  | { type: 'bool'; pos: number; value: boolean }
  | { type: 'nil'; pos: number }
  | { type: 'pipe'; pos: number; pipe: Pipe; fields: string[] }; // (pipeline).A

export interface Command {
  pos: number;
  args: Arg[];
}

export interface Pipe {
  pos: number;
  decl: string[];
  isAssign: boolean;
  cmds: Command[];
}

export type Node =
  | { type: 'text'; text: string }
  | { type: 'action'; pos: number; pipe: Pipe }
  | { type: 'if' | 'with'; pos: number; pipe: Pipe; list: Node[]; elseList: Node[] | null }
  | { type: 'range'; pos: number; pipe: Pipe; list: Node[]; elseList: Node[] | null }
  | { type: 'template'; pos: number; name: string; pipe: Pipe | null }
  | { type: 'break' | 'continue'; pos: number };

export interface ParsedTemplate {
  root: Node[];
  defines: Map<string, Node[]>;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

/** Recursive-descent parser over the lexer's tokens. `funcs` are the defined function names. */
export function parse(text: string, name: string, funcs: ReadonlySet<string>): ParsedTemplate {
  const tokens = lex(text, name);
  let p = 0;
  const defines = new Map<string, Node[]>();
  const scopes: string[][] = [['$']];
  let rangeDepth = 0;

  const err = (pos: number, msg: string) => TemplateError.at('parse', name, text, pos, msg);
  const peek = (k = 0): Token => tokens[Math.min(p + k, tokens.length - 1)]!;
  const next = (): Token => tokens[Math.min(p++, tokens.length - 1)]!;
  const expectClose = (context: string) => {
    const t = next();
    if (t.kind !== 'close') throw err(t.pos, `unexpected ${describe(t)} in ${context}`);
  };
  const isVar = (v: string) => scopes.some((s) => s.includes(v));

  function describe(t: Token): string {
    if (t.kind === 'eof') return 'EOF';
    if (t.kind === 'close') return '"}}"';
    return JSON.stringify(t.value);
  }

  /** Parse nodes until {{end}} / {{else}} (returned as the terminator) or EOF at top level. */
  function list(top: boolean): { nodes: Node[]; end: 'end' | 'else' | 'eof'; endPos: number } {
    const nodes: Node[] = [];
    for (;;) {
      const t = next();
      if (t.kind === 'eof') {
        if (!top) throw err(t.pos, 'unexpected EOF');
        return { nodes, end: 'eof', endPos: t.pos };
      }
      if (t.kind === 'text') {
        nodes.push({ type: 'text', text: t.value });
        continue;
      }
      // t is 'open'
      const a = peek();
      if (a.kind === 'comment') {
        p++;
        expectClose('comment');
        continue;
      }
      if (a.kind === 'identifier' && KEYWORDS.has(a.value)) {
        p++;
        switch (a.value) {
          case 'end':
            if (top) throw err(a.pos, 'unexpected {{end}}');
            expectClose('end');
            return { nodes, end: 'end', endPos: a.pos };
          case 'else':
            if (top) throw err(a.pos, 'unexpected {{else}}');
            return { nodes, end: 'else', endPos: a.pos };
          case 'if':
          case 'with':
            nodes.push(control(a.value, a.pos));
            break;
          case 'range':
            nodes.push(control('range', a.pos));
            break;
          case 'template':
            nodes.push(templateCall(a.pos));
            break;
          case 'block': {
            const tc = templateCall(a.pos);
            const body = list(false);
            if (body.end !== 'end') throw err(body.endPos, 'unexpected {{else}} in block');
            defines.set((tc as { name: string }).name, body.nodes);
            nodes.push(tc);
            break;
          }
          case 'define': {
            if (!top || scopes.length > 1) throw err(a.pos, 'unexpected "define" in command');
            const nameTok = next();
            if (nameTok.kind !== 'string') throw err(nameTok.pos, `unexpected ${describe(nameTok)} in define clause`);
            expectClose('define clause');
            scopes.push(['$']);
            const body = list(false);
            scopes.pop();
            if (body.end !== 'end') throw err(body.endPos, 'unexpected {{else}} in define');
            defines.set(nameTok.value, body.nodes);
            break;
          }
          case 'break':
          case 'continue':
            if (rangeDepth === 0) throw err(a.pos, `{{${a.value}}} outside {{range}}`);
            expectClose(a.value);
            nodes.push({ type: a.value, pos: a.pos });
            break;
        }
        continue;
      }
      const pipe = pipeline('command', a.pos);
      expectClose('command');
      nodes.push({ type: 'action', pos: a.pos, pipe });
    }
  }

  function control(kind: 'if' | 'with' | 'range', pos: number): Node {
    scopes.push([]);
    const pipe = pipeline(kind, pos);
    expectClose(kind);
    if (kind === 'range') rangeDepth++;
    const body = list(false);
    if (kind === 'range') rangeDepth--;
    let elseList: Node[] | null = null;
    if (body.end === 'else') {
      // {{else if ...}} / {{else with ...}} chain into a nested node that shares our {{end}}.
      const k = peek();
      if ((kind === 'if' && k.kind === 'identifier' && k.value === 'if') || (kind === 'with' && k.kind === 'identifier' && k.value === 'with')) {
        p++;
        elseList = [control(kind, k.pos)];
      } else {
        expectClose('else');
        const rest = list(false);
        if (rest.end !== 'end') throw err(rest.endPos, `expected end; found {{else}}`);
        elseList = rest.nodes;
      }
    }
    scopes.pop();
    if (kind === 'range') return { type: 'range', pos, pipe, list: body.nodes, elseList };
    return { type: kind, pos, pipe, list: body.nodes, elseList };
  }

  function templateCall(pos: number): Node {
    const nameTok = next();
    if (nameTok.kind !== 'string') throw err(nameTok.pos, `unexpected ${describe(nameTok)} in template clause`);
    if (peek().kind === 'close') {
      p++;
      return { type: 'template', pos, name: nameTok.value, pipe: null };
    }
    const pipe = pipeline('template clause', pos);
    expectClose('template clause');
    return { type: 'template', pos, name: nameTok.value, pipe };
  }

  function pipeline(context: string, pos: number, inParens = false): Pipe {
    const decl: string[] = [];
    let isAssign = false;
    // Declarations: $x := / $x = / $i, $e :=
    if (peek().kind === 'variable') {
      const save = p;
      const names: string[] = [next().value];
      if (peek().kind === 'comma' && peek(1).kind === 'variable') {
        p++;
        names.push(next().value);
      }
      const op = peek();
      if ((op.kind === 'declare' || op.kind === 'assign') && !(names.length === 2 && context !== 'range')) {
        p++;
        isAssign = op.kind === 'assign';
        if (isAssign) {
          for (const n of names) if (!isVar(n)) throw err(op.pos, `undefined variable "${n}"`);
        } else scopes[scopes.length - 1]!.push(...names);
        decl.push(...names);
      } else if (names.length === 2 && context !== 'range') {
        throw err(op.pos, `too many declarations in ${context}`);
      } else p = save;
    }
    const cmds: Command[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === 'close' || t.kind === 'eof' || (inParens && t.kind === 'rparen')) break;
      cmds.push(command(context));
      if (peek().kind === 'pipe') {
        p++;
        const after = peek();
        if (after.kind === 'close' || after.kind === 'rparen' || after.kind === 'eof') throw err(after.pos, `missing command after |`);
        continue;
      }
    }
    if (cmds.length === 0) throw err(peek().pos, `missing value for ${context}`);
    // Only the first command of a pipeline may be a non-function; later ones get the previous result as last arg.
    for (const c of cmds.slice(1)) {
      const first = c.args[0]!;
      if (first.type !== 'function' && !(first.type === 'field' || first.type === 'variable' || first.type === 'pipe') ) {
        throw err(first.pos, `non executable command in pipeline stage ${cmds.indexOf(c) + 1}`);
      }
    }
    return { pos, decl, isAssign, cmds };
  }

  function command(context: string): Command {
    const args: Arg[] = [];
    const pos = peek().pos;
    for (;;) {
      const t = peek();
      if (t.kind === 'close' || t.kind === 'eof' || t.kind === 'pipe' || t.kind === 'rparen') break;
      args.push(operand(context));
    }
    if (args.length === 0) throw err(pos, `empty command`);
    return { pos, args };
  }

  function fieldsAfter(): string[] {
    const fields: string[] = [];
    while (peek().kind === 'chain') fields.push(next().value);
    return fields;
  }

  function operand(context: string): Arg {
    const t = next();
    switch (t.kind) {
      case 'field': {
        const names = [t.value, ...fieldsAfter()];
        return { type: 'field', pos: t.pos, names };
      }
      case 'dot':
        return { type: 'dot', pos: t.pos };
      case 'variable':
        if (!isVar(t.value)) throw err(t.pos, `undefined variable "${t.value}"`);
        return { type: 'variable', pos: t.pos, name: t.value, fields: fieldsAfter() };
      case 'string':
        return { type: 'string', pos: t.pos, value: t.value };
      case 'char':
        return { type: 'number', pos: t.pos, text: t.value, value: Number(t.value), isInt: true, isChar: true };
      case 'number':
        return numberArg(t);
      case 'lparen': {
        const pipe = pipeline('parenthesized pipeline', t.pos, true);
        const close = next();
        if (close.kind !== 'rparen') throw err(close.pos, `unclosed left paren`);
        return { type: 'pipe', pos: t.pos, pipe, fields: fieldsAfter() };
      }
      case 'identifier': {
        if (t.value === 'true' || t.value === 'false') return { type: 'bool', pos: t.pos, value: t.value === 'true' };
        if (t.value === 'nil') return { type: 'nil', pos: t.pos };
        if (KEYWORDS.has(t.value)) throw err(t.pos, `unexpected <${t.value}> in ${context}`);
        if (!funcs.has(t.value)) throw err(t.pos, `function "${t.value}" not defined`);
        if (peek().kind === 'chain') throw err(peek().pos, `unexpected . after term "${t.value}"`);
        return { type: 'function', pos: t.pos, name: t.value };
      }
      default:
        throw err(t.pos, `unexpected ${describe(t)} in ${context}`);
    }
  }

  function numberArg(t: Token): Arg {
    const s = t.value.replace(/_/g, '');
    let value: number;
    let isInt = true;
    if (/^[+-]?0[xX]/.test(s)) value = Number.parseInt(s.replace(/0[xX]/, ''), 16) * (s.startsWith('-') ? 1 : 1);
    else if (/^[+-]?0[bB]/.test(s)) value = Number.parseInt(s.replace(/^([+-]?)0[bB]/, '$1'), 2);
    else if (/^[+-]?0[oO]/.test(s)) value = Number.parseInt(s.replace(/^([+-]?)0[oO]/, '$1'), 8);
    else if (/^[+-]?0[0-7]+$/.test(s)) value = Number.parseInt(s, 8);
    else {
      value = Number(s);
      isInt = /^[+-]?\d+$/.test(s);
      if (!isInt && Number.isInteger(value) && !/[eE]/.test(s) && !s.includes('.')) isInt = true;
    }
    if (/^[+-]?0[xX]/.test(s) && s.startsWith('-')) value = -Number.parseInt(s.slice(3), 16);
    if (Number.isNaN(value)) throw err(t.pos, `bad number syntax: ${JSON.stringify(t.value)}`);
    if (isInt && !Number.isSafeInteger(value)) throw err(t.pos, `integer overflow: ${t.value}`);
    return { type: 'number', pos: t.pos, text: t.value, value, isInt, isChar: false };
  }

  const { nodes } = list(true);
  return { root: nodes, defines };
}
