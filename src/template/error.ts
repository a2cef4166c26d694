/** A template problem with its position: `file:line:column: detail`. */
export class TemplateError extends Error {
  constructor(
    readonly kind: 'parse' | 'exec',
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: ${detail}`);
    this.name = 'TemplateError';
  }

  static at(kind: 'parse' | 'exec', file: string, text: string, pos: number, detail: string): TemplateError {
    const before = text.slice(0, pos).split('\n');
    return new TemplateError(kind, file, before.length, (before[before.length - 1]?.length ?? 0) + 1, detail);
  }
}
