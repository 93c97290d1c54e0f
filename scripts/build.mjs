// Compiles the service (src/ and migrations/) to dist/ with `tsc -b`, which skips the work
// when nothing changed, and copies the files that are read at run time rather than
// imported (the sandbox's isolate bootstrap, GraphiQL's start script) beside their modules.
// Run by `npm install` (prepare) and before `npm start`. Where TypeScript is not installed
// (an install without dev dependencies) an existing build is used as it is.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist/src/main.js');

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  if (existsSync(entry)) process.exit(0);
  console.error('cepheus: dist/ is missing and TypeScript is not installed to build it; run `npm install` with dev dependencies, then `npm run build`.');
  process.exit(1);
}

const compiled = spawnSync(process.execPath, [tsc, '-b', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (compiled.status !== 0) {
  console.error('cepheus: the TypeScript build failed (see above).');
  process.exit(compiled.status ?? 1);
}

function copyRunTimeFiles(from, to) {
  for (const item of readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, item.name);
    const target = path.join(to, item.name);
    if (item.isDirectory()) copyRunTimeFiles(source, target);
    else if (!item.name.endsWith('.ts')) {
      mkdirSync(to, { recursive: true });
      copyFileSync(source, target);
    }
  }
}
copyRunTimeFiles(path.join(root, 'src'), path.join(root, 'dist/src'));
