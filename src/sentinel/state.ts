/** Sentinel health states, numbered as the original's /api/sentinels reported them. */
export const SentinelState = {
  Up: 1,
  Down: 2,
  Alive: 3,
  Unknown: 4,
} as const;
export type SentinelStateValue = (typeof SentinelState)[keyof typeof SentinelState];

export const stateName: Record<SentinelStateValue, string> = {
  1: 'up',
  2: 'down',
  3: 'alive',
  4: 'unknown',
};
