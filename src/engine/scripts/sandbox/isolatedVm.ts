import { createRequire } from 'node:module';

/**
 * isolated-vm ships as two aliased optional dependencies: 6.2.0 builds on Node 22+, 5.0.4 on
 * Node 20/22; npm builds the one that fits. This module loads whichever is there, newest first,
 * and keeps to the API both share.
 */
export type { IsolatedVm } from './ivmTypes.js';
import type { IsolatedVm } from './ivmTypes.js';

const CANDIDATES = ['isolated-vm-node22plus', 'isolated-vm-node20'] as const;

export type SandboxAvailability = { available: true; ivm: IsolatedVm; package: string } | { available: false; reason: string };

let cached: SandboxAvailability | undefined;

export function loadIsolatedVm(): SandboxAvailability {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const name of CANDIDATES) {
    try {
      const ivm = require(name) as IsolatedVm;
      cached = { available: true, ivm, package: name };
      return cached;
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  cached = { available: false, reason: `no isolated-vm build loads on Node ${process.version} (${failures.join('; ')})` };
  return cached;
}
