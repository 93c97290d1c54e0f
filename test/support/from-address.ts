import { request } from 'node:http';
import type { GraphQLResponse, TestApp } from '../support/harness.js';

/**
 * HTTP requests from a chosen loopback address (127.0.0.2, 127.0.0.3, …), so that in OPEN mode,
 * where the client address names the rate-limit budget, each test can be a client of its own.
 */

export interface PlainResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

function send(url: string, localAddress: string, contentType: string, body: string): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', localAddress, headers: { 'content-type': contentType, accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : null });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A GraphQL request to `app` from `localAddress`. */
export async function gqlFrom(app: TestApp, localAddress: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse> {
  const { status, body } = await send(app.url, localAddress, 'application/json', JSON.stringify({ query, variables }));
  return { ...body, status };
}

/** POST /events to `app` from `localAddress`: a JSON array, or NDJSON given as lines. */
export function postEventsFrom(app: TestApp, localAddress: string, events: unknown[] | { ndjson: string[] }): Promise<PlainResponse> {
  return Array.isArray(events)
    ? send(`${app.base}/events`, localAddress, 'application/json', JSON.stringify(events))
    : send(`${app.base}/events`, localAddress, 'application/x-ndjson', events.ndjson.join('\n'));
}
