import { Cron } from 'croner';
import type { Rule } from '../../entities/index.js';
import type { MetricTriggerSpec, ScheduleTriggerSpec } from '../rules/spec/index.js';

/** Stands for "never again" (a cron pattern with no future run); timestamptz and Date both hold it. */
const NEVER = new Date('9999-12-31T00:00:00.000Z');

const crons = new Map<string, Cron>();
const CRON_CACHE_MAX = 10_000;

function cronOf(pattern: string, timezone: string): Cron {
  const key = `${timezone}\u0000${pattern}`;
  let job = crons.get(key);
  if (!job) {
    // No callback and paused: croner only computes run times here, it schedules nothing.
    job = new Cron(pattern, { timezone, paused: true, mode: '5-or-6-parts' });
    if (crons.size >= CRON_CACHE_MAX) crons.clear();
    crons.set(key, job);
  }
  return job;
}

/**
 * The part of a rule's spec its lease depends on. When it changes, the lease starts over (next
 * due run from now, METRIC re-armed); other edits (action, name, payload) keep the schedule.
 */
export function timingKey(rule: Rule): string {
  if (rule.triggerType === 'METRIC') {
    const s = rule.triggerSpec as MetricTriggerSpec;
    return JSON.stringify(['METRIC', s.pollIntervalSeconds, s.endpoint, s.method, s.headers ?? {}, s.params ?? {}, s.valuePath, s.op, s.threshold]);
  }
  const s = rule.triggerSpec as ScheduleTriggerSpec;
  return 'cron' in s ? JSON.stringify(['CRON', s.cron, s.timezone]) : JSON.stringify(['INTERVAL', s.intervalSeconds]);
}

function periodMs(rule: Rule): number | null {
  if (rule.triggerType === 'METRIC') return (rule.triggerSpec as MetricTriggerSpec).pollIntervalSeconds * 1000;
  const s = rule.triggerSpec as ScheduleTriggerSpec;
  return 'cron' in s ? null : s.intervalSeconds * 1000;
}

function cronNext(rule: Rule, after: Date): Date {
  const s = rule.triggerSpec as { cron: string; timezone: string };
  return cronOf(s.cron, s.timezone).nextRun(after) ?? NEVER;
}

/**
 * The first due run of a rule the scheduler has just seen (new, switched on, or its timing
 * changed): an interval one period from now, a cron pattern its next match, a METRIC poll now.
 */
export function firstDue(rule: Rule, now: Date): Date {
  if (rule.triggerType === 'METRIC') return now;
  const period = periodMs(rule);
  return period === null ? cronNext(rule, now) : new Date(now.getTime() + period);
}

/**
 * The due run after `due` that is still ahead of `now` (strictly). Runs in between were missed
 * and are not fired: they are folded into the one just fired. Intervals keep their phase.
 */
export function nextDue(rule: Rule, due: Date, now: Date): Date {
  const period = periodMs(rule);
  if (period === null) return cronNext(rule, due.getTime() > now.getTime() ? due : now);
  const behind = now.getTime() - due.getTime();
  const steps = behind < 0 ? 1 : Math.floor(behind / period) + 1;
  return new Date(due.getTime() + steps * period);
}

/** Whether at least one due run after `due` had also passed by `now` (they were folded into this one). */
export function missedAfter(rule: Rule, due: Date, now: Date): boolean {
  const period = periodMs(rule);
  const following = period === null ? cronNext(rule, due) : new Date(due.getTime() + period);
  return following.getTime() <= now.getTime();
}
