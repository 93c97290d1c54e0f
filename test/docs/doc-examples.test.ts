/**
 * The examples of README.md and docs/user-guide.md are pasteable as written: every GraphQL
 * block parses and validates against the built schema (so it runs in GraphiQL as it stands),
 * and every JSON block parses. GraphiQL's opening document is checked the same way.
 * readme-example.test.ts runs the README's first example against a real service.
 */
import { readFile } from 'node:fs/promises';
import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DEFAULT_QUERY } from '../../src/server/graphiql/defaultQuery.js';
import { buildSchema } from '../../src/schema/index.js';
import { codeBlocks } from '../support/markdown.js';

const root = new URL('../../', import.meta.url);

const schema = buildSchema();

/** The messages of a document that does not parse or validate; empty when it runs. */
function problemsOf(document: string): string[] {
  try {
    return validate(schema, parse(document)).map((error) => error.message);
  } catch (error) {
    return [(error as Error).message];
  }
}

const files = ['README.md', 'docs/user-guide.md'];
const blocks = (await Promise.all(files.map(async (file) => codeBlocks(file, await readFile(new URL(file, root), 'utf8'))))).flat();

describe('documentation examples', () => {
  it('finds the examples', () => {
    expect(blocks.filter((b) => b.lang === 'graphql').length).toBeGreaterThan(10);
  });

  for (const block of blocks.filter((b) => b.lang === 'graphql')) {
    it(`${block.file}:${block.line} (graphql) validates against the schema`, () => {
      expect(problemsOf(block.text)).toEqual([]);
    });
  }

  for (const block of blocks.filter((b) => b.lang === 'json')) {
    it(`${block.file}:${block.line} (json) parses`, () => {
      expect(() => JSON.parse(block.text)).not.toThrow();
    });
  }
});

describe("GraphiQL's opening document", () => {
  it('validates against the schema and holds one operation, so the run button runs it', () => {
    expect(problemsOf(DEFAULT_QUERY)).toEqual([]);
    expect(parse(DEFAULT_QUERY).definitions).toHaveLength(1);
  });
});
