import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { SpecError } from './errors.js';
import { checkText } from './text.js';
import { HTTP_SPEC_TEMPLATE_ROOTS, HTTP_TEMPLATE_ROOTS, checkSecretDestination, checkTemplates } from '../../actions/templates.js';
import { formatAllowedHost, parseAllowedHost } from '../../outbound/guard.js';
import type { HttpMethod, HttpSpec, RuntimePolicy, SpecLimits } from './types.js';
import {
  checkKeys,
  expectBoolean,
  expectEnum,
  expectHeaders,
  expectInteger,
  expectObject,
  expectStringList,
  expectTemplatedHttpUrl,
  expected,
  fail,
  has,
  indexPath,
  isPlainObject,
  keyPath,
  optional,
  required,
} from './util.js';

export const DEFAULT_RUNTIME_POLICY: Readonly<RuntimePolicy> = Object.freeze({
  timeoutMs: 5000,
  memoryLimitMb: 64,
  allowNetwork: false,
  allowedHosts: [],
});
export const MIN_MEMORY_LIMIT_MB = 8;

const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'];

/**
 * runtimePolicy of an API definition (`input.runtimePolicy`): defaults filled in, limits from
 * SCRIPT_MAX_TIMEOUT_MS / SCRIPT_MAX_MEMORY_MB. null or absent is every default.
 */
export function validateRuntimePolicy(input: unknown, limits: SpecLimits): RuntimePolicy {
  const path = 'input.runtimePolicy';
  if (input === undefined || input === null) return { ...DEFAULT_RUNTIME_POLICY, allowedHosts: [] };
  const obj = expectObject(input, path, 'an object {timeoutMs, memoryLimitMb, allowNetwork, allowedHosts}');
  checkKeys(obj, path, ['timeoutMs', 'memoryLimitMb', 'allowNetwork', 'allowedHosts']);
  const timeoutMs = has(obj, 'timeoutMs')
    ? expectInteger(obj.timeoutMs, keyPath(path, 'timeoutMs'), 1, limits.scriptMaxTimeoutMs)
    : DEFAULT_RUNTIME_POLICY.timeoutMs;
  const memoryLimitMb = has(obj, 'memoryLimitMb')
    ? expectInteger(obj.memoryLimitMb, keyPath(path, 'memoryLimitMb'), MIN_MEMORY_LIMIT_MB, limits.scriptMaxMemoryMb)
    : DEFAULT_RUNTIME_POLICY.memoryLimitMb;
  const allowNetwork = has(obj, 'allowNetwork') ? expectBoolean(obj.allowNetwork, keyPath(path, 'allowNetwork')) : false;
  const hostsPath = keyPath(path, 'allowedHosts');
  const hosts = has(obj, 'allowedHosts') ? expectStringList(obj.allowedHosts, hostsPath, 'a list of host names') : [];
  const allowedHosts: string[] = [];
  for (const [i, given] of hosts.entries()) {
    // The run-time reading of the entry (the outbound client's), so that what is saved is what runs.
    let host: string;
    try {
      host = formatAllowedHost(parseAllowedHost(given));
    } catch {
      fail(
        indexPath(hostsPath, i),
        `expected a host name such as "api.example.com" (optionally "*.example.com" or with ":port") or an IP address, got "${given}"`,
      );
    }
    if (!allowedHosts.includes(host)) allowedHosts.push(host);
  }
  return { timeoutMs, memoryLimitMb, allowNetwork, allowedHosts };
}

/**
 * httpSpec of an HTTP API definition (`input.httpSpec`): `{method, url, headers, params, body}`,
 * with templates over params, input and secrets.
 */
export function validateHttpSpec(spec: unknown): HttpSpec {
  const path = 'input.httpSpec';
  checkText(spec, path);
  const obj = expectObject(spec, path, 'an object {method, url, headers, params, body}');
  checkKeys(obj, path, ['method', 'url', 'headers', 'params', 'body']);
  const method = has(obj, 'method') ? expectEnum(obj.method, keyPath(path, 'method'), HTTP_METHODS) : 'GET';
  const url = expectTemplatedHttpUrl(required(obj, 'url', path, 'an absolute http or https URL'), keyPath(path, 'url'));
  const headers = has(obj, 'headers') ? expectHeaders(obj.headers, keyPath(path, 'headers')) : {};
  const params = has(obj, 'params') ? expectObject(obj.params, keyPath(path, 'params')) : {};
  const body = optional(obj, 'body');
  const normalised: HttpSpec = { method, url, headers, params, ...(body === undefined ? {} : { body }) };
  for (const [key, value] of Object.entries(normalised)) {
    if (key !== 'method') checkTemplates(value, keyPath(path, key), HTTP_SPEC_TEMPLATE_ROOTS);
  }
  checkSecretDestination(normalised, url, keyPath(path, 'url'), HTTP_TEMPLATE_ROOTS);
  return normalised;
}

let ajv: Ajv2020 | undefined;

/**
 * The Ajv instance (JSON Schema 2020-12) used for paramSchema, shared by validation at save and
 * by the check of params at run time. Unknown keywords and formats are tolerated as annotations
 * (strict off); the schema itself must still satisfy the 2020-12 meta-schema.
 */
export function paramSchemaAjv(): Ajv2020 {
  ajv ??= new Ajv2020({ strict: false, allErrors: true, logger: false });
  return ajv;
}

/** Compiles a paramSchema (already validated or not); throws SpecError at `input.paramSchema`. */
export function compileParamSchema(schema: unknown): ValidateFunction {
  const path = 'input.paramSchema';
  if (!isPlainObject(schema)) expected(path, 'a JSON Schema (2020-12) object', schema);
  const instance = paramSchemaAjv();
  try {
    if (!instance.validateSchema(schema)) {
      fail(path, `invalid JSON Schema: ${instance.errorsText(instance.errors, { dataVar: 'schema' })}`);
    }
    return instance.compile(schema);
  } catch (err) {
    if (err instanceof SpecError) throw err;
    return fail(path, `invalid JSON Schema: ${(err as Error).message}`);
  } finally {
    // Forget the schema (and its $id), so saving it again, or another with the same $id, compiles anew.
    instance.removeSchema(schema);
  }
}

/** A paramSchema must be a JSON object that compiles as JSON Schema 2020-12. Returned as given. */
export function validateParamSchema(schema: unknown): object {
  checkText(schema, 'input.paramSchema');
  compileParamSchema(schema);
  return schema as object;
}
