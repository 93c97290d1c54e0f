// Floor for the start-up bench: a bare graphql-yoga + pg server that connects to PostgreSQL
// and answers /ready. Plain JavaScript run by plain node, as the compiled service is.
import { createServer } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';
import pg from 'pg';

process.env.NODE_ENV ??= 'production';
const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
await db.query('select 1');
const yoga = createYoga({
  schema: createSchema({
    typeDefs: 'type Query { now: String! }',
    resolvers: { Query: { now: async () => (await db.query('select now()::text as now')).rows[0].now } },
  }),
});
createServer((req, res) => {
  if (req.url === '/ready') {
    db.query('select 1').then(
      () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}'),
      () => res.writeHead(503).end(),
    );
    return;
  }
  yoga(req, res);
}).listen(Number(process.env.PORT), '127.0.0.1');
