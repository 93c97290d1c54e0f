// The embedded database's thread: PGlite on the data directory, served on a loopback port
// with the PostgreSQL wire protocol. Plain JavaScript, so that the same file runs from the
// sources and from the build. Messages: in {t: 'stop'}; out {t: 'ready', conn},
// {t: 'failed', message}, {t: 'stopped', warnings}.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** @param {unknown} error */
function describe(error) {
  if (error instanceof Error) {
    const code = /** @type {NodeJS.ErrnoException} */ (error).code;
    return code ? `${code}: ${error.message}` : error.message || error.name;
  }
  return String(error);
}

/** @type {{ dataDir: string, maxConnections: number }} */
const { dataDir, maxConnections } = workerData;
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/** @type {PGlite} */
let db;
try {
  db = await PGlite.create(dataDir);
} catch (error) {
  port.postMessage({ t: 'failed', message: describe(error) });
  process.exit(0);
}
const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections });
try {
  await server.start();
} catch (error) {
  await db.close().catch(() => undefined);
  port.postMessage({ t: 'failed', message: `cannot serve it on a local port: ${describe(error)}` });
  process.exit(0);
}
port.postMessage({ t: 'ready', conn: server.getServerConn() });

port.on('message', async (/** @type {{ t: string }} */ message) => {
  if (message.t !== 'stop') return;
  /** @type {string[]} */
  const warnings = [];
  await server.stop().catch((error) => warnings.push(`the socket did not stop cleanly: ${describe(error)}`));
  try {
    await db.exec('CHECKPOINT');
  } catch (error) {
    warnings.push(`CHECKPOINT failed: ${describe(error)}`);
  }
  await db.close().catch((error) => warnings.push(`it did not close cleanly: ${describe(error)}`));
  port.postMessage({ t: 'stopped', warnings });
  port.close();
});
