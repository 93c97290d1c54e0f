import type { Logger } from '../../logger.js';

/**
 * A background job: one pass at start, then one `intervalMs` after each pass ends, so passes
 * never overlap. run() while a pass is in flight shares it; stop() ends the timer and waits for
 * the pass in flight, which may read `stopped` to end early.
 */
export abstract class PeriodicJob<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<T> | undefined;
  private halted = false;

  constructor(
    /** Names the job in the warning logged when a pass fails. */
    private readonly jobName: string,
    private readonly intervalMs: number,
    protected readonly logger: Logger,
  ) {}

  /** One pass of the job's work. */
  protected abstract pass(): Promise<T>;

  get stopped(): boolean {
    return this.halted;
  }

  start(): void {
    const loop = async () => {
      await this.run().catch((error: unknown) => this.logger.warn({ err: error }, `${this.jobName} failed`));
      if (this.halted) return;
      this.timer = setTimeout(() => void loop(), this.intervalMs);
      this.timer.unref();
    };
    void loop();
  }

  /** One pass now; concurrent calls share it. */
  run(): Promise<T> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stops the timer and waits for the pass in flight. */
  async stop(): Promise<void> {
    this.halted = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}
