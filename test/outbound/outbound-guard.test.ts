import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { OutboundError, OutboundHttpClient, type OutboundRequest, type Resolver } from '../../src/engine/outbound/client.js';
import fc from 'fast-check';
import { AddressGuard, formatAllowedHost, parseAllowedHost } from '../../src/engine/outbound/guard.js';
import { validateRuntimePolicy } from '../../src/engine/rules/spec/api.js';
import { SpecError } from '../../src/engine/rules/spec/errors.js';

/*
 * The outbound guard. Nothing here sends a packet outside loopback: public addresses appear only
 * in check() (never dialled), and the client tests use an injected resolver and a local server.
 */

describe('AddressGuard.check, default (empty allowlist)', () => {
  const guard = new AddressGuard([]);

  const blocked: [string, string][] = [
    // IPv4
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'metadata'],
    ['169.254.0.1', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['0.0.0.0', 'this network'],
    ['0.1.2.3', 'this network'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    // IPv6
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456:789a::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fec0::1', 'site-local'],
    ['ff02::1', 'multicast'],
    ['ff05::2', 'multicast'],
    // IPv4-mapped (both notations), IPv4-compatible, IPv4-translated
    ['::ffff:127.0.0.1', 'IPv4-mapped form of 127.0.0.1: loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped form of 127.0.0.1: loopback'],
    ['::ffff:10.1.2.3', 'IPv4-mapped form of 10.1.2.3: private'],
    ['::ffff:169.254.169.254', 'IPv4-mapped form of 169.254.169.254: link-local'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped form of 169.254.169.254'],
    ['::127.0.0.1', 'IPv4-compatible form of 127.0.0.1'],
    ['::192.168.0.1', 'IPv4-compatible form of 192.168.0.1'],
    ['::ffff:0:7f00:1', 'IPv4-translated form of 127.0.0.1'],
    // 6to4 (2002:AABB:CCDD::/48 carries AA.BB.CC.DD)
    ['2002:7f00:1::1', '6to4 form of 127.0.0.1: loopback'],
    ['2002:a9fe:a9fe::', '6to4 form of 169.254.169.254'],
    ['2002:c0a8:101::1', '6to4 form of 192.168.1.1: private'],
    // NAT64 (64:ff9b::/96 carries the IPv4 in its last 32 bits)
    ['64:ff9b::7f00:1', 'NAT64 form of 127.0.0.1: loopback'],
    ['64:ff9b::10.0.0.1', 'NAT64 form of 10.0.0.1: private'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 form of 169.254.169.254'],
    ['64:ff9b:1::1', 'NAT64 local-use'],
    // Teredo whose client (inverted last 32 bits) is 127.0.0.1
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo form of 127.0.0.1'],
    // Not an address at all
    ['evil.test', 'not an IP address'],
    ['0x7f000001', 'not an IP address'],
  ];

  it.each(blocked)('refuses %s (%s)', (address, reason) => {
    const verdict = guard.check(address);
    expect(verdict.allowed).toBe(false);
    if (!verdict.allowed) expect(verdict.reason).toContain(reason);
  });

  const allowed = [
    '1.1.1.1',
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '192.169.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001::200e',
    '::ffff:1.1.1.1',
    '64:ff9b::1.1.1.1',
    '2002:101:101::1',
  ];

  it.each(allowed)('allows the public address %s', (address) => {
    expect(guard.check(address)).toEqual({ allowed: true });
  });
});

describe('AddressGuard allowlist', () => {
  it('opens allowlisted IPs and CIDRs, and only them', () => {
    const guard = new AddressGuard(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', '[::1]']);
    expect(guard.check('127.0.0.1').allowed).toBe(true);
    expect(guard.check('::ffff:127.0.0.1').allowed).toBe(true);
    expect(guard.check('127.0.0.2').allowed).toBe(false);
    expect(guard.check('10.20.30.40').allowed).toBe(true);
    expect(guard.check('::ffff:10.20.30.40').allowed).toBe(true);
    expect(guard.check('192.168.0.1').allowed).toBe(false);
    expect(guard.check('fd00::5').allowed).toBe(true);
    expect(guard.check('fc00::5').allowed).toBe(false);
    expect(guard.check('::1').allowed).toBe(true);
    expect(guard.check('169.254.169.254').allowed).toBe(false);
  });

  it('opens allowlisted host names, exact (case-insensitive) and *.suffix', () => {
    const guard = new AddressGuard(['Internal.Example.com', '*.corp.test']);
    const local = [{ address: '10.0.0.5', family: 4 }];
    expect(guard.vet('internal.example.com', local).allowed).toBe(true);
    expect(guard.vet('INTERNAL.example.COM.', local).allowed).toBe(true);
    expect(guard.vet('other.example.com', local).allowed).toBe(false);
    expect(guard.vet('a.corp.test', local).allowed).toBe(true);
    expect(guard.vet('a.b.corp.test', local).allowed).toBe(true);
    expect(guard.vet('corp.test', local).allowed).toBe(false);
    expect(guard.vet('xcorp.test', local).allowed).toBe(false);
    // The address itself is not opened by a host entry.
    expect(guard.check('10.0.0.5').allowed).toBe(false);
  });

  it('refuses a host when any of its addresses is refused', () => {
    const guard = new AddressGuard([]);
    const verdict = guard.vet('mixed.test', [
      { address: '1.1.1.1', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ]);
    expect(verdict).toMatchObject({ allowed: false, address: '127.0.0.1' });
  });

  it.each(['foo bar', 'http://x.test', '10.0.0.0/33', '10.0.0.0/x', '300.1.1.1', '*', '*.', 'a..b', '1.2.3', '::1/129', 'host:80'])(
    'rejects the invalid entry %j naming it',
    (entry) => {
      expect(() => new AddressGuard(['127.0.0.1', entry])).toThrow(entry);
    },
  );

  it('makes the service refuse to start on a bad OUTBOUND_ALLOWLIST entry, naming the variable', () => {
    expect(() => loadConfig({ OUTBOUND_ALLOWLIST: '127.0.0.1,not a host' })).toThrow(ConfigError);
    expect(() => loadConfig({ OUTBOUND_ALLOWLIST: '127.0.0.1,not a host' })).toThrow(/OUTBOUND_ALLOWLIST.*"not a host"/);
    expect(loadConfig({ OUTBOUND_ALLOWLIST: '127.0.0.1, 10.0.0.0/8, *.example.com, ::1, fd00::/8' }).outboundAllowlist).toHaveLength(5);
  });
});

describe('allowedHosts entries', () => {
  it('parses hosts, suffixes, IPs and ports', () => {
    expect(parseAllowedHost('API.example.com')).toEqual({ pattern: { exact: 'api.example.com' }, port: null });
    expect(parseAllowedHost('*.example.com:8443')).toEqual({ pattern: { suffix: 'example.com' }, port: 8443 });
    expect(parseAllowedHost('127.0.0.1:80')).toEqual({ pattern: { exact: '127.0.0.1' }, port: 80 });
    expect(parseAllowedHost('[::1]:8080')).toEqual({ pattern: { exact: '[::1]' }, port: 8080 });
    expect(parseAllowedHost('::1')).toEqual({ pattern: { exact: '[::1]' }, port: null });
    for (const bad of ['http://x', 'x:0', 'x:99999', '*.1.2.3.4', 'a b']) expect(() => parseAllowedHost(bad)).toThrow(bad);
  });

  it('reads numeric IPv4 forms as URL parsers do (the form a request URL has)', () => {
    for (const form of ['127.1', '2130706433', '0x7f.1', '0x7F000001', '017700000001', '0177.0.0.1', '127.0.1', '127.1.']) {
      expect(new URL(`http://${form}/`).hostname).toBe('127.0.0.1');
      expect(parseAllowedHost(form), form).toEqual({ pattern: { exact: '127.0.0.1' }, port: null });
    }
    expect(parseAllowedHost('127.1:8080')).toEqual({ pattern: { exact: '127.0.0.1' }, port: 8080 });
    // What URL parsers refuse as a host is no entry either.
    for (const bad of ['256.0.0.1', '1.2.3.4.5', '0x100000000', '*.127.1', '1.2@127.1', 'example.123', '09.1'])
      expect(() => parseAllowedHost(bad), bad).toThrow(bad);
  });

  it('has a canonical text that reads back the same', () => {
    for (const entry of ['API.Example.com', '*.Example.org:8443', '[0:0::1]:80', '::1', '127.1', 'localhost:8080', 'Bücher.example']) {
      const parsed = parseAllowedHost(entry);
      expect(parseAllowedHost(formatAllowedHost(parsed))).toEqual(parsed);
    }
    expect(['API.Example.com', '*.Example.org:8443', '[0:0::1]:80', '2130706433'].map((e) => formatAllowedHost(parseAllowedHost(e)))).toEqual([
      'api.example.com',
      '*.example.org:8443',
      '[::1]:80',
      '127.0.0.1',
    ]);
  });

  it('are accepted at save exactly when the run-time check accepts them, and saved in the form it reads', () => {
    const limits = { scriptMaxTimeoutMs: 60_000, scriptMaxMemoryMb: 256 };
    const saved = (entry: string): string | SpecError => {
      try {
        return validateRuntimePolicy({ allowedHosts: [entry] }, limits).allowedHosts[0]!;
      } catch (error) {
        if (error instanceof SpecError) return error;
        throw error;
      }
    };
    const check = (entry: string) => {
      let atRun: string | null;
      try {
        atRun = formatAllowedHost(parseAllowedHost(entry));
      } catch {
        atRun = null;
      }
      const atSave = saved(entry);
      if (atRun === null) {
        expect(atSave, entry).toBeInstanceOf(SpecError);
        expect((atSave as SpecError).specPath).toBe('input.runtimePolicy.allowedHosts[0]');
      } else {
        expect(atSave, entry).toBe(atRun);
      }
    };
    // Forms the old save check let through while every run refused them.
    for (const entry of [
      '127.1',
      '2130706433',
      '0x7f.1',
      '017700000001',
      '256.0.0.1',
      '1.2.3.4.5',
      '-x.example.com',
      'x-.example.com',
      `${'a'.repeat(64)}.example.com`,
    ])
      check(entry);
    // Text after the host was dropped by the run-time reading (`a.com/x` read as `a.com`): refused now.
    for (const entry of ['a.com/x', 'a.com?x', 'a.com#x', 'a.com\\x', 'a.com\tb']) {
      check(entry);
      expect(saved(entry), entry).toBeInstanceOf(SpecError);
    }
    expect(saved('0x7f.1')).toBe('127.0.0.1');
    fc.assert(
      fc.property(fc.stringMatching(/^(\*\.)?[0-9a-fx.:\-[\]/?#@]{1,20}$/), (entry) => check(entry)),
      { numRuns: 2000, seed: 20261207 },
    );
  });
});

// ---- Through the client, against a local server on 127.0.0.1 ----

interface LocalServer {
  port: number;
  connections: number;
  hits: { path: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

async function localServer(): Promise<LocalServer> {
  const state = { connections: 0, hits: [] as LocalServer['hits'] };
  const server: Server = createServer((req, res) => {
    state.hits.push({ path: req.url ?? '', headers: req.headers });
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/target', 'content-type': 'application/json' });
      res.end(JSON.stringify({ moved: true }));
      return;
    }
    if (req.url === '/close') res.setHeader('connection', 'close');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, path: req.url }));
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    get connections() {
      return state.connections;
    },
    hits: state.hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers fixed addresses per name (and counts lookups); unknown names fail like DNS does. */
function fakeResolver(table: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

describe('OutboundHttpClient with the guard', () => {
  let server: LocalServer;
  const clients: OutboundHttpClient[] = [];
  const client = (allowlist: string[], table: Record<string, string[]> = { 'evil.test': ['127.0.0.1'] }) => {
    const resolve = fakeResolver(table);
    const c = new OutboundHttpClient({ allowlist, resolve });
    clients.push(c);
    return { client: c, resolve };
  };
  const get = (url: string, extra: Partial<OutboundRequest> = {}): OutboundRequest => ({ method: 'GET', url, timeoutMs: 3000, ...extra });

  beforeAll(async () => {
    server = await localServer();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await server.close();
  });

  async function expectBlocked(promise: Promise<unknown>, message?: RegExp) {
    const error = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OutboundError);
    expect((error as OutboundError).kind).toBe('blocked');
    if (message) expect((error as OutboundError).message).toMatch(message);
  }

  it('refuses a host name resolving to 127.0.0.1 before any socket opens', async () => {
    const before = server.connections;
    const { client: c, resolve } = client([]);
    await expectBlocked(
      c.request(get(`http://evil.test:${server.port}/secret`)),
      /^blocked by the outbound guard: evil\.test resolves to 127\.0\.0\.1 \(loopback 127\.0\.0\.0\/8\); add it to OUTBOUND_ALLOWLIST to allow it$/,
    );
    expect(resolve.calls).toEqual(['evil.test']);
    expect(server.connections).toBe(before);
    expect(server.hits.filter((h) => h.path === '/secret')).toHaveLength(0);
  });

  it('refuses when any resolved address is refused (nothing dialled)', async () => {
    const before = server.connections;
    const { client: c } = client([], { 'mixed.test': ['1.1.1.1', '127.0.0.1'] });
    await expectBlocked(c.request(get(`http://mixed.test:${server.port}/`)), /mixed\.test resolves to 127\.0\.0\.1/);
    expect(server.connections).toBe(before);
  });

  it.each(['127.0.0.1', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[::1]', '0.0.0.0', '[64:ff9b::7f00:1]', '[2002:7f00:1::]'])(
    'refuses the IP literal URL http://%s:port before any socket opens',
    async (host) => {
      const before = server.connections;
      const { client: c, resolve } = client([]);
      await expectBlocked(c.request(get(`http://${host}:${server.port}/`)), /blocked by the outbound guard/);
      expect(resolve.calls).toEqual([]);
      expect(server.connections).toBe(before);
    },
  );

  it('refuses https the same way (before any TLS handshake)', async () => {
    const before = server.connections;
    const { client: c } = client([]);
    await expectBlocked(c.request(get(`https://evil.test:${server.port}/`)), /evil\.test resolves to 127\.0\.0\.1/);
    expect(server.connections).toBe(before);
  });

  it('allows the same with OUTBOUND_ALLOWLIST 127.0.0.1, dialling the checked address and keeping the Host header', async () => {
    const { client: c, resolve } = client(['127.0.0.1']);
    const response = await c.request(get(`http://evil.test:${server.port}/allowed`));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ ok: true, path: '/allowed' });
    // evil.test exists only in the injected resolver: the socket went to the checked IP, not a second lookup.
    expect(resolve.calls).toEqual(['evil.test']);
    const hit = server.hits.find((h) => h.path === '/allowed');
    expect(hit?.headers.host).toBe(`evil.test:${server.port}`);
  });

  it('allows an IP literal that is allowlisted, also in its IPv4-mapped form', async () => {
    const { client: c } = client(['127.0.0.1']);
    expect((await c.request(get(`http://127.0.0.1:${server.port}/literal`))).status).toBe(200);
    // ::ffff:127.0.0.1 is refused only when the host has no IPv6 stack; where it has, it reaches the server.
    const mapped = await c.request(get(`http://[::ffff:127.0.0.1]:${server.port}/mapped`)).catch((e: OutboundError) => e);
    if (mapped instanceof OutboundError) expect(mapped.kind).toBe('network');
    else expect(mapped.status).toBe(200);
  });

  it('allows a host name that is itself allowlisted', async () => {
    const { client: c } = client(['EVIL.test']);
    expect((await c.request(get(`http://evil.test:${server.port}/by-name`))).status).toBe(200);
    const { client: other } = client(['*.evil.test'], { 'a.evil.test': ['127.0.0.1'] });
    expect((await other.request(get(`http://a.evil.test:${server.port}/by-suffix`))).status).toBe(200);
  });

  it('checks again on every new connection, so a changed DNS answer (rebinding) is refused', async () => {
    const answers = [['127.0.0.1'], ['127.0.0.2']];
    const calls: string[] = [];
    const resolve: Resolver = async (hostname) => {
      calls.push(hostname);
      return (answers.shift() ?? ['127.0.0.2']).map((address) => ({ address, family: 4 }));
    };
    const c = new OutboundHttpClient({ allowlist: ['127.0.0.1'], resolve });
    clients.push(c);
    // The server closes the connection after answering, so the next call needs a new one.
    expect((await c.request(get(`http://rebind.test:${server.port}/close`))).status).toBe(200);
    const before = server.connections;
    await expectBlocked(c.request(get(`http://rebind.test:${server.port}/close`)), /rebind\.test resolves to 127\.0\.0\.2/);
    expect(server.connections).toBe(before);
    expect(calls).toEqual(['rebind.test', 'rebind.test']);
  });

  it('returns a redirect answer as it is and never follows it', async () => {
    const { client: c } = client(['127.0.0.1']);
    const hitsBefore = server.hits.length;
    const response = await c.request(get(`http://127.0.0.1:${server.port}/redirect`));
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('/target');
    expect(response.body).toEqual({ moved: true });
    expect(server.hits.slice(hitsBefore).map((h) => h.path)).toEqual(['/redirect']);
  });

  it('narrows to allowedHosts: a host outside them is refused before any socket opens', async () => {
    const { client: c } = client(['127.0.0.1'], { 'evil.test': ['127.0.0.1'], 'api.partner.test': ['127.0.0.1'] });
    const before = server.connections;
    await expectBlocked(c.request(get(`http://evil.test:${server.port}/`, { allowedHosts: ['api.partner.test'] })), /evil\.test:\d+ is not in allowedHosts/);
    await expectBlocked(c.request(get(`http://127.0.0.1:${server.port}/`, { allowedHosts: ['127.0.0.1:1'] })), /not in allowedHosts/);
    await expectBlocked(c.request(get(`http://127.0.0.1:${server.port}/`, { allowedHosts: [] })), /not in allowedHosts/);
    expect(server.connections).toBe(before);

    expect((await c.request(get(`http://api.partner.test:${server.port}/`, { allowedHosts: ['API.partner.test'] }))).status).toBe(200);
    expect((await c.request(get(`http://api.partner.test:${server.port}/`, { allowedHosts: ['*.partner.test'] }))).status).toBe(200);
    expect((await c.request(get(`http://127.0.0.1:${server.port}/`, { allowedHosts: [`127.0.0.1:${server.port}`] }))).status).toBe(200);
  });

  it('allowedHosts never opens what the guard refuses', async () => {
    const before = server.connections;
    const { client: c } = client([]);
    await expectBlocked(c.request(get(`http://evil.test:${server.port}/`, { allowedHosts: ['evil.test'] })), /blocked by the outbound guard/);
    await expectBlocked(c.request(get(`http://127.0.0.1:${server.port}/`, { allowedHosts: ['127.0.0.1'] })), /blocked by the outbound guard/);
    expect(server.connections).toBe(before);
  });

  it('reaches an address whose allowedHosts entry is a numeric IPv4 form', async () => {
    const { client: c } = client(['127.0.0.1']);
    for (const entry of ['127.1', '2130706433', '0x7f.1', `017700000001:${server.port}`]) {
      expect((await c.request(get(`http://127.0.0.1:${server.port}/`, { allowedHosts: [entry] }))).status, entry).toBe(200);
    }
    expect((await c.request(get(`http://127.1:${server.port}/`, { allowedHosts: ['127.0.0.1'] }))).status).toBe(200);
  });

  it('refuses CONNECT, TRACE and TRACK (any case) before any socket opens', async () => {
    const { client: c } = client(['127.0.0.1']);
    const before = server.connections;
    for (const method of ['CONNECT', 'TRACE', 'TRACK', 'trace', 'Track']) {
      await expectBlocked(c.request(get(`http://127.0.0.1:${server.port}/`, { method })), new RegExp(`method ${method.toUpperCase()} is not allowed`));
    }
    expect(server.connections).toBe(before);
    expect((await c.request(get(`http://127.0.0.1:${server.port}/`, { method: 'OPTIONS' }))).status).toBe(200);
  });

  it('refuses the headers the client owns (Host, framing, connection), whatever their case', async () => {
    const { client: c } = client(['127.0.0.1']);
    const before = server.connections;
    for (const name of ['Host', 'host', 'HOST', 'Content-Length', 'transfer-encoding', 'Connection', 'Keep-Alive', 'Upgrade', 'Expect']) {
      await expectBlocked(
        c.request(get(`http://127.0.0.1:${server.port}/`, { headers: { 'x-fine': '1', [name]: 'value' } })),
        new RegExp(`header "${name}" may not be set`),
      );
    }
    expect(server.connections).toBe(before);
    const hits = server.hits.length;
    expect((await c.request(get(`http://127.0.0.1:${server.port}/h`, { headers: { 'x-fine': '1' } }))).status).toBe(200);
    expect(server.hits.slice(hits)[0]!.headers['x-fine']).toBe('1');
  });

  it('reports an invalid allowedHosts entry as invalid', async () => {
    const { client: c } = client(['127.0.0.1']);
    await expect(c.request(get(`http://127.0.0.1:${server.port}/`, { allowedHosts: ['http://x'] }))).rejects.toMatchObject({ kind: 'invalid' });
  });

  it('reports a name the resolver does not know as a network error', async () => {
    const { client: c } = client([]);
    await expect(c.request(get(`http://unknown.test:${server.port}/`))).rejects.toMatchObject({
      kind: 'network',
      message: expect.stringContaining('ENOTFOUND'),
    });
  });
});

describe('OutboundHttpClient deadlines and caps', () => {
  const seen: string[] = [];
  let port = 0;
  const server: Server = createServer((req, res) => {
    seen.push(req.url ?? '');
    req.resume();
    if (req.url === '/slow') {
      setTimeout(() => res.end('{"slow":true}'), 400);
      return;
    }
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('x'.repeat(10_000));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('never sends a call whose deadline passes while it waits for a pooled connection', async () => {
    const client = new OutboundHttpClient({ allowlist: ['127.0.0.1'], connectionsPerOrigin: 1 });
    try {
      seen.length = 0;
      const slow = client.request({ method: 'GET', url: `http://127.0.0.1:${port}/slow`, timeoutMs: 2_000 });
      const queued = client.request({ method: 'GET', url: `http://127.0.0.1:${port}/queued`, timeoutMs: 100 });
      await expect(queued).rejects.toMatchObject({ kind: 'timeout', message: 'no answer within 100 ms' });
      await expect(slow).resolves.toMatchObject({ status: 200, body: { slow: true } });
      // The connection is free again: a later call goes through, and the timed-out one never went out.
      await expect(client.request({ method: 'GET', url: `http://127.0.0.1:${port}/after`, timeoutMs: 2_000 })).resolves.toMatchObject({ status: 200 });
      expect(seen).toEqual(['/slow', '/after']);
    } finally {
      await client.close();
    }
  });

  it('cuts an answer at maxBodyBytes and marks it truncated, then serves the next call', async () => {
    const client = new OutboundHttpClient({ allowlist: ['127.0.0.1'], connectionsPerOrigin: 1 });
    try {
      const cut = await client.request({ method: 'GET', url: `http://127.0.0.1:${port}/big`, timeoutMs: 2_000, maxBodyBytes: 1_000 });
      expect(cut).toMatchObject({ status: 200, truncated: true, body: 'x'.repeat(1_000) });
      await expect(client.request({ method: 'GET', url: `http://127.0.0.1:${port}/next`, timeoutMs: 2_000 })).resolves.toMatchObject({
        status: 200,
        body: { ok: true },
        truncated: false,
      });
    } finally {
      await client.close();
    }
  });
});
