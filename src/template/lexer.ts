import { TemplateError } from './error.js';

/** Tokens inside an action `{{ ... }}`, plus the text between actions. */
export type TokenKind =
  | 'text'
  | 'open' // {{
  | 'close' // }}
  | 'field' // .Name (value = "Name")
  | 'chain' // .Name directly attached to the previous term (.A.B, $x.A, (pipe).A)
  | 'dot' // .
  | 'variable' // $ or $name (value includes $)
  | 'identifier' // function names and keywords
  | 'string' // "..." or `...` (value = decoded)
  | 'char' // 'a' (value = code point as decimal string)
  | 'number'
  | 'pipe' // |
  | 'lparen'
  | 'rparen'
  | 'declare' // :=
  | 'assign' // =
  | 'comma'
  | 'comment'
  | 'eof';

export interface Token {
  kind: TokenKind;
  value: string;
  pos: number;
}

const SPACE = /[ \t\r\n]/;

/** Go's text/template lexer, for the default delimiters. */
export function lex(text: string, name: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const err = (pos: number, msg: string) => TemplateError.at('parse', name, text, pos, msg);

  while (i < text.length) {
    const open = text.indexOf('{{', i);
    if (open < 0) {
      tokens.push({ kind: 'text', value: text.slice(i), pos: i });
      break;
    }
    let textEnd = open;
    let inner = open + 2;
    // "{{- " trims white space before the action (the dash must be followed by a space).
    if (text[inner] === '-' && SPACE.test(text[inner + 1] ?? '')) {
      while (textEnd > i && SPACE.test(text[textEnd - 1]!)) textEnd--;
      inner += 2;
    }
    if (textEnd > i) tokens.push({ kind: 'text', value: text.slice(i, textEnd), pos: i });
    tokens.push({ kind: 'open', value: '{{', pos: open });
    i = lexAction(text, inner, tokens, err);
  }
  tokens.push({ kind: 'eof', value: '', pos: text.length });
  return tokens;
}

function lexAction(text: string, start: number, tokens: Token[], err: (pos: number, msg: string) => TemplateError): number {
  let i = start;
  const closeAt = (pos: number): number | null => (text.startsWith('}}', pos) ? pos + 2 : null);
  // Comments must fill the action: {{/* ... */}} (optionally with trim markers).
  {
    if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw err(i, 'unclosed comment');
      let j = end + 2;
      let trimAfter = false;
      if (text[j] === ' ' && text[j + 1] === '-' && text.startsWith('}}', j + 2)) {
        trimAfter = true;
        j += 2;
      }
      const after = closeAt(j);
      if (after === null) throw err(j, 'comment ends before closing delimiter');
      tokens.push({ kind: 'comment', value: '', pos: i });
      tokens.push({ kind: 'close', value: '}}', pos: j });
      return trimAfter ? skipSpace(text, after) : after;
    }
  }
  for (;;) {
    const c = text[i];
    if (c === undefined) throw err(start, 'unclosed action');
    // " -}}" trims white space after the action.
    if (SPACE.test(c) && text[i + 1] === '-' && text.startsWith('}}', i + 2)) {
      tokens.push({ kind: 'close', value: '}}', pos: i + 2 });
      return skipSpace(text, i + 4);
    }
    if (text.startsWith('}}', i)) {
      tokens.push({ kind: 'close', value: '}}', pos: i });
      return i + 2;
    }
    if (SPACE.test(c)) {
      i++;
      continue;
    }
    const pos = i;
    if (c === '|') {
      tokens.push({ kind: 'pipe', value: '|', pos });
      i++;
    } else if (c === '(') {
      tokens.push({ kind: 'lparen', value: '(', pos });
      i++;
    } else if (c === ')') {
      tokens.push({ kind: 'rparen', value: ')', pos });
      i = lexFieldChain(text, i + 1, tokens);
    } else if (c === ',') {
      tokens.push({ kind: 'comma', value: ',', pos });
      i++;
    } else if (c === ':' && text[i + 1] === '=') {
      tokens.push({ kind: 'declare', value: ':=', pos });
      i += 2;
    } else if (c === '=') {
      tokens.push({ kind: 'assign', value: '=', pos });
      i++;
    } else if (c === '"') {
      const [value, end] = lexQuoted(text, i, err);
      tokens.push({ kind: 'string', value, pos });
      i = end;
    } else if (c === '`') {
      const end = text.indexOf('`', i + 1);
      if (end < 0) throw err(i, 'unterminated raw quoted string');
      tokens.push({ kind: 'string', value: text.slice(i + 1, end).replace(/\r/g, ''), pos });
      i = end + 1;
    } else if (c === "'") {
      const [value, end] = lexChar(text, i, err);
      tokens.push({ kind: 'char', value, pos });
      i = end;
    } else if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(text.slice(i))!;
      tokens.push({ kind: 'variable', value: m[0], pos });
      i += m[0].length;
      i = lexFieldChain(text, i, tokens);
    } else if (c === '.') {
      if (/[0-9]/.test(text[i + 1] ?? '')) {
        i = lexNumber(text, i, tokens, err);
      } else if (/[A-Za-z_]/.test(text[i + 1] ?? '')) {
        const m = /^\.([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i))!;
        tokens.push({ kind: 'field', value: m[1]!, pos });
        i = lexFieldChain(text, i + m[0].length, tokens);
      } else {
        tokens.push({ kind: 'dot', value: '.', pos });
        i++;
      }
    } else if (/[0-9+-]/.test(c)) {
      i = lexNumber(text, i, tokens, err);
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      tokens.push({ kind: 'identifier', value: m[0], pos });
      i += m[0].length;
      i = lexFieldChain(text, i, tokens);
    } else {
      throw err(i, `unexpected ${JSON.stringify(c)} in command`);
    }
  }
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && SPACE.test(text[i]!)) i++;
  return i;
}

