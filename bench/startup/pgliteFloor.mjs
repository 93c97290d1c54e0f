// Floor for the start-up bench: a bare PGlite opened on a data directory and served through
// pglite-socket, answering /ready once one query went through the socket.
import { createServer } from 'node:http';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';

const db = await PGlite.create(process.env.DATA_DIR);
const socket = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0 });
await socket.start();
const client = new pg.Client({ connectionString: `postgresql://postgres@${socket.getServerConn()}/postgres` });
await client.connect();
await client.query('select 1');
createServer((req, res) => {
  if (req.url !== '/ready') return res.writeHead(404).end();
  client.query('select 1').then(
    () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}'),
    () => res.writeHead(503).end(),
  );
}).listen(Number(process.env.PORT), '127.0.0.1');
