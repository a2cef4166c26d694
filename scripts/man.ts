/**
 * Writes the man pages (section 8) from src/cli/manual.ts, the same source as --help:
 *   node --import tsx scripts/man.ts <out-dir>   → <out-dir>/redishappy{,-haproxy,-consul}.8
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TITLES, manPage } from '../src/cli/manual.js';

const out = process.argv[2];
if (!out) throw new Error('usage: scripts/man.ts <out-dir>');
const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
// A reproducible date: SOURCE_DATE_EPOCH when set (Debian's convention), else today.
const epoch = process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) * 1000 : Date.now();
const date = new Date(epoch).toISOString().slice(0, 10);
mkdirSync(out, { recursive: true });
for (const flavour of ['auto', 'haproxy', 'consul'] as const) writeFileSync(join(out, `${TITLES[flavour].name}.8`), manPage(flavour, version, date));
