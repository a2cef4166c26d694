import { distance } from 'fastest-levenshtein';
import { z } from 'zod';

/**
 * The original (Go encoding/json) matched JSON keys case-insensitively and ignored unknown keys.
 * We keep that: user keys are mapped onto the schema's canonical (PascalCase) keys by walking the
 * zod schema, and unknown keys are reported back so the loader can warn about them.
 */
export interface CanonicalizeResult {
  value: unknown;
  unknownKeys: string[];
  /** Unknown key path → the known key it is closest to (a likely misspelling), when one is close. */
  didYouMean: Map<string, string>;
}

/** The known key a misspelt one most likely meant: at most 2 edits away (1 for keys of 3 letters or fewer), else none. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const limit = key.length <= 3 ? 1 : 2;
  let best: { key: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d <= limit && (!best || d < best.d)) best = { key: k, d };
  }
  return best?.key;
}

type AnySchema = z.ZodType;

function unwrap(schema: AnySchema): AnySchema {
  let s: AnySchema = schema;
  // Optional / default / nullable wrappers all expose unwrap().
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable) {
    s = s.unwrap() as AnySchema;
  }
  return s;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

export function canonicalize(value: unknown, schema: AnySchema): CanonicalizeResult {
  const unknownKeys: string[] = [];
  const didYouMean = new Map<string, string>();
  const walk = (v: unknown, s: AnySchema, path: PropertyKey[]): unknown => {
    let inner = unwrap(s);
    // A key that takes a value or an object (Verify: false | { Host, ... }): an object value is
    // walked with the object option, so its keys are matched like any other.
    if (inner instanceof z.ZodUnion && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const objectOption = (inner.options as AnySchema[]).map(unwrap).find((o) => o instanceof z.ZodObject);
      if (objectOption) inner = objectOption;
    }
    if (inner instanceof z.ZodObject && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const shape = inner.shape as Record<string, AnySchema>;
      const byLower = new Map(Object.keys(shape).map((k) => [k.toLowerCase(), k]));
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(v as Record<string, unknown>)) {
        const canonical = byLower.get(key.toLowerCase());
        if (canonical === undefined) {
          const where = formatPath([...path, key]);
          unknownKeys.push(where);
          const near = closestKey(key, Object.keys(shape));
          if (near) didYouMean.set(where, near);
          continue;
        }
        const childSchema = shape[canonical];
        out[canonical] = childSchema ? walk(child, childSchema, [...path, canonical]) : child;
      }
      return out;
    }
    if (inner instanceof z.ZodArray && Array.isArray(v)) {
      return v.map((item, i) => walk(item, inner.element as AnySchema, [...path, i]));
    }
    if (inner instanceof z.ZodRecord && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(v as Record<string, unknown>)) {
        out[key] = walk(child, inner.valueType as AnySchema, [...path, key]);
      }
      return out;
    }
    return v;
  };
  return { value: walk(value, schema, []), unknownKeys, didYouMean };
}
