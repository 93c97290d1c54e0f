/** `npm run schema:print`: writes the built schema to schema.graphql at the repository root. */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { printedSchema } from '../schema/index.js';

const target = fileURLToPath(new URL('../../schema.graphql', import.meta.url));
await writeFile(target, printedSchema(), 'utf8');
process.stdout.write(`wrote ${target}\n`);
