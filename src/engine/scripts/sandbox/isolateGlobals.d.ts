/**
 * Types for isolateBootstrap.js, which runs inside an isolate and is checked with checkJs.
 */

/**
 * The user script's top-level `main`, looked up by name from the bootstrap's `start()` (a
 * lexical declaration is not a property of globalThis, so only the bare name finds it).
 */
declare var main: unknown;

/** The log hook: an isolated-vm Callback in "ignored" mode. */
type LogHook = (level: string, message: string, dataJson: string | undefined) => void;

/** The bootstrap's bind(paramsJson, inputJson, contextJson, allowNetwork). */
type Bind = (paramsJson: string, inputJson: string, contextJson: string, network: boolean) => void;

/**
 * What start() and settle() answer: ['ok', outputJson, linesDropped, linesWritten], ['error',
 * code, message, linesDropped, linesWritten], or ['pending'] when main returned a thenable.
 */
type Answer = ['ok', string, number, number] | ['error', string, string, number, number] | ['pending'];

/** ctx.log and each of its levels, and console's methods. */
type LogFunction = (message: unknown, data?: unknown) => void;
