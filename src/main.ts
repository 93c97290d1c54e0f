import { loadConfigOrExit, printOperatorError } from './configOrExit.js';

async function main() {
  const config = loadConfigOrExit();
  // Loaded once the settings are known to be good: a bad setting is told in a fraction of the time.
  const { createApp } = await import('./app.js');
  const { isOperatorError } = await import('./startErrors.js');
  const app = createApp(config);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      app.logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownGraceMs + 10_000);
    force.unref();
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        app.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  try {
    await app.start();
  } catch (error) {
    if (isOperatorError(error)) {
      printOperatorError(error);
      process.exit(1);
    }
    app.logger.fatal({ err: error }, 'start failed');
    process.exit(1);
  }
}

void main();
