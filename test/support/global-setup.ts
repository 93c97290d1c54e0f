import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { redactUrl } from '../../src/db/database.js';

/**
 * Brings the compiled build (dist/) up to date, as `npm start` does: the suites that run the
 * service as its own process run that build. Says once which databases the suite runs on.
 */
export default function setup() {
  execFileSync(process.execPath, [fileURLToPath(new URL('../../scripts/build.mjs', import.meta.url))], { stdio: 'inherit' });
  const url = process.env.DATABASE_URL;
  const backends = url ? `embedded PGlite and PostgreSQL at ${redactUrl(url)}` : 'embedded PGlite only (DATABASE_URL is unset)';
  process.stdout.write(`[cepheus tests] database backends: ${backends}\n`);
}
