import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from '../harness/index.js';
import { runNode, type DaemonProcess } from './daemon-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let built: string | undefined;

/**
 * The single-file bundle the packages install. REDISHAPPY_BUNDLE may name one already built
 * (e.g. the one a package ships); otherwise it is built once per test file into a temporary
 * directory with scripts/build.mjs, so the test never runs a stale dist/.
 */
export function bundlePath(): string {
  if (built) return built;
  const given = process.env.REDISHAPPY_BUNDLE;
  if (given) {
    if (!existsSync(given)) throw new Error(`REDISHAPPY_BUNDLE=${given} does not exist`);
    return (built = given);
  }
  const out = mkdtempSync(join(tmpdir(), 'rh-bundle-'));
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), out], { stdio: 'pipe' });
  return (built = join(out, 'redishappy.js'));
}

/** Run the bundle as a real child process from a directory with no node_modules; killed on cleanup. */
export function runBundle(cleanup: Cleanup, flavour: 'auto' | 'haproxy' | 'consul', args: string[], env: NodeJS.ProcessEnv = {}): DaemonProcess {
  const bundle = bundlePath();
  const dir = mkdtempSync(join(tmpdir(), 'rh-bundle-run-'));
  const runner = join(dir, 'run.mjs');
  writeFileSync(runner, `const { main } = await import(${JSON.stringify(bundle)});\nawait main(${JSON.stringify(flavour)});\n`);
  return runNode(cleanup, [runner, ...args], env, dir);
}
