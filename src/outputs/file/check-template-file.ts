import { readFileSync, statSync } from 'node:fs';
import { parseTemplate, TemplateError } from '../../template/index.js';

/** Config-time check of a TemplatePath: a readable file that parses; `field` names it in the problem. */
export function checkTemplateFile(path: string, field: string): string[] {
  try {
    if (!statSync(path).isFile()) return [`${field}: ${path} is not a file`];
    parseTemplate(readFileSync(path, 'utf8'), path);
    return [];
  } catch (err) {
    if (err instanceof TemplateError) return [`${field}: template does not parse: ${err.message}`];
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [`${field}: template file ${path} does not exist`];
    return [`${field}: cannot read template file ${path} (${code ?? String(err)})`];
  }
}
