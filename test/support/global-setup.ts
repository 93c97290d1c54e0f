import { redactUrl } from '../../src/db/database.js';

/** Says once which databases the suite runs on, so a CI log shows it. */
export default function setup() {
  const url = process.env.DATABASE_URL;
  const backends = url ? `embedded PGlite and PostgreSQL at ${redactUrl(url)}` : 'embedded PGlite only (DATABASE_URL is unset)';
  process.stdout.write(`[cepheus tests] database backends: ${backends}\n`);
}
