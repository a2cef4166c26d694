import { TemplateError } from './error.js';
import { execute } from './exec.js';
import { BUILTINS } from './funcs.js';
import { parse, type ParsedTemplate } from './parser.js';

export { TemplateError } from './error.js';

/**
 * A small engine for Go's text/template language (the syntax of redishappy's HAProxy templates).
 * Data is plain JS: integer numbers act as Go int, other numbers as float64, arrays as slices,
 * Map objects as maps (missing key = no value) and plain objects as structs (missing field = error).
 * Only the data's own enumerable fields are visible; there is no eval and no function call-out.
 */
export interface Template {
  readonly name: string;
  execute(data: unknown): string;
}

const FUNCS = new Set(BUILTINS.keys());

export function parseTemplate(text: string, name: string): Template {
  const parsed: ParsedTemplate = parse(text, name, FUNCS);
  return {
    name,
    execute(data: unknown): string {
      try {
        return execute(parsed, text, name, data);
      } catch (err) {
        if (err instanceof TemplateError) throw err;
        if (err instanceof RangeError) throw TemplateError.at('exec', name, text, 0, `template too deeply nested: ${err.message}`);
        throw err;
      }
    },
  };
}
