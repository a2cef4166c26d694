import type { Flavour } from '../config/flavour.js';
import { consulKind } from './consul/kind.js';
import { haproxyKind } from './haproxy/kind.js';
import { execKind, webhookKind } from './hooks/kind.js';
import type { OutputKind } from './kind.js';
import { templateKind } from './template/kind.js';

/**
 * Every output kind, in the order outputs are validated, created and listed (--check-config,
 * /api/outputs, metrics). Adding a kind is its kind.ts and one line here.
 */
export const OUTPUT_KINDS = [haproxyKind, consulKind, templateKind, execKind, webhookKind] as const;

type ValueOf<K> = K extends OutputKind<string, infer Value> ? Value : never;

/** The validated sections as the configuration holds them: `HAProxy?: HaproxySection`, ... */
export type OutputSections = { [K in (typeof OUTPUT_KINDS)[number] as K['section']]?: ValueOf<K> };

/** The kinds an executable runs, in registry order. */
export function kindsFor(flavour: Flavour): OutputKind[] {
  return OUTPUT_KINDS.filter((k) => k.flavours.includes(flavour));
}

/** A kind's value in a loaded configuration (undefined when the section is absent or not run). */
export function sectionValue(config: object, kind: OutputKind): unknown {
  return (config as Record<string, unknown>)[kind.section];
}
