/**
 * RuleIndex: an index over active EVENT rules so that an event is tested only against the rules
 * that can match it (issue 5, item 2).
 *
 * Each rule's condition gives an access plan (plan.ts): a set of keys of which at least one is hit
 * by every event meeting the condition. Per field the index keeps
 * - hash maps for `==` / `in` (numbers and numeric strings under their numeric value, so
 *   `"10"` and `10` share a bucket; other primitives by identity),
 * - sorted threshold arrays for `>`, `>=`, `<`, `<=` (binary search, then a prefix or suffix)
 *   and `between` (sorted by low bound, high bound checked while scanning),
 * - "odd" lists for ordering leaves that a non-numeric actual may still meet (lexicographic
 *   string or native non-finite number comparisons), scanned only for such actuals,
 * - a presence list (any leaf but `not_exists` needs its field found),
 * plus one ALWAYS list (empty groups, `NOT`s and `not_exists` that cannot be narrowed, malformed
 * conditions). Fields are read with the conditions' own reader (dotted paths, `metrics.` fallback
 * for plain names) through a per-event cache (fieldReads.ts): each field once per event, shared by
 * the index lookups and the verification of every candidate.
 *
 * Every candidate is verified with the condition compiled over that cache (verifier.ts, the same
 * semantics as compilePredicate), so the answer is exactly `compilePredicate(condition)(event)`;
 * the index only decides who is asked. A hash hit that proves a required `==` leaf leaves only
 * the rest of the condition to verify.
 *
 * upsert/remove are incremental (hash insert / sorted-array splice), never a rebuild.
 * Not safe for concurrent mutation during a `forEachMatch` callback (JavaScript is single
 * threaded; just do not upsert/remove from inside the callback).
 */
import { compilePredicate, MISSING, type Condition } from '../../rules/conditions/index.js';
import { EventReads, FieldSlots } from './fieldReads.js';
import { accessPlan, residualAfterKey, type AccessKey, type RangeOp } from './plan.js';
import { compileCheck, passes, type Check } from './verifier.js';

export interface IndexedRule<T> {
  id: string;
  /** The plain EVENT condition the rule is matched on. */
  condition: Condition;
  /** What match() hands back for this rule (e.g. the Rule and its compiled predicate). */
  value: T;
  /**
   * Order of the rule in match() results (ascending; ties by insertion). Default: insertion order;
   * an upsert of an existing id without `order` keeps the rule's previous place.
   */
  order?: number;
}

interface Entry<T> {
  readonly id: string;
  readonly value: T;
  /** What is left to verify once the entry is a candidate. */
  readonly check: Check;
  /** Field slots held by `check`. */
  readonly slots: readonly number[];
  readonly order: number;
  readonly seq: number;
  readonly keys: AccessKey[];
  readonly always: boolean;
  /** Epoch of the last match() that collected this entry (de-duplication without a Set). */
  seen: number;
}

/** Thresholds sorted ascending with their entries in parallel arrays. */
class SortedThresholds<T> {
  readonly ts: number[] = [];
  readonly es: Entry<T>[] = [];
  /** Highest bound per position (between only; unused otherwise). */
  readonly hs: number[] = [];

