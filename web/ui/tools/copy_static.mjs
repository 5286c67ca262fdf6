// Copies the pages (web/ui/src) and the browser files of the npm libraries (web/ui/node_modules)
// into the static root the server serves. No bundler: the pages are small ES modules that import
// the libraries by their path under /static/lib/.
//
//   node copy_static.mjs --out <build/web/static>
//
// Everything under --out except data/ (the converted map, build_map.mjs's output) is replaced,
// so a file removed from src/ disappears from the static root too.

import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const uiDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const modules = join(uiDir, 'node_modules');

// [package, file in the package, destination under lib/]. Each package's licence goes along.
const kLibraries = [
  ['leaflet', 'dist/leaflet-src.esm.js', 'leaflet/leaflet-src.esm.js'],
  ['leaflet', 'dist/leaflet.css', 'leaflet/leaflet.css'],
  ['leaflet', 'dist/images', 'leaflet/images'],
  ['leaflet', 'LICENSE', 'leaflet/LICENSE'],
  ['supercluster', 'dist/supercluster.min.js', 'supercluster/supercluster.min.js'],
  ['supercluster', 'LICENSE', 'supercluster/LICENSE'],
  ['echarts', 'dist/echarts.min.js', 'echarts/echarts.min.js'],
  ['echarts', 'dist/echarts.esm.min.mjs', 'echarts/echarts.esm.min.mjs'],
  ['echarts', 'LICENSE', 'echarts/LICENSE'],
  ['gcoord', 'dist/gcoord.esm-browser.prod.js', 'gcoord/gcoord.esm-browser.prod.js'],
  ['gcoord', 'LICENSE', 'gcoord/LICENSE'],
];

function fail(message) {
  console.error(`copy_static: ${message}`);
  process.exit(1);
}

const { values } = parseArgs({ options: { out: { type: 'string' } } });
if (!values.out) fail('usage: copy_static.mjs --out DIR');
if (!existsSync(modules))
  fail(`${modules} is missing: run tools/setup.sh (it runs npm ci in web/ui)`);

mkdirSync(values.out, { recursive: true });
for (const entry of readdirSync(values.out)) {
  if (entry !== 'data') rmSync(join(values.out, entry), { recursive: true, force: true });
}
cpSync(join(uiDir, 'src'), values.out, { recursive: true });

for (const [pkg, from, to] of kLibraries) {
  const source = join(modules, pkg, from);
  if (!existsSync(source)) fail(`${source} is missing: is web/ui/node_modules up to date?`);
  cpSync(source, join(values.out, 'lib', to), { recursive: true });
}
const versions = kLibraries
  .map(([pkg]) => pkg)
  .filter((p, i, all) => all.indexOf(p) === i)
  .map((p) => `${p}@${JSON.parse(readFileSync(join(modules, p, 'package.json'), 'utf8')).version}`);
console.log(`copy_static: pages and ${versions.join(', ')} -> ${values.out}`);
