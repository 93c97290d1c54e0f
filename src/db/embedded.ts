import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
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
  /** False once the database's thread has ended (stopped, or crashed). */
  alive(): boolean;
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
 * Starts PGlite on a data directory, on a thread of its own, and serves it on a loopback port with
 * the PostgreSQL wire protocol, so the service reaches it through the same driver as a real
 * server. PGlite runs every connection on one session: callers must use a pool of one connection.
 */
export async function startEmbeddedPostgres(dataDir: string, logger: Logger | Promise<Logger>): Promise<EmbeddedPostgres> {
  // The logger may still be loading: the process entry starts the database first.
  const log = (write: (logger: Logger) => void) => void Promise.resolve(logger).then(write);
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

  let thread: EmbeddedThread;
  try {
    thread = await startThread(absolute);
  } catch (error) {
    await releaseLock();
    throw new EmbeddedDatabaseError(absolute, describe(error));
  }
  const url = `postgresql://postgres@${thread.conn}/postgres`;
  log((l) => l.info({ dataDir: absolute }, 'embedded PostgreSQL (PGlite) ready'));
  let stopped: Promise<void> | undefined;
  let alive = true;
  thread.worker.on('error', (error) => log((l) => l.error({ err: error }, 'the embedded database thread failed')));
  thread.worker.once('exit', (code) => {
    alive = false;
    if (!stopped)
      log((l) => l.fatal({ dataDir: absolute, code }, 'the embedded database thread ended: the service cannot reach its database (/ready answers 503)'));
  });
  return {
    url,
    dataDir: absolute,
    alive: () => alive,
    stop() {
      stopped ??= (async () => {
        for (const warning of await thread.stop()) log((l) => l.warn({ dataDir: absolute }, `embedded database: ${warning}`));
        await releaseLock();
      })();
      return stopped;
    },
  };
}

/** How long a stopping database may take to checkpoint and close before its thread is ended. */
const STOP_TIMEOUT_MS = 30_000;

interface EmbeddedThread {
  worker: Worker;
  /** host:port of the socket server. */
  conn: string;
  /** Stops the socket, checkpoints and closes the database; answers what did not go cleanly. */
  stop(): Promise<string[]>;
}

type ThreadMessage = { t: 'ready'; conn: string } | { t: 'failed'; message: string } | { t: 'stopped'; warnings: string[] };

/**
 * PGlite runs on a thread of its own (embeddedWorker.js): opening a data directory takes seconds
 * of CPU, which then overlap the loading of the rest of the service, and queries never hold the
 * event loop of the thread serving requests.
 */
function startThread(dataDir: string): Promise<EmbeddedThread> {
  const worker = new Worker(new URL('./embeddedWorker.js', import.meta.url), { workerData: { dataDir, maxConnections: 16 } });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const stop = async (): Promise<string[]> => {
    const answer = new Promise<string[]>((resolve) => {
      worker.on('message', (message: ThreadMessage) => {
        if (message.t === 'stopped') resolve(message.warnings);
      });
      void exited.then(() => resolve([]));
    });
    worker.postMessage({ t: 'stop' });
    const timer = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
    const warnings = await answer;
    await exited;
    clearTimeout(timer);
    return warnings;
  };
  return new Promise((resolve, reject) => {
    worker.once('message', (message: ThreadMessage) => {
      if (message.t === 'ready') resolve({ worker, conn: message.conn, stop });
      else reject(new Error(message.t === 'failed' ? message.message : 'the database thread answered out of turn'));
    });
    worker.once('error', reject);
    void exited.then(() => reject(new Error('the database thread ended before it was ready')));
  });
}
