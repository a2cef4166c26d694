import { after, type TestContext } from 'node:test';

/** LIFO list of clean-up steps; run() never throws and runs every step. */
export class Cleanup {
  private steps: Array<() => unknown> = [];

  add(fn: () => unknown | Promise<unknown>): void {
    this.steps.push(fn);
  }

  async run(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step();
      } catch {
        // keep going: every process must be stopped even if one step fails
      }
    }
  }
}

/** A Cleanup run automatically after the current test file or suite. */
export function useCleanup(): Cleanup {
  const c = new Cleanup();
  after(() => c.run());
  return c;
}

/** A Cleanup run when the current test ends (passed or failed), not at the end of the file. */
export function testCleanup(t: TestContext): Cleanup {
  const c = new Cleanup();
  t.after(() => c.run());
  return c;
}

/** Runs `fn` with its own Cleanup, run when `fn` settles. */
export async function withCleanup(fn: (cleanup: Cleanup) => Promise<void>): Promise<void> {
  const cleanup = new Cleanup();
  try {
    await fn(cleanup);
  } finally {
    await cleanup.run();
  }
}
