import { sprint, sprintf, sprintln } from './format.js';
import { GoFloat, NO_VALUE, byteLength, kindOf, num, truth, typeName, type Kind } from './values.js';

/** A builtin receives evaluated arguments, except and/or which receive thunks (they short-circuit). */
export type Builtin = { lazy: false; fn: (args: unknown[]) => unknown } | { lazy: true; fn: (args: Array<() => unknown>) => unknown };

export class FuncError extends Error {}

const fail = (msg: string): never => {
  throw new FuncError(msg);
};

function basic(k: Kind): 'bool' | 'int' | 'float' | 'string' | null {
  return k === 'bool' || k === 'int' || k === 'float' || k === 'string' ? k : null;
}

function eq2(a: unknown, b: unknown): boolean {
  const ka = kindOf(a);
  const kb = kindOf(b);
  const ba = basic(ka);
  const bb = basic(kb);
  if (ba && bb) {
    if (ba !== bb) return fail('incompatible types for comparison');
    return ba === 'float' || ba === 'int' ? num(a) === num(b) : a === b;
  }
  if ((ka === 'nil' || ka === 'invalid') && (kb === 'nil' || kb === 'invalid')) return true;
  if (ka === 'invalid' || kb === 'invalid') return fail('invalid type for comparison');
  if (ka === 'nil' || kb === 'nil') return fail('incompatible types for comparison');
  return fail(`non-comparable type ${formatKind(a)}: ${typeName(a)}`);
}

function formatKind(v: unknown): string {
  return typeName(v);
}

function lt2(a: unknown, b: unknown): boolean {
  const ba = basic(kindOf(a));
  const bb = basic(kindOf(b));
  if (!ba || !bb || ba === 'bool' || bb === 'bool') return fail('invalid type for comparison');
  if (ba !== bb) return fail('incompatible types for comparison');
  return ba === 'string' ? (a as string) < (b as string) : num(a) < num(b);
}

function indexOne(item: unknown, key: unknown): unknown {
  const k = kindOf(item);
  if (k === 'slice' || k === 'string') {
    if (kindOf(key) !== 'int') return fail(`cannot index slice/array with type ${typeName(key)}`);
    const i = key as number;
    const len = k === 'string' ? byteLength(item as string) : (item as unknown[]).length;
    if (i < 0 || i >= len) return fail(`index out of range: ${i}`);
    return k === 'string' ? Buffer.from(item as string, 'utf8')[i] : (item as unknown[])[i];
  }
  if (k === 'map') {
    const m = item as Map<unknown, unknown>;
    return m.has(key) ? m.get(key) : NO_VALUE;
  }
  if (k === 'invalid' || k === 'nil') return fail('index of untyped nil');
  return fail(`can't index item of type ${typeName(item)}`);
}

function sliceOf(item: unknown, idx: unknown[]): unknown {
  const k = kindOf(item);
  if (k !== 'slice' && k !== 'string') return fail(`can't slice item of type ${typeName(item)}`);
  if (idx.length > 3) return fail(`too many slice indexes: ${idx.length}`);
  if (k === 'string' && idx.length === 3) return fail('cannot 3-index slice a string');
  const len = k === 'string' ? byteLength(item as string) : (item as unknown[]).length;
  const n = idx.map((x) => (kindOf(x) === 'int' ? (x as number) : fail(`cannot index slice/array with type ${typeName(x)}`)));
  const lo = n[0] ?? 0;
  const hi = n[1] ?? len;
  if (lo < 0 || hi < lo || hi > len) return fail(`index out of range: ${hi > len ? hi : lo}`);
  if (k === 'string') return Buffer.from(item as string, 'utf8').subarray(lo, hi).toString('utf8');
  return (item as unknown[]).slice(lo, hi);
}

function lenOf(v: unknown): number {
  switch (kindOf(v)) {
    case 'string':
      return byteLength(v as string);
    case 'slice':
      return (v as unknown[]).length;
    case 'map':
      return (v as Map<unknown, unknown>).size;
    case 'invalid':
    case 'nil':
      return fail('len of nil pointer');
    default:
      return fail(`len of type ${typeName(v)}`);
  }
}

