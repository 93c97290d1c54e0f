import WebSocket from 'ws';
import type { GraphQLResponse } from './harness.js';
import { wsUrlOf } from './ws.js';

/** An ADMIN_KEY for tests of KEYS mode (at least 32 characters). */
export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef-0123456789';

/** A GraphQL request over HTTP with `Authorization: Bearer key` (no header when key is null). */
export async function gqlWith<T = any>(
  url: string,
  key: string | null,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLResponse<T> & { headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as GraphQLResponse<T>;
  return { ...body, status: response.status, headers: response.headers };
}

/**
 * A raw graphql-ws connection: sends connection_init with `payload`, and tells how the server
 * answered (connection_ack) or closed the socket (code and reason).
 */
export interface RawWs {
  socket: WebSocket;
  /** Resolves with 'ack', or with the close code if the server closes before acknowledging. */
  acknowledged: Promise<'ack' | number>;
  closed: Promise<{ code: number; reason: string }>;
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
  messages: { type: string; id?: string; payload?: any }[];
}

export function rawWs(httpUrl: string, payload: Record<string, unknown> | undefined, headers: Record<string, string> = {}): RawWs {
  const socket = new WebSocket(wsUrlOf(httpUrl), 'graphql-transport-ws', { headers });
  const messages: RawWs['messages'] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    socket.on('error', () => undefined);
  });
  const acknowledged = new Promise<'ack' | number>((resolve) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString());
      messages.push(message);
      if (message.type === 'connection_ack') resolve('ack');
    });
    void closed.then(({ code }) => resolve(code));
  });
  return {
    socket,
    acknowledged,
    closed,
    messages,
    subscribe(id, query, variables) {
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    },
  };
}
