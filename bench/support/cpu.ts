import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports process CPU in clock ticks of 1/100 s (USER_HZ). */
const TICK_MS = 10;

/**
 * CPU time used so far by every PostgreSQL process on this machine, in ms, read from /proc; null
 * where /proc does not show any (another OS, or PostgreSQL elsewhere). A backend that exits
 * between two readings takes its CPU with it, so read around work done on open connections.
 */
export function postgresCpuMs(): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  let total = 0;
  let found = false;
  for (const pid of pids) {
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres')) continue;
      // Fields after the command name; utime and stime are the 14th and 15th of the whole line.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * TICK_MS;
      found = true;
    } catch {
      // The process ended while it was read.
    }
  }
  return found ? total : null;
}

/** CPU time used so far by this process (all its threads), in ms. */
export function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
