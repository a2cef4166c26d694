/** Which outputs the running executable drives. `auto` enables those whose section is present. */
export type Flavour = 'haproxy' | 'consul' | 'auto';

/** Every executable: what a kind that is not tied to one (Templates, hooks) lists as its flavours. */
export const EVERY_FLAVOUR: readonly Flavour[] = ['haproxy', 'consul', 'auto'];
