// Builds the service into dist/: one bundle per entry (the service, its CLIs, the sandbox's
// child process and the embedded database's thread) made by esbuild from the TypeScript
// sources, beside the files read at run time (the isolate bootstrap, GraphiQL's start script).
// Packages that find their own files or check their own versions at run time stay outside
// the bundles and load from node_modules. Run by `npm install` (prepare), before `npm start`
// and the CLIs; nothing is done when no input is newer than the build. Where esbuild is not
// installed (an install without dev dependencies) an existing build is used as it is.
import { copyFileSync, existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist');
// Written last: a build that stopped half-way has none, and is made again.
const STAMP = '.built';
const stamp = path.join(out, STAMP);

const ENTRIES = {
  main: 'src/main.ts',
  migrate: 'src/cli/migrate.ts',
  keys: 'src/cli/keys.ts',
  receiver: 'src/cli/receiver.ts',
  worker: 'src/engine/scripts/sandbox/worker.ts',
  embeddedWorker: 'src/db/embeddedWorker.js',
};
const RUN_TIME_FILES = ['src/engine/scripts/sandbox/isolateBootstrap.js', 'src/server/graphiql/start.js'];
const EXTERNAL = [
  // One copy each, shared with the external packages below that use them.
  'graphql',
  'pg',
  // Check their versions or locate their own files (WebAssembly, workers, native addons) at run time.
  '@mikro-orm/*',
  '@electric-sql/*',
  'isolated-vm-node20',
  'isolated-vm-node22plus',
  'pino',
  'pino-pretty',
  'ioredis',
  // Loaded only when needed: the tracing SDK with tracing on, GraphiQL's 9 MB of assets (as
  // strings) on its first request.
  '@opentelemetry/*',
  '@graphql-yoga/render-graphiql',
  '@envelop/opentelemetry',
  // Optional packages that are not installed.
  'bufferutil',
  'utf-8-validate',
  'pg-native',
];

function newestInput(dir) {
  let newest = 0;
  for (const item of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, item.name);
    newest = Math.max(newest, item.isDirectory() ? newestInput(full) : statSync(full).mtimeMs);
  }
  return newest;
}

const inputs = Math.max(
  newestInput(path.join(root, 'src')),
  newestInput(path.join(root, 'migrations')),
  statSync(path.join(root, 'package-lock.json')).mtimeMs,
  statSync(fileURLToPath(import.meta.url)).mtimeMs,
);
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (built >= inputs) process.exit(0);

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  if (built) {
    console.error('cepheus: the sources are newer than dist/, and esbuild is not installed to rebuild it: running the older build.');
    process.exit(0);
  }
  console.error('cepheus: dist/ is missing and esbuild is not installed to build it; run `npm install` with dev dependencies, then `npm run build`.');
  process.exit(1);
}

// Built beside dist/ and swapped in whole: a service running from dist/ keeps finding a complete
// build (it forks the sandbox's child from it later), and two builds at once cannot mix.
const next = `${out}.next-${process.pid}`;
rmSync(next, { recursive: true, force: true });
try {
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: ENTRIES,
    outdir: next,
    bundle: true,
    // Dynamic imports become chunks of their own, loaded when imported: the entry starts the
    // embedded database's thread before the rest of the service (and its external packages) loads.
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    external: EXTERNAL,
    // Bundled CommonJS packages call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __cepheusRequire } from 'node:module'; const require = __cepheusRequire(import.meta.url);" },
    logLevel: 'warning',
  });
} catch {
  rmSync(next, { recursive: true, force: true });
  console.error('cepheus: the build failed (see above).');
  process.exit(1);
}
for (const file of RUN_TIME_FILES) copyFileSync(path.join(root, file), path.join(next, path.basename(file)));
writeFileSync(path.join(next, STAMP), '');
const previous = `${out}.previous-${process.pid}`;
if (existsSync(out)) renameSync(out, previous);
renameSync(next, out);
rmSync(previous, { recursive: true, force: true });
