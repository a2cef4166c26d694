// Bundles the daemon into one file (dist/redishappy.js) so start-up loads no node_modules and no
// TypeScript compiler. bin/*.js use it when present.
import { build } from 'esbuild';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';

import { resolve } from 'node:path';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Optional argument: another output directory (the tests build into a temporary one).
const outDir = resolve(process.argv[2] ?? new URL('../dist', import.meta.url).pathname);
mkdirSync(`${outDir}/page`, { recursive: true });
await build({
  entryPoints: [new URL('../src/cli/main.ts', import.meta.url).pathname],
  outfile: `${outDir}/redishappy.js`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  define: { __REDISHAPPY_VERSION__: JSON.stringify(pkg.version) },
  // Some dependencies (pino's helpers) still call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __rhCreateRequire } from 'node:module'; const require = __rhCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
// The status page is served from a file next to the module.
cpSync(new URL('../src/api/page/index.html', import.meta.url), `${outDir}/page/index.html`);
console.log(`built ${outDir}/redishappy.js`);
