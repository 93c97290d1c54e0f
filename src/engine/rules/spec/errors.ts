/**
 * A refusal of a trigger spec, action spec or API definition part. `specPath` names the bad
 * part (`triggerSpec.conditions[1].op`, `actionSpec.body.msg`, `input.runtimePolicy.timeoutMs`)
 * and is also what the API puts in `extensions.specPath`; the message starts with it.
 */
export class SpecError extends Error {
  constructor(
    readonly specPath: string,
    readonly detail: string,
  ) {
    super(`${specPath}: ${detail}`);
    this.name = 'SpecError';
  }
}
