import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import pg from 'pg';
import { Pool as HttpPool } from 'undici';

/**
 * The floor: a bare graphql-yoga mutation that inserts one row, calls the webhook sink through a
 * pooled undici client and updates the row — what any service doing this job must pay.
 */
export async function startFloorServer(databaseUrl: string, sinkUrl: string): Promise<{ url: string; stop(): Promise<void> }> {
  const db = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  await db.query(
    'CREATE TABLE IF NOT EXISTS floor_runs (id uuid primary key, status text not null, result jsonb, started_at timestamptz not null, finished_at timestamptz)',
  );
  const sink = new HttpPool(new URL(sinkUrl).origin, { connections: 128 });
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: 'scalar JSON\ntype Query { ok: Boolean }\ntype Mutation { run(payload: JSON): String! }',
      resolvers: {
        Mutation: {
          async run(_root: unknown, args: { payload: unknown }) {
            const id = randomUUID();
            await db.query('INSERT INTO floor_runs (id, status, started_at) VALUES ($1, $2, now())', [id, 'RUNNING']);
            const response = await sink.request({
              path: '/floor',
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(args.payload ?? {}),
            });
            const body = await response.body.json();
            await db.query('UPDATE floor_runs SET status = $2, result = $3, finished_at = now() WHERE id = $1', [
              id,
              'SUCCESS',
              JSON.stringify({ status: response.statusCode, body }),
            ]);
            return id;
          },
        },
      },
    }),
    logging: false,
  });
  const server: Server = createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await sink.close();
      await db.end();
    },
  };
}