  /** First index whose threshold is >= t. */
  lowerBound(t: number): number {
    const ts = this.ts;
    let lo = 0;
    let hi = ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((ts[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose threshold is > t. */
  upperBound(t: number): number {
    const ts = this.ts;
    let lo = 0;
    let hi = ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((ts[mid] as number) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(t: number, e: Entry<T>, h = 0): void {
    const i = this.upperBound(t);
    this.ts.splice(i, 0, t);
    this.es.splice(i, 0, e);
    this.hs.splice(i, 0, h);
  }

  remove(t: number, e: Entry<T>): void {
    for (let i = this.lowerBound(t); i < this.ts.length && this.ts[i] === t; i++) {
      if (this.es[i] === e) {
        this.ts.splice(i, 1);
        this.es.splice(i, 1);
        this.hs.splice(i, 1);
        return;
      }
    }
  }

  get length(): number {
    return this.ts.length;
  }
}

function removeOne<X>(list: X[], x: X): void {
  const i = list.indexOf(x);
  if (i >= 0) list.splice(i, 1);
}

function bucketAdd<K, T>(map: Map<K, Entry<T>[]>, k: K, e: Entry<T>): void {
  const b = map.get(k);
  if (b) b.push(e);
  else map.set(k, [e]);
}

function bucketRemove<K, T>(map: Map<K, Entry<T>[]>, k: K, e: Entry<T>): void {
  const b = map.get(k);
  if (!b) return;
  removeOne(b, e);
  if (b.length === 0) map.delete(k);
}

class FieldIndex<T> {
  /** Where the field is read in the per-event cache. */
  readonly slot: number;
  /** Number of keys registered on this field (the field is dropped at 0). */
  keyCount = 0;
  readonly eqNum = new Map<number, Entry<T>[]>();
  readonly eqPrim = new Map<unknown, Entry<T>[]>();
  readonly gt = new SortedThresholds<T>();
  readonly ge = new SortedThresholds<T>();
  readonly lt = new SortedThresholds<T>();
  readonly le = new SortedThresholds<T>();
  readonly between = new SortedThresholds<T>();
  /** Ordering leaves a non-numeric string actual may meet (a bound is a string). */
  readonly oddStr: Entry<T>[] = [];
  /** Ordering leaves a non-finite number actual may meet (a bound is a number). */
  readonly oddNum: Entry<T>[] = [];
  readonly present: Entry<T>[] = [];

  constructor(
    readonly field: string,
    slots: FieldSlots,
  ) {
    this.slot = slots.acquire(field);
  }

  sorted(op: RangeOp): SortedThresholds<T> {
    return op === 'gt' ? this.gt : op === 'ge' ? this.ge : op === 'lt' ? this.lt : this.le;
  }
}

export interface RuleIndexStats {
  rules: number;
  /** Rules tested on every event. */
  always: number;
  /** Rules whose condition can never be met (no key). */
  never: number;
  /** Rules reached through keys, by the kind of their keys (a rule may count in several). */
  byKind: Record<AccessKey['kind'], number>;
  /** Fields read per event. */
  fields: number;
}

export class RuleIndex<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #fields = new Map<string, FieldIndex<T>>();
  /** Same FieldIndexes as #fields, as an array for the hot loop. */
  #fieldList: FieldIndex<T>[] = [];
  readonly #always: Entry<T>[] = [];
  #slots = new FieldSlots();
  /** Field cache reused across calls (not across re-entrant calls). */
  #reads = new EventReads(this.#slots);
  #seq = 0;
  #epoch = 0;
  /** Candidate buffer reused across calls (not across re-entrant calls). */
  #buf: Entry<T>[] = [];
  #busy = false;

  get size(): number {
    return this.#entries.size;
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  get(id: string): T | undefined {
    return this.#entries.get(id)?.value;
  }

  /** Adds or replaces one rule. Throws (leaving the index unchanged) when the condition does not compile. */
  upsert(rule: IndexedRule<T>): void {
    const plan = accessPlan(rule.condition);
    // A hash hit may already prove part of the condition: then only the rest is verified.
    const residual = residualAfterKey(rule.condition, plan);
    // Proving part of a condition must not hide a compile error in that part.
    if (residual !== null) compilePredicate(rule.condition);
    const compiled = compileCheck(residual ?? rule.condition, this.#slots);
    const previous = this.#entries.get(rule.id);
    const seq = previous && rule.order === undefined ? previous.seq : this.#seq++;
    const order = rule.order ?? previous?.order ?? seq;
    if (previous) {
      this.#unregister(previous);
      this.#buf = []; // drop references to the replaced entry
    }
    const entry: Entry<T> = {
      id: rule.id,
      value: rule.value,
      check: compiled.check,
      slots: compiled.slots,
      order,
      seq,
      keys: plan.always ? [] : plan.keys,
      always: plan.always,
      seen: 0,
    };
    this.#entries.set(rule.id, entry);
    this.#register(entry);
  }

  remove(id: string): boolean {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    this.#unregister(entry);
    this.#entries.delete(id);
    this.#buf = []; // drop references to removed rules
    return true;
  }

  clear(): void {
    this.#entries.clear();
    this.#fields.clear();
    this.#fieldList = [];
    this.#always.length = 0;
    this.#buf = [];
    this.#slots = new FieldSlots();
    this.#reads = new EventReads(this.#slots);
  }

  /** The values of the rules whose condition the event meets, in rule order. */
  match(event: unknown): T[] {
    const reentrant = this.#busy;
    const buf = reentrant ? [] : this.#buf;
    const reads = reentrant ? new EventReads(this.#slots) : this.#reads;
    this.#busy = true;
    try {
      reads.begin(event);
      const k = this.#verified(reads, buf);
      if (k > 1) sortEntries(buf, k);
      const out = new Array<T>(k);
      for (let i = 0; i < k; i++) out[i] = (buf[i] as Entry<T>).value;
      return out;
    } finally {
      reads.end();
      this.#busy = reentrant;
    }
  }

  /**
   * Calls `fn` for every rule whose condition the event meets (unordered, no array allocated on
   * the hot path). Returns the number of matches.
   */
  forEachMatch(event: unknown, fn: (value: T, id: string) => void): number {
    const reentrant = this.#busy;
    const buf = reentrant ? [] : this.#buf;
    const reads = reentrant ? new EventReads(this.#slots) : this.#reads;
    this.#busy = true;
    let k = 0;
    try {
      reads.begin(event);
      k = this.#verified(reads, buf);
      for (let i = 0; i < k; i++) {
        const e = buf[i] as Entry<T>;
        fn(e.value, e.id);
      }
    } finally {
      reads.end();
      this.#busy = reentrant;
    }
    return k;
  }

  /** How many rules an event would be tested against (diagnostics, benchmarks). */
  candidateCount(event: unknown): number {
    const reentrant = this.#busy;
    const buf = reentrant ? [] : this.#buf;
    const reads = reentrant ? new EventReads(this.#slots) : this.#reads;
    reads.begin(event);
    const n = this.#collect(reads, buf);
    reads.end();
    return n;
  }

  stats(): RuleIndexStats {
    const byKind: RuleIndexStats['byKind'] = { eqNum: 0, eqPrim: 0, range: 0, between: 0, present: 0 };
    let never = 0;
    for (const e of this.#entries.values()) {
      if (e.always) continue;
      if (e.keys.length === 0) never++;
      const kinds = new Set(e.keys.map((k) => k.kind));
      for (const kind of kinds) byKind[kind]++;
    }
    return { rules: this.#entries.size, always: this.#always.length, never, byKind, fields: this.#fieldList.length };
  }

  // -------------------------------------------------------------------------------------------

  /** Gathers the candidates that meet their condition into buf; returns their count. */
  #verified(reads: EventReads, buf: Entry<T>[]): number {
    const n = this.#collect(reads, buf);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const e = buf[i] as Entry<T>;
      if (passes(e.check, reads)) buf[k++] = e;
    }
    return k;
  }

  /** Gathers the distinct candidates into buf; returns their count. */
  #collect(reads: EventReads, buf: Entry<T>[]): number {
    let epoch = ++this.#epoch;
    if (epoch === 0x3fffffff) {
      // Wrap around (after ~10^9 calls): reset stamps so none collides with a new epoch.
      for (const e of this.#entries.values()) e.seen = 0;
      this.#epoch = epoch = 1;
    }
    let n = 0;
    const always = this.#always;
    for (let i = 0; i < always.length; i++) {
      const e = always[i] as Entry<T>;
      e.seen = epoch;
      buf[n++] = e;
    }
    const fields = this.#fieldList;
    for (let f = 0; f < fields.length; f++) {
      const fi = fields[f] as FieldIndex<T>;
      const v = reads.load(fi.slot);
      if (v === MISSING) continue;
      n = addList(fi.present, buf, n, epoch);
      const num = reads.nums[fi.slot] as number;
      if (!Number.isNaN(num)) {
        if (fi.eqNum.size !== 0) {
          const b = fi.eqNum.get(num);
          if (b !== undefined) n = addList(b, buf, n, epoch);
        }
        // > t  <=>  t < num : prefix [0, lowerBound(num))
        if (fi.gt.length !== 0) n = addRange(fi.gt.es, 0, fi.gt.lowerBound(num), buf, n, epoch);
        // >= t <=>  t <= num: prefix [0, upperBound(num))
        if (fi.ge.length !== 0) n = addRange(fi.ge.es, 0, fi.ge.upperBound(num), buf, n, epoch);
        // < t  <=>  t > num : suffix [upperBound(num), len)
        if (fi.lt.length !== 0) n = addRange(fi.lt.es, fi.lt.upperBound(num), fi.lt.length, buf, n, epoch);
        // <= t <=>  t >= num: suffix [lowerBound(num), len)
        if (fi.le.length !== 0) n = addRange(fi.le.es, fi.le.lowerBound(num), fi.le.length, buf, n, epoch);
        if (fi.between.length !== 0) {
          const bt = fi.between;
          const end = bt.upperBound(num);
          const es = bt.es;
          const hs = bt.hs;
          for (let i = 0; i < end; i++) {
            if ((hs[i] as number) < num) continue;
            const e = es[i] as Entry<T>;
            if (e.seen !== epoch) {
              e.seen = epoch;
              buf[n++] = e;
            }
          }
        }
        // A numeric string still compares lexicographically with non-numeric string bounds, but
        // those leaves are on the presence list already.
      } else {
        if (fi.eqPrim.size !== 0 && (v === null || typeof v !== 'object')) {
          const b = fi.eqPrim.get(v);
          if (b !== undefined) n = addList(b, buf, n, epoch);
        }
        if (typeof v === 'string') n = addList(fi.oddStr, buf, n, epoch);
        else if (typeof v === 'number') n = addList(fi.oddNum, buf, n, epoch);
      }
    }
    return n;
  }

  #field(name: string): FieldIndex<T> {
    let fi = this.#fields.get(name);
    if (!fi) {
      fi = new FieldIndex<T>(name, this.#slots);
      this.#fields.set(name, fi);
      this.#fieldList = [...this.#fields.values()];
    }
    return fi;
  }

  #register(e: Entry<T>): void {
    if (e.always) {
      this.#always.push(e);
      return;
    }
    for (const key of e.keys) {
      const fi = this.#field(key.field);
      fi.keyCount++;
      switch (key.kind) {
        case 'eqNum':
          bucketAdd(fi.eqNum, key.num, e);
          break;
        case 'eqPrim':
          bucketAdd(fi.eqPrim, key.prim, e);
          break;
        case 'range':
          fi.sorted(key.op).insert(key.threshold, e);
          if (key.oddStr) fi.oddStr.push(e);
          if (key.oddNum) fi.oddNum.push(e);
          break;
        case 'between':
          fi.between.insert(key.low, e, key.high);
          if (key.oddStr) fi.oddStr.push(e);
          if (key.oddNum) fi.oddNum.push(e);
          break;
        case 'present':
          fi.present.push(e);
          break;
      }
    }
  }

  #unregister(e: Entry<T>): void {
    for (const slot of e.slots) this.#slots.release(slot);
    if (e.always) {
      removeOne(this.#always, e);
      return;
    }
    for (const key of e.keys) {
      const fi = this.#fields.get(key.field);
      if (!fi) continue;
      switch (key.kind) {
        case 'eqNum':
          bucketRemove(fi.eqNum, key.num, e);
          break;
        case 'eqPrim':
          bucketRemove(fi.eqPrim, key.prim, e);
          break;
        case 'range':
          fi.sorted(key.op).remove(key.threshold, e);
          if (key.oddStr) removeOne(fi.oddStr, e);
          if (key.oddNum) removeOne(fi.oddNum, e);
          break;
        case 'between':
          fi.between.remove(key.low, e);
          if (key.oddStr) removeOne(fi.oddStr, e);
          if (key.oddNum) removeOne(fi.oddNum, e);
          break;
        case 'present':
          removeOne(fi.present, e);
          break;
      }
      if (--fi.keyCount === 0) {
        this.#slots.release(fi.slot);
        this.#fields.delete(key.field);
        this.#fieldList = [...this.#fields.values()];
      }
    }
  }
}

function addList<T>(list: Entry<T>[], buf: Entry<T>[], n: number, epoch: number): number {
  for (let i = 0; i < list.length; i++) {
    const e = list[i] as Entry<T>;
    if (e.seen !== epoch) {
      e.seen = epoch;
      buf[n++] = e;
    }
  }
  return n;
}

function addRange<T>(es: Entry<T>[], from: number, to: number, buf: Entry<T>[], n: number, epoch: number): number {
  for (let i = from; i < to; i++) {
    const e = es[i] as Entry<T>;
    if (e.seen !== epoch) {
      e.seen = epoch;
      buf[n++] = e;
    }
  }
  return n;
}

/** Insertion sort of buf[0..k) by (order, seq): k is small (the matches of one event). */
function sortEntries<T>(buf: Entry<T>[], k: number): void {
  for (let i = 1; i < k; i++) {
    const e = buf[i] as Entry<T>;
    let j = i - 1;
    while (j >= 0) {
      const p = buf[j] as Entry<T>;
      if (p.order < e.order || (p.order === e.order && p.seq < e.seq)) break;
      buf[j + 1] = p;
      j--;
    }
    buf[j + 1] = e;
  }
}
