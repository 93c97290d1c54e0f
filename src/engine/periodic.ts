import type { Logger } from '../logger.js';

export interface PeriodicJobOptions<T> {
  /** Names the job in the warning logged when a pass fails. */
  name: string;
  intervalMs: number;
  logger: Logger;
  pass: () => Promise<T>;
}

/**
 * A background job: one pass at start, then one `intervalMs` after each pass ends, so passes
 * never overlap. run() while a pass is in flight shares it; stop() ends the timer and waits for
 * the pass in flight, which may read `stopped` to end early.
 */
export class PeriodicJob<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<T> | undefined;
  private halted = false;

  constructor(private readonly options: PeriodicJobOptions<T>) {}

  get stopped(): boolean {
    return this.halted;
  }

  start(): void {
    const { name, intervalMs, logger } = this.options;
    const loop = async () => {
      await this.run().catch((error: unknown) => logger.warn({ err: error }, `${name} failed`));
      if (this.halted) return;
      this.timer = setTimeout(() => void loop(), intervalMs);
      this.timer.unref();
    };
    void loop();
  }

  run(): Promise<T> {
    this.running ??= this.options.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    this.halted = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}
