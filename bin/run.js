// Shared launcher: the single-file bundle when built (npm run build), else the TypeScript sources
// through tsx. REDISHAPPY_FROM_SOURCE=1 forces the sources (the tests use it).
import { existsSync } from 'node:fs';

export async function run(flavour) {
  const bundle = new URL('../dist/redishappy.js', import.meta.url);
  if (existsSync(bundle) && process.env.REDISHAPPY_FROM_SOURCE !== '1') {
    const { main } = await import(bundle.href);
    return main(flavour);
  }
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  return main(flavour);
}
