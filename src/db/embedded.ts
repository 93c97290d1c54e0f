import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { Logger } from '../logger.js';

/** The embedded database could not be opened; the message names the directory. */
export class EmbeddedDatabaseError extends Error {
  constructor(
    readonly dataDir: string,
    detail: string,
  ) {
    super(`Cannot open the embedded database at ${dataDir}: ${detail}`);
    this.name = 'EmbeddedDatabaseError';
  }
}

export interface EmbeddedPostgres {
  /** A postgresql:// URL the ordinary driver can use. */
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite keeps no lock of its own, and two processes writing one directory corrupt it,
 * so a pid file beside the data directory keeps a second process out.
 */
async function takeDirectoryLock(dataDir: string): Promise<() => Promise<void>> {
  const lockPath = `${dataDir.replace(/[\\/]+$/, '')}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (owner && owner !== process.pid && processAlive(owner)) {
        throw new EmbeddedDatabaseError(dataDir, `it is in use by process ${owner} (lock file ${lockPath})`);
      }
      await rm(lockPath, { force: true });
    }
  }
  throw new EmbeddedDatabaseError(dataDir, `could not take the lock file ${lockPath}`);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `${code}: ${error.message}` : error.message || error.name;
  }
  return String(error);
}

/**
 * Starts PGlite on a data directory and serves it on a loopback port with the PostgreSQL wire
 * protocol, so the service reaches it through the same driver as a real server. PGlite runs every
 * connection on one session: callers must use a pool of one connection.
 */
export async function startEmbeddedPostgres(dataDir: string, logger: Logger): Promise<EmbeddedPostgres> {
  const absolute = path.resolve(dataDir);
  try {
    await mkdir(absolute, { recursive: true });
  } catch (error) {
    throw new EmbeddedDatabaseError(absolute, describe(error));
  }
  let releaseLock: () => Promise<void>;
  try {
    releaseLock = await takeDirectoryLock(absolute);
  } catch (error) {
    throw error instanceof EmbeddedDatabaseError ? error : new EmbeddedDatabaseError(absolute, describe(error));
  }

  let db: PGlite;
  try {
    db = await PGlite.create(absolute);
  } catch (error) {
    await releaseLock();
    throw new EmbeddedDatabaseError(absolute, describe(error));
  }
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
  try {
    await server.start();
  } catch (error) {
    await db.close().catch(() => undefined);
    await releaseLock();
    throw new EmbeddedDatabaseError(absolute, `cannot serve it on a local port: ${describe(error)}`);
  }
  const url = `postgresql://postgres@${server.getServerConn()}/postgres`;
  logger.info({ dataDir: absolute }, 'embedded PostgreSQL (PGlite) ready');

  let stopped: Promise<void> | undefined;
  return {
    url,
    dataDir: absolute,
    stop() {
      stopped ??= (async () => {
        await server.stop().catch((error: unknown) => logger.warn({ err: error }, 'embedded database socket did not stop cleanly'));
        try {
          await db.exec('CHECKPOINT');
        } catch (error) {
          logger.warn({ err: error }, 'embedded database CHECKPOINT failed');
        }
        await db.close().catch((error: unknown) => logger.warn({ err: error }, 'embedded database did not close cleanly'));
        await releaseLock();
      })();
      return stopped;
    },
  };
}
