/**
 * How plain JS data maps onto Go's value kinds: integer numbers are `int`, other numbers
 * `float64` (or a GoFloat for float literals such as `1.0`), arrays are slices, Map objects
 * are maps, and plain objects are structs (a missing field is an error, as in Go).
 */
export class GoFloat {
  constructor(readonly value: number) {}
}

/** A missing value (Go's invalid reflect.Value): prints "<no value>". */
export const NO_VALUE: unique symbol = Symbol('no value');
export type Missing = typeof NO_VALUE;

export type Kind = 'invalid' | 'nil' | 'bool' | 'int' | 'float' | 'string' | 'slice' | 'map' | 'struct';

export function kindOf(v: unknown): Kind {
  if (v === NO_VALUE || v === undefined) return 'invalid';
  if (v === null) return 'nil';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (v instanceof GoFloat) return 'float';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v)) return 'slice';
  if (v instanceof Map) return 'map';
  return 'struct';
}

export function num(v: unknown): number {
  return v instanceof GoFloat ? v.value : (v as number);
}

/** Go type names, as fmt reports them in %!verb(type=value). */
export function typeName(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return '<nil>';
    case 'bool':
      return 'bool';
    case 'int':
      return 'int';
    case 'float':
      return 'float64';
    case 'string':
      return 'string';
    case 'slice':
      return '[]interface {}';
    case 'map':
      return 'map[string]interface {}';
    case 'struct':
      return 'struct';
  }
}

/** Go's truth: false, 0, "", nil, and empty slices/maps are false. */
export function truth(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return false;
    case 'bool':
      return v as boolean;
    case 'int':
    case 'float':
      return num(v) !== 0;
    case 'string':
      return (v as string).length > 0;
    case 'slice':
      return (v as unknown[]).length > 0;
    case 'map':
      return (v as Map<unknown, unknown>).size > 0;
    case 'struct':
      return true;
  }
}

/** Own, enumerable, non-prototype fields only: templates see data, never the object model. */
export function ownField(obj: object, name: string): { ok: true; value: unknown } | { ok: false } {
  if (name === '__proto__' || name === 'constructor' || name === 'prototype') return { ok: false };
  if (!Object.prototype.propertyIsEnumerable.call(obj, name)) return { ok: false };
  return { ok: true, value: (obj as Record<string, unknown>)[name] };
}

export function sortedMapKeys(m: Map<unknown, unknown>): unknown[] {
  return [...m.keys()].sort((a, b) => {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    const x = String(a);
    const y = String(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** UTF-8 byte length, which is what Go's len returns for strings. */
export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
