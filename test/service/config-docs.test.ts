/** Every setting of src/config.ts is documented: in README.md's table and in .env.example with its default. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config.js';

const root = new URL('../..', import.meta.url);

describe('configuration documents', () => {
  it('README.md has a table row for every variable', async () => {
    const readme = await readFile(new URL('README.md', root), 'utf8');
    expect(CONFIG_VARIABLES.filter((name) => !readme.includes(`| \`${name}\` |`))).toEqual([]);
  });

  it('.env.example lists every variable, and its uncommented values load', async () => {
    const example = await readFile(new URL('.env.example', root), 'utf8');
    const listed = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
    expect(CONFIG_VARIABLES.filter((name) => !listed.has(name))).toEqual([]);
    // The documented defaults are the real ones: loading them equals loading nothing.
    const defaults: Record<string, string> = {};
    for (const m of example.matchAll(/^#\s*([A-Z][A-Z0-9_]*)=(.*)$/gm)) {
      const [, name, value] = m as unknown as [string, string, string];
      if ((CONFIG_VARIABLES as string[]).includes(name) && !(name in defaults) && !['DATABASE_URL', 'REDIS_URL', 'OUTBOUND_ALLOWLIST'].includes(name))
        defaults[name] = value;
    }
    expect(loadConfig({ ...defaults, LOG_PRETTY: 'false' })).toEqual(loadConfig({ LOG_PRETTY: 'false' }));
  });
});
