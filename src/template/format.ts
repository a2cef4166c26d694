import { GoFloat, kindOf, num, sortedMapKeys, typeName, NO_VALUE } from './values.js';

/** A subset of Go's fmt: %v printing, Sprint/Sprintln, and Sprintf with the common verbs and flags. */

function expPart(e: string): string {
  // JS "e+8" → Go "e+08"
  const m = /e([+-])(\d+)$/.exec(e);
  if (!m) return e;
  return e.replace(/e([+-])(\d+)$/, `e${m[1]}${m[2]!.padStart(2, '0')}`);
}

/** strconv.FormatFloat(v, 'g', prec, 64); prec -1 = shortest (which is also what %v prints). */
export function formatG(v: number, prec: number, sharp = false): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const shortest = prec < 0;
  const p = shortest ? -1 : Math.max(prec, 1);
  const [mant, ex] = (shortest ? v.toExponential() : v.toExponential(p - 1)).split('e') as [string, string];
  const exp = Number(ex);
  const digits = mant.replace('-', '').replace('.', '');
  let eprec = p;
  if (eprec > digits.length && digits.length >= exp + 1) eprec = digits.length;
  // Go: "if precision was the shortest possible, use precision 6 for this decision".
  if (shortest) eprec = 6;
  if (exp < -4 || exp >= eprec) {
    const m = !sharp && mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const out = v.toFixed(Math.min(Math.max(0, digits.length - 1 - exp), 100));
  return !sharp && out.includes('.') ? out.replace(/0+$/, '').replace(/\.$/, '') : out;
}

/** %v of a float64. */
export function formatFloatV(v: number): string {
  return formatG(v, -1);
}

export function formatValue(v: unknown, top = true): string {
  switch (kindOf(v)) {
    case 'invalid':
      return top ? '<no value>' : '<nil>';
    case 'nil':
      return '<nil>';
    case 'bool':
      return v ? 'true' : 'false';
    case 'int':
      return String(v);
    case 'float':
      return formatFloatV(num(v));
    case 'string':
      return v as string;
    case 'slice':
      return `[${(v as unknown[]).map((x) => formatValue(x, false)).join(' ')}]`;
    case 'map': {
      const m = v as Map<unknown, unknown>;
      return `map[${sortedMapKeys(m)
        .map((k) => `${formatValue(k, false)}:${formatValue(m.get(k), false)}`)
        .join(' ')}]`;
    }
    case 'struct':
      return `{${Object.keys(v as object)
        .map((k) => formatValue((v as Record<string, unknown>)[k], false))
        .join(' ')}}`;
  }
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && kindOf(a) !== 'string' && kindOf(args[i - 1]) !== 'string') out += ' ';
    out += formatValue(a, false);
  });
  return out;
}

export function sprintln(args: unknown[]): string {
  return `${args.map((a) => formatValue(a, false)).join(' ')}\n`;
}

/** strconv.Quote */
export function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if ((cp >= 0x80 && cp < 0xa0) || cp === 0xad || cp === 0x2028 || cp === 0x2029 || cp === 0xfeff || (cp >= 0xd800 && cp < 0xe000)) {
      out += cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width: number | null;
  prec: number | null;
}

function pad(s: string, spec: Spec, numeric: boolean): string {
  if (spec.width === null || s.length >= spec.width) return s;
  if (spec.minus) return s.padEnd(spec.width, ' ');
  if (spec.zero && numeric) {
    const sign = /^[+\- ]/.test(s) ? s[0]! : '';
    return sign + s.slice(sign.length).padStart(spec.width - sign.length, '0');
  }
  return s.padStart(spec.width, ' ');
}

function signed(n: string, negative: boolean, spec: Spec): string {
  if (negative) return `-${n}`;
  if (spec.plus) return `+${n}`;
  if (spec.space) return ` ${n}`;
  return n;
}

