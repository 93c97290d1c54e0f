/**
 * Stream processors of EVENT rules (SPEC.md "Windows, sequences, absence"): pure, in-memory,
 * one per rule and instance, with time injected (onEvent's arrivalMs, onTime's nowMs).
 * See docs/stream-forms.md for the semantics chosen where SPEC.md leaves room.
 */
import type { AbsenceSpec, SequenceSpec, WindowSpec } from '../rules/spec/types.js';
import { createAbsenceProcessor } from './absence.js';
import type { StreamOptions, StreamProcessor } from './common.js';
import { createSequenceProcessor } from './sequence.js';
import { createWindowProcessor } from './window.js';

export type { Firing, StreamOptions, StreamProcessor, StreamStats } from './common.js';
export { parseEventTime } from './common.js';
export { nearestRankIndex, percentileOf } from './aggregates.js';

/** Default bound of groups / keys / pending timers per rule. */
export const DEFAULT_MAX_GROUPS = 100_000;

export function isWindowSpec(spec: WindowSpec | SequenceSpec | AbsenceSpec): spec is WindowSpec {
  return 'window' in spec && 'aggregate' in spec;
}

export function isSequenceSpec(spec: WindowSpec | SequenceSpec | AbsenceSpec): spec is SequenceSpec {
  return 'sequence' in spec && Array.isArray((spec as SequenceSpec).sequence);
}

export function isAbsenceSpec(spec: WindowSpec | SequenceSpec | AbsenceSpec): spec is AbsenceSpec {
  return 'absence' in spec;
}

/** The processor for a validated, normalised stream spec (told apart by its top-level key). */
export function createStreamProcessor(spec: WindowSpec | SequenceSpec | AbsenceSpec, options: StreamOptions): StreamProcessor {
  if (!(options.maxGroups >= 1)) throw new RangeError(`maxGroups must be at least 1, got ${options.maxGroups}`);
  if (isWindowSpec(spec)) return createWindowProcessor(spec, options);
  if (isSequenceSpec(spec)) return createSequenceProcessor(spec, options);
  if (isAbsenceSpec(spec)) return createAbsenceProcessor(spec, options);
  throw new TypeError('Not a stream spec: expected a window, sequence or absence form');
}
