// Bundles the daemon so start-up loads no node_modules and no TypeScript compiler. bin/*.js use it
// when present. Output (in dist/ or the directory given as argument):
//   redishappy.js        the entry (ESM, exports main): loads redishappy.cjs with V8's code cache
//   redishappy.cjs       the whole daemon, one CommonJS file (esbuild)
//   redishappy.cjs.cache V8 code cache of it, made here by a warm-up run (see scripts/code-cache.mjs)
//   spawn-helper.cjs     the small process that forks commands for the daemon (src/spawn/helper.ts)
//   redishappy.blob      V8 startup snapshot of the daemon, with redishappy.blob.stamp (see
//                        scripts/snapshot.mjs); `launch` (scripts/launch.sh) starts from it
//   launch               the packages' start script: snapshot when it fits this Node, else bundle
//   page/index.html      the status page
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { buildSnapshot, removeSnapshot } from './snapshot.mjs';
import { join, resolve } from 'node:path';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Optional argument: another output directory (the tests build into a temporary one).
const outDir = resolve(process.argv[2] ?? new URL('../dist', import.meta.url).pathname);
mkdirSync(`${outDir}/page`, { recursive: true });
const entry = new URL('../src/cli/main.ts', import.meta.url).pathname;
const options = {
  bundle: true,
  platform: 'node',
  // CommonJS: Node 20 has no code cache for ES modules, but vm.Script takes one (the loader).
  format: 'cjs',
  target: 'node20',
  // BUILD_MINIFY=0: readable names in --cpu-prof profiles.
  minify: process.env.BUILD_MINIFY !== '0',
  sourcemap: false,
  legalComments: 'none',
  charset: 'ascii',
  define: { __REDISHAPPY_VERSION__: JSON.stringify(pkg.version), 'import.meta.url': '__rhModuleUrl' },
  banner: { js: "const __rhModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};
await build({ ...options, entryPoints: [entry], outfile: `${outDir}/redishappy.cjs` });
// The spawner helper on its own: loading the whole daemon would make it as big as what it spares.
await build({
  entryPoints: [new URL('../src/spawn/helper.ts', import.meta.url).pathname],
  outfile: `${outDir}/spawn-helper.cjs`,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: process.env.BUILD_MINIFY !== '0',
  legalComments: 'none',
  charset: 'ascii',
  logLevel: 'warning',
});
// The entry: a copy of the loader (it finds redishappy.cjs beside itself).
copyFileSync(new URL('./code-cache.mjs', import.meta.url), `${outDir}/redishappy.js`);
// The status page is served from a file next to the module.
cpSync(new URL('../src/api/page/index.html', import.meta.url), `${outDir}/page/index.html`);

// Warm-up, with the V8 flags the launchers use (a cache made with other flags is rejected, then
// Node just compiles): a short daemon run with an unreachable sentinel, asked once for its API, so
// the code cache also holds what every start compiles (configuration, outputs, sentinel links,
// API). It stops on SIGTERM and writes the cache as it exits.
// BUILD_NODE_FLAGS: other launcher flags (measurements of V8 flags, bench/idle-memory.ts).
const flags = (process.env.BUILD_NODE_FLAGS ?? '--max-semi-space-size=1').split(' ').filter(Boolean);
const warm = mkdtempSync(join(tmpdir(), 'rh-build-'));
try {
  const config = join(warm, 'config.json');
  const socket = join(warm, 'api.sock');
  writeFileSync(join(warm, 'tpl.cfg'), 'defaults\n mode tcp\n{{range .Clusters}}\nbackend bk_{{ .Name }}\n server s {{ .Ip }}:{{ .Port }}\n{{end}}\n');
  writeFileSync(config, JSON.stringify({ Clusters: [{ Name: 'warm', ExternalPort: 6379 }], Sentinels: [{ Host: '127.0.0.1', Port: 1 }], Syslog: { Enabled: false }, HAProxy: { TemplatePath: join(warm, 'tpl.cfg'), OutputPath: join(warm, 'out.cfg'), ReloadCommand: 'true' } }));
  const runner = join(warm, 'run.mjs');
  writeFileSync(runner, `const { main } = await import(${JSON.stringify(`${outDir}/redishappy.js`)});\nawait main('haproxy');\n`);
  const child = spawn(process.execPath, [...flags, runner, '-config', config, '-bind', socket, '--log-level', 'silent'], { stdio: 'ignore', env: { ...process.env, REDISHAPPY_CODE_CACHE: 'write' } });
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + 30000;
  let answered = false;
  while (!answered && Date.now() < deadline && child.exitCode === null) {
    answered = await new Promise((r) => get({ socketPath: socket, path: '/api/ping' }, (res) => res.resume().once('end', () => r(res.statusCode === 200))).once('error', () => setTimeout(() => r(false), 50)));
  }
  child.kill('SIGTERM');
  await exited;
  if (!answered) console.warn('build: the warm-up daemon did not answer; the code cache covers less');
} finally {
  rmSync(warm, { recursive: true, force: true });
}
// Built with the launchers' V8 flags, as the code cache, so the heap it holds is sized alike.
// BUILD_SNAPSHOT=0 skips it (launch then always starts from the bundle).
if (process.env.BUILD_SNAPSHOT !== '0') await buildSnapshot(outDir, entry, options, flags);
else removeSnapshot(outDir);
copyFileSync(new URL('./launch.sh', import.meta.url), `${outDir}/launch`);
chmodSync(`${outDir}/launch`, 0o755);
console.log(`built ${outDir}/redishappy.js`);
