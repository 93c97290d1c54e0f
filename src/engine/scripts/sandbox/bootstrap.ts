import { readFileSync } from 'node:fs';

/** The options the bootstrap (isolateBootstrap.js) is given, as JSON text. */
export interface BootstrapOptions {
  outputMaxBytes: number;
  logMaxLines: number;
  logMaxMessageChars: number;
  logMaxDataBytes: number;
  httpMaxRequests: number;
  /** Filename the user's script is compiled under; error lines are read from stack frames in it. */
  filename: string;
  /** The global name `start()` is left under; SCRIPT_TRAILER calls it. */
  startGlobal: string;
}

/** The global name `start()` is left under; the trailer calls it. */
export const START_GLOBAL = '__cepheusStart';
/** Appended to every user script (after a newline, so a last-line comment cannot swallow it). */
export const SCRIPT_TRAILER = `\n;${START_GLOBAL}();\n`;

/** The filename the bootstrap is compiled under inside the isolate. */
export const BOOTSTRAP_FILENAME = 'sandbox-bootstrap.js';

/**
 * The bootstrap's text, compiled as a script in each isolate: its value is the bootstrap
 * function (see isolateBootstrap.js).
 */
export function readBootstrapSource(): string {
  return readFileSync(new URL('./isolateBootstrap.js', import.meta.url), 'utf8');
}
