/**
 * Reads each distinct condition field once per event, however many index lookups and candidate
 * verifications ask for it.
 *
 * FieldSlots gives every field path in use a small integer slot (reference-counted, so a field
 * no rule needs any more frees its slot). EventReads is the per-event cache over those slots:
 * `load(slot)` reads the field on first use in the current event (with the conditions' own
 * reader: dotted paths, `metrics.` fallback for plain names) and keeps its value and the finite
 * number it reads as (NaN if none), so numeric comparisons need no second conversion.
 */
import { compileFieldPaths, MISSING, readField, toFiniteNumber, type CompiledPath } from '../../rules/conditions/index.js';

export class FieldSlots {
  readonly #slotByField = new Map<string, number>();
  readonly #refs: number[] = [];
  readonly #free: number[] = [];
  /** Per slot: the paths of its field (unused slots keep their last ones until reused). */
  readonly mains: CompiledPath[] = [];
  readonly fallbacks: (CompiledPath | null)[] = [];
  readonly fields: string[] = [];

  /** Number of slots ever allocated (an upper bound for slot numbers). */
  get capacity(): number {
    return this.fields.length;
  }

  /** Slots currently held by at least one user. */
  get inUse(): number {
    return this.#slotByField.size;
  }

  /** The slot of `field`, taking one reference to it. */
  acquire(field: string): number {
    let slot = this.#slotByField.get(field);
    if (slot !== undefined) {
      this.#refs[slot]!++;
      return slot;
    }
    const [main, fallback] = compileFieldPaths(field);
    slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.fields.length;
      this.fields.push(field);
      this.mains.push(main);
      this.fallbacks.push(fallback);
      this.#refs.push(1);
    } else {
      this.fields[slot] = field;
      this.mains[slot] = main;
      this.fallbacks[slot] = fallback;
      this.#refs[slot] = 1;
    }
    this.#slotByField.set(field, slot);
    return slot;
  }

  /** Drops one reference; the slot is freed at zero. */
  release(slot: number): void {
    if (--this.#refs[slot]! !== 0) return;
    this.#slotByField.delete(this.fields[slot]!);
    this.#free.push(slot);
  }
}

export class EventReads {
  #event: unknown = undefined;
  /** Stamp of the current event; a slot is loaded iff its stamp equals it. */
  #epoch = 0;
  readonly #stamps: number[] = [];
  readonly #values: unknown[] = [];
  /** The finite number each loaded value reads as, or NaN. */
  readonly nums: number[] = [];

  constructor(private readonly slots: FieldSlots) {}

  /** Starts a new event: every slot is unloaded. */
  begin(event: unknown): void {
    this.#event = event;
    if (++this.#epoch === 0x3fffffff) {
      // Wrap around (after ~10^9 events): clear the stamps so none collides with a new epoch.
      this.#stamps.fill(0);
      this.#epoch = 1;
    }
    // Slots added since the last event get room (filled densely to keep the arrays packed).
    for (let i = this.#stamps.length; i < this.slots.capacity; i++) {
      this.#stamps.push(0);
      this.#values.push(MISSING);
      this.nums.push(NaN);
    }
  }

  /** Drops the reference to the last event. */
  end(): void {
    this.#event = undefined;
  }

  /** The value of the slot's field in the current event, or MISSING; `nums[slot]` is then set. */
  load(slot: number): unknown {
    if (this.#stamps[slot] === this.#epoch) return this.#values[slot];
    const v = readField(this.#event, this.slots.mains[slot]!, this.slots.fallbacks[slot]!);
    this.#values[slot] = v;
    this.nums[slot] = toFiniteNumber(v);
    this.#stamps[slot] = this.#epoch;
    return v;
  }
}
