import { TemplateError } from './error.js';
import { formatValue } from './format.js';
import { BUILTINS, FuncError } from './funcs.js';
import type { Arg, Command, Node, ParsedTemplate, Pipe } from './parser.js';
import { GoFloat, NO_VALUE, kindOf, ownField, sortedMapKeys, truth, typeName } from './values.js';

class Break {}
class Continue {}

const MAX_DEPTH = 100_000;
const MAX_TEMPLATE_DEPTH = 1000;

/** Walks the AST with Go's text/template semantics and returns the output. */
export function execute(tpl: ParsedTemplate, text: string, name: string, data: unknown): string {
  const out: string[] = [];
  const vars: Array<{ name: string; value: unknown }> = [{ name: '$', value: data }];
  let depth = 0;
  let steps = 0;

  const err = (pos: number, msg: string) => TemplateError.at('exec', name, text, pos, msg);

  function walkList(nodes: Node[], dot: unknown): void {
    for (const n of nodes) walk(n, dot);
  }

  function walk(node: Node, dot: unknown): void {
    if (++steps > 50_000_000) throw err(0, 'template execution too long');
    switch (node.type) {
      case 'text':
        out.push(node.text);
        return;
      case 'action': {
        const v = evalPipe(node.pipe, dot);
        if (node.pipe.decl.length === 0) out.push(printable(v, node.pos));
        return;
      }
      case 'if':
      case 'with': {
        const mark = vars.length;
        const v = evalPipe(node.pipe, dot);
        if (truth(v)) walkList(node.list, node.type === 'with' ? v : dot);
        else if (node.elseList) walkList(node.elseList, dot);
        vars.length = mark;
        return;
      }
      case 'range':
        return walkRange(node, dot);
      case 'template': {
        const body = tpl.defines.get(node.name);
        if (!body) throw err(node.pos, `no such template "${node.name}"`);
        if (++depth > MAX_TEMPLATE_DEPTH) throw err(node.pos, 'exceeded maximum template depth (1000)');
        const newDot = node.pipe ? evalPipe(node.pipe, dot) : undefined;
        const saved = vars.splice(0, vars.length, { name: '$', value: newDot });
        walkList(body, newDot);
        vars.splice(0, vars.length, ...saved);
        depth--;
        return;
      }
      case 'break':
        throw new Break();
      case 'continue':
        throw new Continue();
    }
  }

  function walkRange(node: Extract<Node, { type: 'range' }>, dot: unknown): void {
    const mark = vars.length;
    const v = evalPipe(node.pipe, dot);
    // The pipeline's declared variables are rebound per element.
    const decl = node.pipe.decl;
    vars.length = mark;
    const one = (key: unknown, elem: unknown): boolean => {
      const inner = vars.length;
      if (decl.length === 1) vars.push({ name: decl[0]!, value: elem });
      else if (decl.length === 2) vars.push({ name: decl[0]!, value: key }, { name: decl[1]!, value: elem });
      try {
        walkList(node.list, elem);
      } catch (e) {
        if (e instanceof Break) return false;
        if (!(e instanceof Continue)) throw e;
      } finally {
        vars.length = inner;
      }
      return true;
    };
    const k = kindOf(v);
    let any = false;
    if (k === 'slice') {
      const arr = v as unknown[];
      for (let i = 0; i < arr.length; i++) {
        any = true;
        if (!one(i, arr[i])) break;
      }
    } else if (k === 'map') {
      const m = v as Map<unknown, unknown>;
      for (const key of sortedMapKeys(m)) {
        any = true;
        if (!one(key, m.get(key))) break;
      }
    } else if (k === 'int') {
      const n = v as number;
      for (let i = 0; i < n; i++) {
        any = true;
        if (!one(i, i)) break;
      }
    } else if (k !== 'invalid' && k !== 'nil') {
      throw err(node.pos, `range can't iterate over ${formatValue(v, false)}`);
    }
    if (!any && node.elseList) walkList(node.elseList, dot);
    vars.length = mark;
  }

  function printable(v: unknown, pos: number): string {
    if (kindOf(v) === 'struct' || kindOf(v) === 'map' || kindOf(v) === 'slice' || v === NO_VALUE || v === undefined || v === null || typeof v !== 'object' || v instanceof GoFloat) {
      return formatValue(v === null ? null : v, true);
    }
    throw err(pos, `can't print value of type ${typeName(v)}`);
  }

  function lookupVar(name: string, pos: number): unknown {
    for (let i = vars.length - 1; i >= 0; i--) if (vars[i]!.name === name) return vars[i]!.value;
    throw err(pos, `undefined variable: ${name}`);
  }

  function setVar(name: string, value: unknown, declare: boolean): void {
    if (declare) {
      vars.push({ name, value });
      return;
    }
    for (let i = vars.length - 1; i >= 0; i--) {
      if (vars[i]!.name === name) {
        vars[i]!.value = value;
        return;
      }
    }
  }

  function evalPipe(pipe: Pipe, dot: unknown): unknown {
    if (++depth > MAX_DEPTH) throw err(pipe.pos, 'exceeded maximum depth');
    let value: unknown = NO_VALUE;
    let first = true;
    for (const cmd of pipe.cmds) {
      value = evalCommand(cmd, dot, first ? undefined : value, first);
      first = false;
    }
    depth--;
    for (const name of pipe.decl.slice(-1)) setVar(name, value, !pipe.isAssign);
    return value;
  }

  function fieldChain(receiver: unknown, fields: string[], pos: number, hasArgs: boolean): unknown {
    let v = receiver;
    fields.forEach((f, i) => {
      if (hasArgs && i === fields.length - 1) throw err(pos, `${f} has arguments but cannot be invoked as function`);
      v = field(v, f, pos);
    });
    return v;
  }

  function field(receiver: unknown, name: string, pos: number): unknown {
    const k = kindOf(receiver);
    if (k === 'map') {
      const m = receiver as Map<unknown, unknown>;
      return m.has(name) ? m.get(name) : NO_VALUE;
    }
    if (k === 'struct') {
      const f = ownField(receiver as object, name);
      if (!f.ok) throw err(pos, `can't evaluate field ${name} in type ${typeName(receiver)}`);
      return f.value === undefined ? NO_VALUE : f.value;
    }
    if (k === 'invalid' || k === 'nil') throw err(pos, `nil pointer evaluating interface {}.${name}`);
    throw err(pos, `can't evaluate field ${name} in type ${typeName(receiver)}`);
  }

  function evalArg(arg: Arg, dot: unknown): unknown {
    switch (arg.type) {
      case 'dot':
        return dot;
      case 'field':
        return fieldChain(dot, arg.names, arg.pos, false);
      case 'variable':
        return fieldChain(lookupVar(arg.name, arg.pos), arg.fields, arg.pos, false);
      case 'string':
        return arg.value;
      case 'number':
        return arg.isInt ? arg.value : new GoFloat(arg.value);
      case 'bool':
        return arg.value;
      case 'nil':
        return null;
      case 'pipe':
        return fieldChain(evalPipe(arg.pipe, dot), arg.fields, arg.pos, false);
      case 'function':
        return callFunction(arg.name, [], dot, undefined, arg.pos);
    }
  }

  function callFunction(fname: string, args: Arg[], dot: unknown, final: unknown, pos: number): unknown {
    const fn = BUILTINS.get(fname);
    if (!fn) throw err(pos, `"${fname}" is not a defined function`);
    try {
      if (fn.lazy) {
        const thunks = args.map((a) => () => evalArg(a, dot));
        if (final !== undefined) thunks.push(() => final);
        if (thunks.length === 0) throw new FuncError(`wrong number of args for ${fname}: want at least 1 got 0`);
        return fn.fn(thunks);
      }
      const values = args.map((a) => evalArg(a, dot));
      if (final !== undefined) values.push(final);
      return fn.fn(values);
    } catch (e) {
      if (e instanceof FuncError) throw err(pos, `error calling ${fname}: ${e.message}`);
      throw e;
    }
  }

  function evalCommand(cmd: Command, dot: unknown, final: unknown, first: boolean): unknown {
    const [head, ...rest] = cmd.args as [Arg, ...Arg[]];
    if (head.type === 'function') return callFunction(head.name, rest, dot, first ? undefined : final, head.pos);
    const hasArgs = rest.length > 0 || !first;
    switch (head.type) {
      case 'field':
        if (hasArgs) throw err(head.pos, `${head.names[head.names.length - 1]} has arguments but cannot be invoked as function`);
        return fieldChain(dot, head.names, head.pos, false);
      case 'variable':
        if (hasArgs && head.fields.length > 0) throw err(head.pos, `${head.fields[head.fields.length - 1]} has arguments but cannot be invoked as function`);
        if (hasArgs) throw err(head.pos, `can't give argument to non-function ${head.name}`);
        return evalArg(head, dot);
      case 'pipe':
        if (hasArgs) throw err(head.pos, `can't give argument to non-function`);
        return evalArg(head, dot);
      case 'nil':
        throw err(head.pos, 'nil is not a command');
      default:
        if (hasArgs) throw err(head.pos, `can't give argument to non-function ${formatValue(evalArg(head, dot), false)}`);
        return evalArg(head, dot);
    }
  }

  walkList(tpl.root, data);
  return out.join('');
}
