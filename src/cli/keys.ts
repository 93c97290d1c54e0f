/**
 * `npm run keys -- create --name NAME --role ROLE [--expires-at ISO]`: mints an API key in the
 * configured database and prints it once (the first admin key of a deployment comes from here).
 * `npm run keys -- list` and `npm run keys -- revoke ID` list and revoke keys. With the embedded
 * database, run it while the service is stopped.
 */
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../configOrExit.js';
import { AppError } from '../errors.js';

const USAGE = `usage:
  npm run keys -- create --name NAME --role ADMIN|EDITOR|VIEWER|PUBLISHER [--expires-at 2027-01-01T00:00:00Z]
  npm run keys -- list
  npm run keys -- revoke ID
`;

class UsageError extends Error {}

function parseCommand(argv: string[]) {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, role: { type: 'string' }, 'expires-at': { type: 'string' } },
  });
  const [command, ...rest] = positionals;
  if (command === 'create') {
    if (rest.length) throw new UsageError(`create takes no positional arguments, got ${rest.join(' ')}`);
    if (!values.name) throw new UsageError('create needs --name NAME');
    if (!values.role) throw new UsageError('create needs --role ROLE');
    let expiresAt: Date | null = null;
    if (values['expires-at'] !== undefined) {
      expiresAt = new Date(values['expires-at']);
      if (Number.isNaN(expiresAt.getTime())) throw new UsageError(`--expires-at: not an ISO 8601 time: "${values['expires-at']}"`);
    }
    return { command, name: values.name, role: values.role.toUpperCase(), expiresAt } as const;
  }
  if (command === 'list' && rest.length === 0) return { command } as const;
  if (command === 'revoke' && rest.length === 1) return { command, id: rest[0]! } as const;
  throw new UsageError(command ? `unknown or incomplete command: ${[command, ...rest].join(' ')}` : 'a command is required');
}

async function main(): Promise<number> {
  let command: ReturnType<typeof parseCommand>;
  try {
    command = parseCommand(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`cepheus keys: ${(error as Error).message}\n${USAGE}`);
    return 64;
  }
  const config = loadConfigOrExit();
  const { createLogger } = await import('../logger.js');
  const { openCliDatabase } = await import('./cliDatabase.js');
  const { ApiKeyService } = await import('../services/apiKeys.js');
  const { AuditService } = await import('../services/audit.js');
  const logger = createLogger({ ...config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel });
  const database = await openCliDatabase(config, logger);
  if (!database) return 1;
  try {
    await database.migrate();
    const keys = new ApiKeyService(database.fork);
    const audit = new AuditService(database.fork, logger);
    const actor = 'local';
    if (command.command === 'create') {
      const { apiKey, secret } = await keys.create({ name: command.name, role: command.role, expiresAt: command.expiresAt }, actor);
      await audit.record({ actor, action: 'createApiKey', targetId: apiKey.id, detail: { name: apiKey.name, role: apiKey.role, expiresAt: apiKey.expiresAt } });
      process.stderr.write(`Created API key "${apiKey.name}" (${apiKey.role}, id ${apiKey.id}). It is shown once; keep it now:\n`);
      process.stdout.write(`${secret}\n`);
    } else if (command.command === 'list') {
      for (const key of await keys.list()) {
        const state = key.revokedAt ? 'revoked' : key.expiresAt && key.expiresAt <= new Date() ? 'expired' : 'active';
        process.stdout.write(`${key.id}  ${key.prefix}…  ${key.role.padEnd(9)}  ${state.padEnd(7)}  ${key.name}\n`);
      }
    } else {
      const key = await keys.revoke(command.id);
      await audit.record({ actor, action: 'revokeApiKey', targetId: key.id, detail: { id: key.id } });
      process.stdout.write(`Revoked API key "${key.name}" (${key.id}).\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof AppError) {
      process.stderr.write(`cepheus keys: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`cepheus keys: failed: ${(error as Error)?.message ?? String(error)}\n`);
    process.exit(1);
  },
);