/** `.A.B` directly after a term: each becomes a field token. */
function lexFieldChain(text: string, i: number, tokens: Token[]): number {
  for (;;) {
    const m = /^\.([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i));
    if (!m) return i;
    tokens.push({ kind: 'chain', value: m[1]!, pos: i });
    i += m[0].length;
  }
}

function lexNumber(text: string, i: number, tokens: Token[], err: (pos: number, msg: string) => TemplateError): number {
  const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)/.exec(text.slice(i));
  const s = m?.[0] ?? '';
  if (s === '' || s === '+' || s === '-' || s === '.') throw err(i, `bad number syntax: ${JSON.stringify(text.slice(i, i + 10).split(/[\s}]/)[0])}`);
  const next = text[i + s.length];
  if (next !== undefined && /[A-Za-z0-9_.]/.test(next)) throw err(i, `bad number syntax: ${JSON.stringify(text.slice(i, i + s.length + 1))}`);
  tokens.push({ kind: 'number', value: s, pos: i });
  return i + s.length;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v' };

function lexEscape(text: string, i: number, err: (pos: number, msg: string) => TemplateError): [string, number] {
  const c = text[i + 1];
  if (c !== undefined && c in ESCAPES) return [ESCAPES[c]!, i + 2];
  const hex = (len: number) => {
    const h = text.slice(i + 2, i + 2 + len);
    if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(h)) throw err(i, 'invalid syntax');
    return Number.parseInt(h, 16);
  };
  if (c === 'x') return [String.fromCharCode(hex(2)), i + 4];
  if (c === 'u') return [String.fromCodePoint(hex(4)), i + 6];
  if (c === 'U') return [String.fromCodePoint(hex(8)), i + 10];
  if (c !== undefined && /[0-7]/.test(c)) {
    const o = text.slice(i + 1, i + 4);
    if (!/^[0-7]{3}$/.test(o)) throw err(i, 'invalid syntax');
    return [String.fromCharCode(Number.parseInt(o, 8)), i + 4];
  }
  throw err(i, 'invalid syntax');
}

function lexQuoted(text: string, start: number, err: (pos: number, msg: string) => TemplateError): [string, number] {
  let out = '';
  let i = start + 1;
  for (;;) {
    const c = text[i];
    if (c === undefined || c === '\n') throw err(start, 'unterminated quoted string');
    if (c === '"') return [out, i + 1];
    if (c === '\\') {
      const [s, next] = lexEscape(text, i, err);
      out += s;
      i = next;
    } else {
      out += c;
      i++;
    }
  }
}

function lexChar(text: string, start: number, err: (pos: number, msg: string) => TemplateError): [string, number] {
  let i = start + 1;
  let value: string;
  if (text[i] === '\\') {
    const [s, next] = lexEscape(text, i, err);
    value = s;
    i = next;
  } else {
    const cp = text.codePointAt(i);
    if (cp === undefined || text[i] === "'" || text[i] === '\n') throw err(start, 'unterminated character constant');
    value = String.fromCodePoint(cp);
    i += value.length;
  }
  if (text[i] !== "'") throw err(start, 'unterminated character constant');
  return [String(value.codePointAt(0)), i + 1];
}