function bad(verb: string, v: unknown): string {
  if (kindOf(v) === 'invalid' || kindOf(v) === 'nil') return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(v)}=${formatValue(v, false)})`;
}

function formatOne(verb: string, v: unknown, spec: Spec): string {
  const k = kindOf(v);
  if (verb === 'T') return pad(typeName(v), spec, false);
  if (k === 'slice' && verb !== 'v' && verb !== 's' && verb !== 'q' && verb !== 'x' && verb !== 'X') {
    return `[${(v as unknown[]).map((x) => formatOne(verb, x, { ...spec, width: null })).join(' ')}]`;
  }
  switch (verb) {
    case 'v':
      if (k === 'float') return pad(signed(formatFloatV(Math.abs(num(v))), num(v) < 0, spec), spec, true);
      if (k === 'int') return pad(signed(String(Math.abs(v as number)), (v as number) < 0, spec), spec, true);
      if (k === 'string' && spec.sharp) return pad(quote(v as string), spec, false);
      return pad(formatValue(v, false), spec, false);
    case 's':
      if (k === 'string') return pad(spec.prec !== null ? [...(v as string)].slice(0, spec.prec).join('') : (v as string), spec, false);
      if (k === 'slice') return pad(`[${(v as unknown[]).map((x) => formatOne('s', x, { ...spec, width: null })).join(' ')}]`, spec, false);
      return bad('s', v);
    case 'q':
      if (k === 'string') return pad(spec.sharp && !(v as string).includes('`') ? `\`${v as string}\`` : quote(v as string), spec, false);
      if (k === 'int') return pad(`'${String.fromCodePoint(v as number)}'`, spec, false);
      return bad('q', v);
    case 'd':
      if (k === 'int') return pad(signed(String(Math.abs(v as number)), (v as number) < 0, spec), spec, true);
      return bad('d', v);
    case 'b':
    case 'o':
    case 'x':
    case 'X': {
      const radix = verb === 'b' ? 2 : verb === 'o' ? 8 : 16;
      if (k === 'int') {
        let s = Math.abs(v as number).toString(radix);
        if (verb === 'X') s = s.toUpperCase();
        if (spec.sharp) s = (verb === 'o' ? '0' : verb === 'x' ? '0x' : verb === 'X' ? '0X' : '') + s;
        return pad(signed(s, (v as number) < 0, spec), spec, true);
      }
      if (k === 'string' && radix === 16) {
        let s = Buffer.from(v as string, 'utf8').toString('hex');
        if (verb === 'X') s = s.toUpperCase();
        return pad(s, spec, false);
      }
      return bad(verb, v);
    }
    case 'c':
      if (k === 'int') return pad(String.fromCodePoint(v as number), spec, false);
      return bad('c', v);
    case 'U':
      if (k === 'int') return pad(`U+${(v as number).toString(16).toUpperCase().padStart(4, '0')}`, spec, false);
      return bad('U', v);
    case 't':
      if (k === 'bool') return pad(v ? 'true' : 'false', spec, false);
      return bad('t', v);
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      if (k !== 'float') return bad(verb, v);
      const x = num(v);
      const neg = x < 0 || Object.is(x, -0);
      const a = Math.abs(x);
      let s: string;
      if (verb === 'f' || verb === 'F') s = a.toFixed(spec.prec ?? 6);
      else if (verb === 'e' || verb === 'E') s = expPart(a.toExponential(spec.prec ?? 6));
      else s = formatG(a, spec.prec ?? -1, spec.sharp);
      if (verb === 'E' || verb === 'G') s = s.toUpperCase();
      return pad(signed(s, neg, spec), spec, true);
    }
    default:
      return `%!${verb}(${typeName(v)}=${formatValue(v, false)})`;
  }
}

/** fmt.Sprintf for the verbs templates use. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  let i = 0;
  while (i < format.length) {
    const c = format[i]!;
    if (c !== '%') {
      out += c;
      i++;
      continue;
    }
    i++;
    const spec: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false, width: null, prec: null };
    for (; i < format.length; i++) {
      const f = format[i];
      if (f === '-') spec.minus = true;
      else if (f === '+') spec.plus = true;
      else if (f === '#') spec.sharp = true;
      else if (f === ' ') spec.space = true;
      else if (f === '0') spec.zero = !spec.minus;
      else break;
    }
    if (format[i] === '*') {
      i++;
      const w = args[argi++];
      if (kindOf(w) === 'int') {
        spec.width = Math.abs(w as number);
        if ((w as number) < 0) spec.minus = true;
      } else out += '%!(BADWIDTH)';
    } else {
      const m = /^\d+/.exec(format.slice(i));
      if (m) {
        spec.width = Number(m[0]);
        i += m[0].length;
      }
    }
    if (format[i] === '.') {
      i++;
      if (format[i] === '*') {
        i++;
        const p = args[argi++];
        if (kindOf(p) === 'int') spec.prec = Math.max(0, p as number);
        else out += '%!(BADPREC)';
      } else {
        const m = /^\d+/.exec(format.slice(i));
        spec.prec = m ? Number(m[0]) : 0;
        if (m) i += m[0].length;
      }
    }
    const verb = format[i];
    if (verb === undefined) {
      out += '%!(NOVERB)';
      break;
    }
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const arg = args[argi++];
    out += formatOne(verb, arg === NO_VALUE ? null : arg, spec);
  }
  if (argi < args.length) {
    out += `%!(EXTRA ${args
      .slice(argi)
      .map((a) => `${typeName(a)}=${formatValue(a, false)}`)
      .join(', ')})`;
  }
  return out;
}

export { GoFloat };
