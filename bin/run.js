// Shared launcher: use the single-file bundle when built (npm run build), else run the TypeScript sources through tsx.
import { existsSync } from 'node:fs';

export async function run(flavour) {
  const bundle = new URL('../dist/redishappy.js', import.meta.url);
  if (existsSync(bundle)) {
    const { main } = await import(bundle.href);
    return main(flavour);
  }
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  return main(flavour);
}
