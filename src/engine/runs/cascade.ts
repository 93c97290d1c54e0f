import type { CascadeEvent, CascadeEventKindValue, Execution, ExecutionStatusValue } from '../../entities/index.js';

/**
 * One cascade as it runs in this process: its executions run one after another (a child inside
 * its parent's action), so the next seq is a counter here, and the cascade's outcome is known
 * when the root finishes.
 */
export class CascadeRun {
  private seq = 0;
  failed = false;
  /**
   * An execution of it went RETRYING: the cascade stays RUNNING, and CASCADE_FINISHED is written
   * by whichever instance finishes its last execution (SPEC.md, 'Delivery').
   */
  retrying = false;

  constructor(readonly id: string) {}

  /** A cascade whose events up to `lastSeq` are already written (an attempt sent after its first). */
  static resume(id: string, lastSeq: number): CascadeRun {
    const cascade = new CascadeRun(id);
    cascade.seq = lastSeq;
    return cascade;
  }

  /** Reserves the next seq numbers; `rollback` frees them when the write that held them did not happen. */
  mark() {
    return this.seq;
  }

  rollback(mark: number) {
    this.seq = mark;
  }

  event(kind: CascadeEventKindValue, execution: Execution, at: Date, status: ExecutionStatusValue | null = null, message: string | null = null): CascadeEvent {
    return {
      cascadeId: this.id,
      seq: ++this.seq,
      at,
      kind,
      executionId: execution.id,
      ruleId: execution.ruleId,
      ruleName: execution.ruleName,
      depth: execution.depth,
      status,
      message,
    };
  }

  /** FAILED when any execution failed, else the root's status. */
  status(root: Execution): ExecutionStatusValue {
    return this.failed ? 'FAILED' : root.status;
  }
}
