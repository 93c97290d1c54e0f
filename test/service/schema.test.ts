/**
 * The schema against its contract.
 *
 * - schema.graphql (committed) is the schema the code builds.
 * - contract/ (committed copy) equals ../shared/contract when that exists.
 * - Every breaking change between the contract and the built schema is listed in
 *   contract/pending.json (schema coordinates of parts not built yet), and every
 *   entry there is still needed: the list only shrinks.
 *
 * A pending entry covers a change whose description names it as a whole coordinate:
 * "Execution" covers "Execution was removed." but not "Execution.status was removed."
 * (a type that exists but lacks fields needs field entries) nor "ApiExecution ...".
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema as schemaFromSDL, findBreakingChanges, type BreakingChange } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema, printedSchema } from '../../src/schema/index.js';
import { itUnless } from '../support/skips.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const contractDir = path.join(root, 'contract');
const sharedContractDir = path.resolve(root, '../shared/contract');

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether a breaking change's description names the coordinate as a whole. */
function covers(coordinate: string, change: BreakingChange): boolean {
  return new RegExp(`(?<![\\w.])${escapeRegExp(coordinate)}(?![\\w]|\\.\\w)`).test(change.description);
}

async function breakingChanges(): Promise<BreakingChange[]> {
  const contract = schemaFromSDL(await readFile(path.join(contractDir, 'schema.graphql'), 'utf8'));
  return findBreakingChanges(contract, buildSchema());
}

async function pending(): Promise<string[]> {
  const list: unknown = JSON.parse(await readFile(path.join(contractDir, 'pending.json'), 'utf8'));
  if (!Array.isArray(list) || !list.every((e) => typeof e === 'string'))
    throw new Error('contract/pending.json must be an array of schema coordinates (strings)');
  return list;
}

describe('schema.graphql', () => {
  it('is the schema the code builds', async () => {
    const committed = await readFile(path.join(root, 'schema.graphql'), 'utf8').catch(() => '');
    expect(committed === printedSchema(), 'schema.graphql is stale: run npm run schema:print').toBe(true);
  });
});

describe('contract copy', () => {
  itUnless(existsSync(sharedContractDir) ? undefined : `there is no ${sharedContractDir} beside the work tree`, 'equals ../shared/contract', async () => {
    const files = (await readdir(sharedContractDir, { withFileTypes: true })).filter((f) => f.isFile()).map((f) => f.name);
    expect(files.length).toBeGreaterThan(0);
    const differing: string[] = [];
    for (const name of files) {
      const shared = await readFile(path.join(sharedContractDir, name), 'utf8');
      const copy = await readFile(path.join(contractDir, name), 'utf8').catch(() => undefined);
      if (copy !== shared) differing.push(name);
    }
    expect(differing, `contract/ differs from ../shared/contract in: ${differing.join(', ')} (copy the shared files into contract/)`).toEqual([]);
  });
});

describe('built schema against the contract', () => {
  it('has no breaking change that contract/pending.json does not list', async () => {
    const entries = await pending();
    const uncovered = (await breakingChanges()).filter((change) => !entries.some((entry) => covers(entry, change)));
    expect(
      uncovered.map((c) => `${c.type}: ${c.description}`),
      'breaking changes against contract/schema.graphql (build them, or, only for parts not built yet, list them in contract/pending.json)',
    ).toEqual([]);
  });

  it('lists in contract/pending.json only what is still missing', async () => {
    const changes = await breakingChanges();
    const stale = (await pending()).filter((entry) => !changes.some((change) => covers(entry, change)));
    expect(stale.map((entry) => `remove ${entry} from contract/pending.json`)).toEqual([]);
  });

  it('has no duplicate pending entries', async () => {
    const entries = await pending();
    expect(entries.filter((e, i) => entries.indexOf(e) !== i)).toEqual([]);
  });
});
