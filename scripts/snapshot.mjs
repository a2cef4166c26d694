// V8 startup snapshot of the daemon (scripts/build.mjs calls buildSnapshot). A process started
// with `node --snapshot-blob redishappy.blob ENTRY` begins with every module of the bundle already
// evaluated (prom-client too), so it skips compiling and evaluating them. The blob is only valid
// for the Node binary that made it: redishappy.blob.stamp holds what scripts/launch.sh compares
// before it passes the blob to Node (Node exits on a blob of another version and V8 aborts on a
// damaged one, so that check cannot be left to them).
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// Built-ins whose native parts V8 cannot serialise on Node 20 (the build aborts: "Check failed:
// handle_checker.CheckGlobalAndEternalHandles()" for http/http2's parser bindings, "Unknown
// external reference" for tls's JSStream). The bundle only requires them at module level and
// uses them later, so in the snapshot they are stand-ins that load the real module on first use.
const DEFERRED = ['http', 'https', 'http2', 'tls'];

/** Own string keys of each deferred module, so that esbuild's __toESM can copy them without loading it. */
function deferredKeys() {
  const require = createRequire(import.meta.url);
  return Object.fromEntries(DEFERRED.map((id) => [id, Reflect.ownKeys(require(id)).filter((k) => typeof k === 'string')]));
}

/** The script Node runs with --build-snapshot: the bundle, with deferred built-ins, published on globalThis. */
export function builderScript(bundleSource, bundleFile, keys) {
  return `'use strict';
const KEYS = ${JSON.stringify(keys)};
const builtin = require;
function deferred(id, keys) {
  let real;
  const load = () => (real ??= builtin(id));
  // Built-ins are not ES modules: answering __esModule must not load one.
  return new Proxy({}, {
    get: (_t, k) => (k === '__esModule' ? undefined : load()[k]),
    has: (_t, k) => keys.includes(k),
    ownKeys: () => keys,
    getOwnPropertyDescriptor: (_t, k) => (keys.includes(k) ? { configurable: true, enumerable: true, writable: true, value: undefined } : undefined),
  });
}
function snapshotRequire(id) {
  const keys = KEYS[id.startsWith('node:') ? id.slice(5) : id];
  return keys ? deferred(id, keys) : builtin(id);
}
const module = { exports: {} };
(function (exports, require, module, __filename, __dirname) {
${bundleSource}
})(module.exports, snapshotRequire, module, ${JSON.stringify(bundleFile)}, ${JSON.stringify(dirname(bundleFile))});
globalThis.__redishappySnapshot = module.exports;
`;
}

/**
 * Writes <outDir>/redishappy.blob and its stamp; returns false (and leaves neither) when Node
 * cannot make one, so the build still ships the bundle.
 * `esbuildOptions`: the bundle's own options (define, target...), reused for the same code.
 */
export async function buildSnapshot(outDir, entry, esbuildOptions, nodeFlags) {
  const blob = join(outDir, 'redishappy.blob');
  // A blob left by an earlier build would still match its own stamp: with the old code in it.
  removeSnapshot(outDir);
  const work = mkdtempSync(join(tmpdir(), 'rh-snapshot-'));
  try {
    const bundleFile = join(work, 'daemon.cjs');
    // import.meta.url must name the installed files at run time, not the build's: the snapshot's
    // copy is an object the entry (scripts/code-cache.mjs) points at the installation.
    await build({
      ...esbuildOptions,
      stdin: { contents: `export { main } from ${JSON.stringify(entry)};\nimport 'prom-client';\n`, resolveDir: dirname(entry), sourcefile: 'snapshot-entry.ts', loader: 'ts' },
      entryPoints: undefined,
      outfile: bundleFile,
      define: { ...esbuildOptions.define, 'import.meta.url': '__rhPlace.url' },
      banner: { js: "const __rhPlace = { url: require('node:url').pathToFileURL(__filename).href };" },
      footer: { js: 'module.exports.place = __rhPlace;' },
    });
    const builder = join(work, 'builder.cjs');
    writeFileSync(builder, builderScript(readFileSync(bundleFile, 'latin1'), bundleFile, deferredKeys()));
    const tmp = `${blob}.${process.pid}.tmp`;
    // --no-warnings: Node warns about every built-in it has not verified in snapshots (child_process,
    // tty, ...); the tests run the snapshot-started daemon through a real failover instead.
    const made = spawnSync(process.execPath, [...nodeFlags, '--no-warnings', '--snapshot-blob', tmp, '--build-snapshot', builder], { encoding: 'utf8', cwd: work });
    if (made.status !== 0) {
      rmSync(tmp, { force: true });
      console.warn(`build: no startup snapshot (node --build-snapshot exited ${made.status ?? made.signal}): ${(made.stderr || made.stdout).split('\n').slice(0, 5).join(' ')}`);
      return false;
    }
    let stamp;
    try {
      stamp = snapshotStamp(tmp);
    } catch (err) {
      rmSync(tmp, { force: true });
      console.warn(`build: no startup snapshot (no stamp: ${err.message})`);
      return false;
    }
    renameSync(tmp, blob);
    writeFileSync(`${blob}.stamp`, `${stamp}\n`);
    return true;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function removeSnapshot(outDir) {
  for (const f of ['redishappy.blob', 'redishappy.blob.stamp']) rmSync(join(outDir, f), { force: true });
}

/** What scripts/launch.sh computes at each start: `node --version`, `uname -sm`, `cksum < blob`. */
export function snapshotStamp(blob) {
  const out = (cmd, args, input) => execFileSync(cmd, args, { encoding: 'utf8', input }).trim();
  return `${process.version} ${out('uname', ['-sm'])} ${out('cksum', [], readFileSync(blob))}`;
}
