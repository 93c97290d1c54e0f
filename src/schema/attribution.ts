import type { Principal } from '../access/principal.js';

/** `createdBy` of what a request creates: in KEYS mode the key's name, whatever the input says. */
export const createdByOf = (viewer: Principal, given: string | null | undefined): string | null | undefined =>
  viewer.authMode === 'KEYS' ? viewer.name : given;

/** `executedBy` of a run a request starts: as given, else in KEYS mode the key's name (else the service's default). */
export const executedByOf = (viewer: Principal, given: string | null | undefined): string | null | undefined =>
  given ?? (viewer.authMode === 'KEYS' ? viewer.name : given);
