/**
 * The part of isolated-vm's API (shared by 5.0.4 and 6.2.0) that the sandbox uses, declared here
 * because only one of the two aliased packages is installed on a given Node version.
 */
export interface IvmReference<T = unknown> {
  apply(receiver: unknown, args?: unknown[], options?: { arguments?: { copy?: boolean }; result?: { promise?: boolean; copy?: boolean; reference?: boolean }; timeout?: number }): Promise<T>;
  applySync(receiver: unknown, args?: unknown[], options?: { arguments?: { copy?: boolean }; result?: { copy?: boolean; reference?: boolean }; timeout?: number }): T;
  getSync(key: string, options?: { reference?: boolean; copy?: boolean }): unknown;
  release(): void;
}

export interface IvmExternalCopy<T = unknown> {
  copy(): T;
  copyInto(options?: { release?: boolean }): T;
  release(): void;
}

export interface IvmScript {
  run(context: IvmContext, options?: { timeout?: number; promise?: boolean; copy?: boolean; reference?: boolean; release?: boolean }): Promise<unknown>;
  runSync(context: IvmContext, options?: { timeout?: number; copy?: boolean; reference?: boolean; release?: boolean }): unknown;
  release(): void;
}

export interface IvmContext {
  global: IvmReference & {
    set(key: string, value: unknown, options?: { reference?: boolean; copy?: boolean }): Promise<void>;
    setSync(key: string, value: unknown, options?: { reference?: boolean; copy?: boolean }): void;
    deleteSync(key: string): void;
    derefInto(): unknown;
  };
  eval(code: string, options?: { timeout?: number; promise?: boolean; copy?: boolean; reference?: boolean }): Promise<unknown>;
  evalSync(code: string, options?: { timeout?: number; copy?: boolean }): unknown;
  evalClosure(code: string, args?: unknown[], options?: { timeout?: number; arguments?: { reference?: boolean; copy?: boolean }; result?: { promise?: boolean; copy?: boolean; reference?: boolean } }): Promise<unknown>;
  evalClosureSync(code: string, args?: unknown[], options?: { timeout?: number; arguments?: { reference?: boolean; copy?: boolean }; result?: { copy?: boolean; reference?: boolean } }): unknown;
  release(): void;
}

export interface IvmIsolate {
  readonly isDisposed: boolean;
  createContext(): Promise<IvmContext>;
  createContextSync(): IvmContext;
  compileScript(code: string, options?: { filename?: string }): Promise<IvmScript>;
  compileScriptSync(code: string, options?: { filename?: string }): IvmScript;
  getHeapStatistics(): Promise<{ used_heap_size: number; heap_size_limit: number; total_heap_size: number }>;
  dispose(): void;
}

export interface IsolatedVm {
  Isolate: new (options?: { memoryLimit?: number; inspector?: boolean; onCatastrophicError?: (message: string) => void }) => IvmIsolate;
  ExternalCopy: new <T>(value: T, options?: { transferList?: unknown[] }) => IvmExternalCopy<T>;
  Reference: new <T>(value: T) => IvmReference<T>;
  Callback: new (fn: (...args: any[]) => unknown, options?: { async?: boolean; ignored?: boolean; sync?: boolean }) => unknown;
}
