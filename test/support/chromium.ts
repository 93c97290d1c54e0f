import { execFileSync } from 'node:child_process';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

/** The Chromium to drive (CHROMIUM_PATH, or one on PATH), or undefined when there is none. */
export function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of NAMES) {
    try {
      return execFileSync('which', [name], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/**
 * Why the browser suites cannot run, or undefined when they can. In CI a missing Chromium fails
 * the run instead (.ci/run installs one): CI does not pass by skipping.
 */
export function withoutChromium(): string | undefined {
  if (findChromium()) return undefined;
  if (process.env.CI === 'true') throw new Error('no Chromium found (set CHROMIUM_PATH or install chromium): CI runs the browser tests');
  return 'no Chromium found (set CHROMIUM_PATH or install chromium)';
}
