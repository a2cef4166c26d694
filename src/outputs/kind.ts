import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Flavour } from '../config/flavour.js';
import type { Output } from './types.js';

/**
 * One kind of output (HAProxy, Consul, Templates, Exec, Webhook): everything the rest of the
 * program needs to know about it, so that the config loader, the daemon, --check-config and the
 * man page iterate the registry (kinds.ts) instead of naming kinds one by one.
 */
export interface OutputKind<Section extends string = string, Value = unknown> {
  /** The word --check-config prints in its kind column. */
  readonly kind: string;
  /** The configuration file section (canonical spelling; users may write any case). */
  readonly section: Section;
  /** The section's shape, walked to map the user's keys onto the canonical ones and to warn about unknown keys. */
  readonly schema: z.ZodType;
  /** The executables that run it; the others ignore the section. */
  readonly flavours: readonly Flavour[];
  /** Output names this kind always takes (metrics, logs and the API key on them): entries named by the user may not use them. */
  readonly fixedNames: readonly string[];
  /** How the man page names it among the outputs every executable runs; kinds sharing a `group` are named together. */
  readonly manual?: { group: string; note?: string };
  /**
   * The raw (canonicalized) section, undefined when the file leaves it out, to the value outputs
   * are made from. Called only under `flavours`; no value and no problem means "not configured".
   */
  validate(raw: unknown, ctx: SectionContext): SectionResult<Value>;
  /** What --check-config lists, in the order create() makes them. */
  describe(value: Value): PlannedOutput[];
  create(value: Value, ctx: CreateContext): Output[];
}

export interface SectionContext {
  flavour: Flavour;
  /** The configured clusters (empty when the base configuration itself is invalid). */
  clusterNames: readonly string[];
  /** Values of the kinds validated before this one, by section (only when the base configuration is valid). */
  sections: Readonly<Record<string, unknown>>;
  /** Every kind's fixedNames, in registry order. */
  reservedNames: readonly string[];
}

export interface SectionResult<Value> {
  value?: Value;
  problems?: string[];
  warnings?: string[];
}

export interface CreateContext {
  logger: Logger;
  clusterNames: string[];
  /** At least one sentinel answers (outputs with health checks report failure otherwise). */
  sentinelsHealthy: () => boolean;
}

/** One output the daemon would run, as --check-config lists it. */
export interface PlannedOutput {
  /** The label in logs, /api/outputs and metrics. */
  name: string;
  kind: string;
  detail: string;
}
