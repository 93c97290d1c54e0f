import { Writable } from 'node:stream';
import type { Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** Pino's number of the WARN level. */
export const WARN = 40;

/** A stream that keeps every JSON line the service's own logger (createLogger) writes to it. */
export class CapturedLog extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.text += chunk.toString('utf8');
    done();
  }
  lines(): LogLine[] {
    return this.text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as LogLine);
  }
  /** The service's logger at `level`, writing here (pass it as AppOptions.logger). */
  logger(level: Config['logLevel'] = 'info'): Logger {
    return createLogger({ logLevel: level, logPretty: false }, this);
  }
}
