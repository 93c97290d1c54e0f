// @ts-nocheck -- runs in the browser: the project type-checks against Node's globals, not the DOM's.
/*
 * Starts GraphiQL (yoga's build, loaded next as graphiql.js) under a Content-Security-Policy that
 * allows same-origin scripts only: Monaco's workers come from files of their own, not blob: URLs.
 *
 * The fetcher is ours, so the headers typed in the headers tab reach every operation: queries
 * and mutations as HTTP headers, subscriptions over graphql-ws with the Authorization header in
 * the connection_init payload ({"authorization": "Bearer KEY"}). yoga's own fetcher sends
 * headers over HTTP only.
 *
 * Nothing typed in the headers tab is written to storage: GraphiQL keeps tabs, history and
 * favourites in localStorage, so the storage given to it drops every "headers" field first.
 */

self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl(_moduleId, label) {
    return { editorWorkerService: '/graphiql/editor.worker.js', json: '/graphiql/json.worker.js', graphql: '/graphiql/graphql.worker.js' }[label];
  },
};

document.addEventListener('DOMContentLoaded', () => {
  const data = JSON.parse(document.getElementById('graphiql-data').textContent);
  const endpoint = new URL(data.endpoint, location.href);
  const socketUrl = new URL(endpoint);
  socketUrl.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

  /** The Authorization header among the typed headers, whatever its case. */
  function authorizationOf(headers) {
    for (const [name, value] of Object.entries(headers ?? {})) {
      if (name.toLowerCase() === 'authorization' && value != null) return String(value);
    }
    return undefined;
  }

  /**
   * query, mutation or subscription: the operation the text and operationName select. Read from
   * the text sent, not GraphiQL's parsed document, which lags behind the editor while one types.
   */
  function operationKind(query, operationName) {
    const text = query.replace(/#[^\n]*/g, '').replace(/"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"/g, '""');
    const pattern = operationName ? new RegExp(`\\b(query|mutation|subscription)\\s+${operationName}\\b`) : /(?:^|[}\s])(query|mutation|subscription)\b/;
    return pattern.exec(text)?.[1] ?? 'query';
  }

  async function overHttp(params, typed) {
    const headers = new Headers();
    for (const [name, value] of Object.entries(typed ?? {})) if (value != null) headers.set(name, String(value));
    headers.set('content-type', 'application/json');
    headers.set('accept', 'application/graphql-response+json, application/json');
    const response = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify(params), credentials: 'same-origin' });
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      return { errors: [{ message: `HTTP ${response.status} ${response.statusText}: ${text.slice(0, 200)}` }] };
    }
  }

  // One graphql-ws client at a time, made for one Authorization value; typing another key
  // replaces it (GraphiQL runs one operation at a time). Lazy: the socket is open only while
  // a subscription runs.
  let socket = null;
  function socketFor(authorization) {
    if (socket && socket.authorization === authorization) return socket.client;
    socket?.client.dispose();
    const client = graphqlWs.createClient({
      url: socketUrl.toString(),
      connectionParams: authorization === undefined ? {} : { authorization },
      retryAttempts: 0,
    });
    socket = { authorization, client };
    return client;
  }

  function describeFailure(failure) {
    if (failure instanceof Error) return failure.message;
    if (failure && typeof failure.code === 'number') return `The connection closed: ${failure.code}${failure.reason ? ` ${failure.reason}` : ''}`;
    return 'The connection failed';
  }

  async function* overWebSocket(params, typed) {
    try {
      yield* socketFor(authorizationOf(typed)).iterate(params);
    } catch (failure) {
      yield { errors: [{ message: describeFailure(failure) }] };
    }
  }

  function fetcher(params, options) {
    const typed = options?.headers;
    return operationKind(params.query ?? '', params.operationName) === 'subscription' ? overWebSocket(params, typed) : overHttp(params, typed);
  }

  // The stored values that hold headers: tabs, history and favourites (JSON with a "headers"
  // field per entry); graphiql:headers is the headers tab itself and is not stored at all.
  const WITH_HEADERS = new Set(['graphiql:tabState', 'graphiql:queries', 'graphiql:favorites']);
  const stripHeaders = (value) => {
    try {
      return JSON.stringify(JSON.parse(value), (name, field) => (name === 'headers' ? null : field));
    } catch {
      return value;
    }
  };
  const ownKeys = () => Object.keys(localStorage).filter((key) => key.startsWith('graphiql:'));
  const storage = {
    getItem: (key) => localStorage.getItem(key),
    setItem: (key, value) => {
      if (key !== 'graphiql:headers') localStorage.setItem(key, WITH_HEADERS.has(key) ? stripHeaders(value) : value);
    },
    removeItem: (key) => localStorage.removeItem(key),
    clear: () => {
      for (const key of ownKeys()) localStorage.removeItem(key);
    },
    get length() {
      return ownKeys().length;
    },
  };

  YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), { ...data.graphiql, fetcher, storage });
});