/** Go's template.HTMLEscapeString. */
function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => ({ '\0': '\uFFFD', '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

/** Go's template.JSEscapeString. */
function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === '<') out += '\\u003C';
    else if (ch === '>') out += '\\u003E';
    else if (ch === '&') out += '\\u0026';
    else if (ch === '=') out += '\\u003D';
    else if (cp < 0x20) out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

/** Go's url.QueryEscape. */
function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Go's evalArgs for html/js/urlquery: one string argument as is, else Sprint of them. */
function evalArgs(args: unknown[]): string {
  if (args.length === 1 && kindOf(args[0]) === 'string') return args[0] as string;
  return sprint(args);
}

export const BUILTINS: ReadonlyMap<string, Builtin> = new Map<string, Builtin>([
  [
    'and',
    {
      lazy: true,
      fn: (args) => {
        let v: unknown;
        for (const a of args) {
          v = a();
          if (!truth(v)) return v;
        }
        return v;
      },
    },
  ],
  [
    'or',
    {
      lazy: true,
      fn: (args) => {
        let v: unknown;
        for (const a of args) {
          v = a();
          if (truth(v)) return v;
        }
        return v;
      },
    },
  ],
  ['not', { lazy: false, fn: (args) => (args.length !== 1 ? fail(`wrong number of args for not: want 1 got ${args.length}`) : !truth(args[0])) }],
  ['len', { lazy: false, fn: (args) => (args.length !== 1 ? fail(`wrong number of args for len: want 1 got ${args.length}`) : lenOf(args[0])) }],
  [
    'index',
    {
      lazy: false,
      fn: (args) => {
        if (args.length < 1) return fail('wrong number of args for index: want at least 1 got 0');
        let v = args[0];
        for (const key of args.slice(1)) v = indexOne(v, key);
        return v;
      },
    },
  ],
  ['slice', { lazy: false, fn: (args) => (args.length < 1 ? fail('wrong number of args for slice: want at least 1 got 0') : sliceOf(args[0], args.slice(1))) }],
  ['print', { lazy: false, fn: (args) => sprint(args) }],
  ['println', { lazy: false, fn: (args) => sprintln(args) }],
  [
    'printf',
    {
      lazy: false,
      fn: (args) => {
        if (args.length < 1) return fail('wrong number of args for printf: want at least 1 got 0');
        if (kindOf(args[0]) !== 'string') return fail(`wrong type for value; expected string; got ${typeName(args[0])}`);
        return sprintf(args[0] as string, args.slice(1));
      },
    },
  ],
  [
    'eq',
    {
      lazy: false,
      fn: (args) => {
        if (args.length < 2) return fail('missing argument for comparison');
        return args.slice(1).some((b) => eq2(args[0], b));
      },
    },
  ],
  ['ne', { lazy: false, fn: (args) => (args.length !== 2 ? fail(`wrong number of args for ne: want 2 got ${args.length}`) : !eq2(args[0], args[1])) }],
  ['lt', { lazy: false, fn: (args) => (args.length !== 2 ? fail(`wrong number of args for lt: want 2 got ${args.length}`) : lt2(args[0], args[1])) }],
  ['le', { lazy: false, fn: (args) => (args.length !== 2 ? fail(`wrong number of args for le: want 2 got ${args.length}`) : lt2(args[0], args[1]) || eq2(args[0], args[1])) }],
  ['gt', { lazy: false, fn: (args) => (args.length !== 2 ? fail(`wrong number of args for gt: want 2 got ${args.length}`) : !lt2(args[0], args[1]) && !eq2(args[0], args[1])) }],
  ['ge', { lazy: false, fn: (args) => (args.length !== 2 ? fail(`wrong number of args for ge: want 2 got ${args.length}`) : !lt2(args[0], args[1])) }],
  ['html', { lazy: false, fn: (args) => htmlEscape(evalArgs(args)) }],
  ['js', { lazy: false, fn: (args) => jsEscape(evalArgs(args)) }],
  ['urlquery', { lazy: false, fn: (args) => queryEscape(evalArgs(args)) }],
  ['call', { lazy: false, fn: () => fail('call: templates here have no functions to call') }],
]);

export { GoFloat };
