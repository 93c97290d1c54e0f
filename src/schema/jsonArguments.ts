import {
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLArgument,
  type GraphQLFieldResolver,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { badInput } from '../errors.js';
import type { GraphQLContext } from './context.js';
import { fieldScopes, mayUse } from './fieldScopes.js';
import { findJsonShapeProblem, formatJsonPath, type JsonPath } from '../shared/jsonShape.js';

/**
 * An argument whose JSON items the resolver checks one by one (publishEvents refuses a bad event
 * alone and goes on with the others), so the guard leaves it to it.
 */
export const ITEMS_CHECKED_BY_RESOLVER = { jsonItemsCheckedByResolver: true } as const;

/**
 * An input field that holds a spec: a refusal inside it also carries `extensions.specPath`, the
 * path from `root` (rules name `triggerSpec.…`, API definitions `input.httpSpec.…`, as their
 * spec validation does).
 */
export const specField = (root: string) => ({ jsonSpecPathRoot: root }) as const;

type Check = (value: unknown, path: JsonPath) => void;

const refuseIn =
  (specRoot?: string): Check =>
  (value, path) => {
    const found = findJsonShapeProblem(value);
    if (!found) return;
    const field = formatJsonPath('', [...path, ...found.path]);
    if (specRoot === undefined) throw badInput(`${field}: ${found.problem}`, { field });
    const specPath = formatJsonPath(specRoot, found.path);
    throw badInput(`${specPath}: ${found.problem}`, { field, specPath });
  };
const refuse = refuseIn();

/** A check of the JSON values a value of `type` may hold, or null when it holds none. */
function checkFor(type: GraphQLInputType, seen = new Map<string, Check | null>()): Check | null {
  if (isNonNullType(type)) return checkFor(type.ofType, seen);
  if (isListType(type)) {
    const item = checkFor(type.ofType, seen);
    return (
      item &&
      ((value, path) => {
        if (Array.isArray(value)) {
          for (const [i, v] of value.entries()) item(v, [...path, i]);
        }
      })
    );
  }
  const named = getNamedType(type);
  if (named.name === 'JSON') return refuse;
  if (!isInputObjectType(named)) return null;
  if (seen.has(named.name)) return (value, path) => seen.get(named.name)?.(value, path);
  seen.set(named.name, null);
  const fields = Object.values(named.getFields())
    .map((field) => {
      const specRoot = field.extensions?.jsonSpecPathRoot;
      const spec = typeof specRoot === 'string' && getNamedType(field.type).name === 'JSON';
      return { name: field.name, check: spec ? refuseIn(specRoot) : checkFor(field.type, seen) };
    })
    .filter((f): f is { name: string; check: Check } => f.check !== null);
  const check: Check | null = fields.length
    ? (value, path) => {
        if (typeof value !== 'object' || value === null) return;
        for (const { name, check: field } of fields) field((value as Record<string, unknown>)[name], [...path, name]);
      }
    : null;
  seen.set(named.name, check);
  return check;
}

function argumentsCheck(args: readonly GraphQLArgument[]): ((values: Record<string, unknown>) => void) | null {
  const checks = args
    .filter((arg) => !arg.extensions?.jsonItemsCheckedByResolver)
    .map((arg) => ({ name: arg.name, check: checkFor(arg.type) }))
    .filter((a): a is { name: string; check: Check } => a.check !== null);
  if (checks.length === 0) return null;
  return (values) => {
    for (const { name, check } of checks) check(values[name], [name]);
  };
}

/**
 * Every argument that holds JSON (payloads, events, params, input, specs) is checked before its
 * resolver runs: nested deeper than 64 levels or holding a number that is not finite is
 * BAD_USER_INPUT naming where (`payload.a.b[3]`). One check for every field, present and future.
 */
export function guardJsonArguments(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const check = argumentsCheck(field.args);
      if (!check) continue;
      // The role comes before the arguments (SPEC.md, 'Access'): a field the viewer may not use
      // is left to its scope check, which refuses it with FORBIDDEN.
      const scopes = fieldScopes(type, field);
      const guard = <T extends GraphQLFieldResolver<unknown, GraphQLContext>>(resolve: T | undefined): T | undefined =>
        resolve &&
        (((source, args, context, info) => {
          if (mayUse(context.viewer.role, scopes)) check(args);
          return resolve(source, args, context, info);
        }) as T);
      field.resolve = guard(field.resolve);
      field.subscribe = guard(field.subscribe);
    }
  }
  return schema;
}
