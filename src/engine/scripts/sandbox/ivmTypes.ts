/**
 * The part of isolated-vm's API (shared by 5.0.4 and 6.2.0) that the sandbox uses, declared here
 * because only one of the two aliased packages is installed on a given Node version.
 */
export interface IvmReference<T = unknown> {
  apply(
    receiver: unknown,
    args?: unknown[],
    options?: { arguments?: { copy?: boolean }; result?: { promise?: boolean; copy?: boolean; reference?: boolean }; timeout?: number },
  ): Promise<T>;
  applySync(
    receiver: unknown,
    args?: unknown[],
    options?: { arguments?: { copy?: boolean }; result?: { copy?: boolean; reference?: boolean }; timeout?: number },
  ): T;
  getSync(key: string, options?: { reference?: boolean; copy?: boolean }): unknown;
  release(): void;
}

export interface IvmScript {
  run(context: IvmContext, options?: { timeout?: number; promise?: boolean; copy?: boolean; reference?: boolean; release?: boolean }): Promise<unknown>;
  runSync(context: IvmContext, options?: { timeout?: number; copy?: boolean; reference?: boolean; release?: boolean }): unknown;
  release(): void;
}

export interface IvmContext {
  release(): void;
}

export interface IvmIsolate {
  readonly isDisposed: boolean;
  createContext(): Promise<IvmContext>;
  compileScript(code: string, options?: { filename?: string }): Promise<IvmScript>;
  compileScriptSync(code: string, options?: { filename?: string }): IvmScript;
  getHeapStatistics(): Promise<{ used_heap_size: number; heap_size_limit: number; total_heap_size: number }>;
  dispose(): void;
}

export interface IsolatedVm {
  Isolate: new (options?: { memoryLimit?: number; inspector?: boolean; onCatastrophicError?: (message: string) => void }) => IvmIsolate;
  Reference: new <T>(value: T) => IvmReference<T>;
  Callback: new (
    // biome-ignore lint/suspicious/noExplicitAny: isolated-vm calls back with whatever the isolate passed
    fn: (...args: any[]) => unknown,
    options?: { async?: boolean; ignored?: boolean; sync?: boolean },
  ) => unknown;
}
