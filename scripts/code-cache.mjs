// The bundle's entry (scripts/build.mjs copies this file to <dist>/redishappy.js). In a process
// started from the startup snapshot (scripts/launch.sh) it exports the snapshot's main. Otherwise it runs
// redishappy.cjs, the whole daemon, from V8's code cache when one matches: compiling the 1.7 MB
// bundle is most of a cold start, and Node 20 has no compile cache of its own (Node 22's
// module.enableCompileCache()). The cache file holds the SHA-256 of the exact source it was made
// from: it is only used for those bytes, and V8 itself refuses one made by another V8 version or
// with other flags (then Node simply compiles, as without a cache).
// REDISHAPPY_CODE_CACHE=0 turns it off; =write writes it when the process exits (the build);
// =check says on standard error whether it was used (the tests).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';

const file = fileURLToPath(new URL('./redishappy.cjs', import.meta.url));
const cacheFile = `${file}.cache`;
const mode = process.env.REDISHAPPY_CODE_CACHE;
// Started from the startup snapshot (launch, scripts/snapshot.mjs): the daemon is already loaded.
// Its import.meta.url still names the build's directory: point it here, where the page is.
const snapshot = globalThis.__redishappySnapshot;
if (snapshot) {
  snapshot.place.url = pathToFileURL(file).href;
  if (mode === 'check') process.stderr.write('startup snapshot: used\n');
}

/** Runs redishappy.cjs (with the code cache when it fits) and returns its exports. */
function load() {
  let bytes = readFileSync(file);
  const digest = createHash('sha256').update(bytes).digest();
  // The build writes ASCII only (esbuild's charset: 'ascii'): latin1 decodes it fastest.
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${bytes.toString('latin1')}\n})`;
  bytes = null; // the buffers are not kept: V8 has the source, and its own copy of the cache
  let cachedData;
  if (mode !== '0') {
    try {
      const buf = readFileSync(cacheFile);
      if (buf.length > digest.length && buf.subarray(0, digest.length).equals(digest)) cachedData = buf.subarray(digest.length);
    } catch {
      // No cache: compile.
    }
  }
  const script = new vm.Script(wrapped, { filename: file, cachedData });
  const cacheUsed = cachedData !== undefined && !script.cachedDataRejected;
  if (mode === 'check') process.stderr.write(`code cache: ${cacheUsed ? 'used' : cachedData === undefined ? 'none' : 'rejected'}\n`);
  cachedData = null;
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, createRequire(file), mod, file, dirname(file));

  /** Writes the cache beside the bundle (atomically); a read-only installation keeps the build's. */
  function save() {
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, Buffer.concat([digest, script.createCachedData()]));
      renameSync(tmp, cacheFile);
    } catch {
      // Not writable: fine.
    }
  }
  if (mode === 'write') process.once('exit', save);
  // Missing or refused (another Node than the build's): make one once this daemon has started,
  // so that it also holds the functions compiled during start-up.
  else if (mode !== '0' && !cacheUsed) setTimeout(save, 10000).unref();
  return mod.exports;
}

export const main = (snapshot ?? load()).main;
