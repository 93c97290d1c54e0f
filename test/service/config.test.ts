import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config.js';

/** loadConfig: every setting of SPEC.md "Operations" with its default, and one clear refusal per bad value. */

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('reads the defaults of SPEC.md "Operations" from an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      databaseUrl: undefined,
      redisUrl: undefined,
      outboundAllowlist: [],
      maxCascadeDepth: 8,
      scriptMaxTimeoutMs: 30000,
      scriptMaxMemoryMb: 256,
      graphiql: true,
      maxRequestBytes: 1_048_576,
    });
    // The embedded database lives under .data/ by default.
    expect(config.embeddedDataDir).toMatch(/^\.data\//);
    expect(config.logLevel).toBe('info');
  });

  it('knows every variable of SPEC.md "Operations"', () => {
    for (const name of [
      'PORT',
      'HOST',
      'DATABASE_URL',
      'REDIS_URL',
      'OUTBOUND_ALLOWLIST',
      'MAX_CASCADE_DEPTH',
      'SCRIPT_MAX_TIMEOUT_MS',
      'SCRIPT_MAX_MEMORY_MB',
    ]) {
      expect(CONFIG_VARIABLES).toContain(name);
    }
    expect(CONFIG_VARIABLES).toContain('LOG_LEVEL');
    expect(CONFIG_VARIABLES).toContain('EMBEDDED_DATA_DIR');
  });

  it('reads given values', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      AUTH_MODE: 'keys',
      DATABASE_URL: 'postgresql://user:pw@db.example.com:5433/cepheus',
      REDIS_URL: 'redis://127.0.0.1:6379',
      OUTBOUND_ALLOWLIST: ' 127.0.0.1, 10.0.0.0/8 ,,internal.example.com',
      MAX_CASCADE_DEPTH: '0',
      SCRIPT_MAX_TIMEOUT_MS: '1000',
      SCRIPT_MAX_MEMORY_MB: '512',
      EMBEDDED_DATA_DIR: '/tmp/somewhere',
      GRAPHIQL: 'false',
      LOG_LEVEL: 'debug',
      LOG_PRETTY: 'false',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      databaseUrl: 'postgresql://user:pw@db.example.com:5433/cepheus',
      redisUrl: 'redis://127.0.0.1:6379',
      outboundAllowlist: ['127.0.0.1', '10.0.0.0/8', 'internal.example.com'],
      maxCascadeDepth: 0,
      scriptMaxTimeoutMs: 1000,
      scriptMaxMemoryMb: 512,
      embeddedDataDir: '/tmp/somewhere',
      graphiql: false,
      logLevel: 'debug',
      logPretty: false,
    });
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/x', REDIS_URL: 'rediss://r.example.com' })).toMatchObject({
      databaseUrl: 'postgres://localhost/x',
      redisUrl: 'rediss://r.example.com',
    });
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
    expect(loadConfig({ LOG_PRETTY: 'true' }).logPretty).toBe(true);
  });

  it('accepts the usual spellings of a boolean', () => {
    for (const v of ['true', '1', 'yes', 'on']) expect(loadConfig({ GRAPHIQL: v }).graphiql).toBe(true);
    for (const v of ['false', '0', 'no', 'off']) expect(loadConfig({ GRAPHIQL: v }).graphiql).toBe(false);
  });

  it('treats an empty value as unset', () => {
    const config = loadConfig({ PORT: '', DATABASE_URL: '', MAX_CASCADE_DEPTH: '', REDIS_URL: '', GRAPHIQL: '' });
    expect(config).toMatchObject({ port: 4000, databaseUrl: undefined, maxCascadeDepth: 8, redisUrl: undefined, graphiql: true });
  });

  it('ignores variables it does not know, and does not change the environment it reads', () => {
    const env = { PATH: '/usr/bin', SOMETHING_ELSE: 'x', PORT: '5000' };
    const copy = { ...env };
    expect(loadConfig(env).port).toBe(5000);
    expect(env).toEqual(copy);
  });

  const BAD: [string, string, string?][] = [
    ['PORT', 'abc', 'abc'],
    ['PORT', '70000', '65535'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', '1e3'],
    ['MAX_CASCADE_DEPTH', '-1', '-1'],
    ['MAX_CASCADE_DEPTH', 'deep'],
    ['SCRIPT_MAX_TIMEOUT_MS', '0'],
    ['SCRIPT_MAX_TIMEOUT_MS', 'soon'],
    ['SCRIPT_MAX_MEMORY_MB', '4'],
    ['SCRIPT_MAX_MEMORY_MB', '99999999999999999999'],
    ['DATABASE_URL', 'mysql://x', 'mysql'],
    ['DATABASE_URL', 'not a url'],
    ['DATABASE_URL', 'http://db.example.com/x'],
    ['REDIS_URL', 'http://redis.example.com'],
    ['REDIS_URL', '::::'],
    ['GRAPHIQL', 'maybe', 'maybe'],
    ['LOG_LEVEL', 'loud', 'loud'],
    ['LOG_PRETTY', 'sometimes'],
    ['MAX_REQUEST_BYTES', '10'],
    ['DATABASE_POOL_MAX', '0'],
  ];

  it.each(BAD)('refuses %s=%j with one line naming the variable', (variable, value, shown) => {
    const error = refusal({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
    expect(error.message).not.toContain('\n');
    if (shown) expect(error.message).toContain(shown);
  });

  it('names the bad variable when others are fine', () => {
    const error = refusal({ PORT: '4001', HOST: '127.0.0.1', MAX_CASCADE_DEPTH: '-1' });
    expect(error.variable).toBe('MAX_CASCADE_DEPTH');
  });

  it('does not echo a database password it refuses', () => {
    const error = refusal({ DATABASE_URL: 'mysql://admin:hunter2@db.example.com/x' });
    expect(error.variable).toBe('DATABASE_URL');
    expect(error.message).not.toContain('hunter2');
  });
});

describe('access settings (SPEC.md, "Access")', () => {
  const key = 'k'.repeat(40);

  it('is OPEN on a loopback HOST with neither ADMIN_KEY nor AUTH_MODE', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'])
      expect(loadConfig({ HOST: host }).authMode, host).toBe('OPEN');
  });

  it('is KEYS with ADMIN_KEY or AUTH_MODE=keys (any case), on any HOST', () => {
    expect(loadConfig({ HOST: '0.0.0.0', ADMIN_KEY: key })).toMatchObject({ authMode: 'KEYS', adminKey: key });
    expect(loadConfig({ HOST: '0.0.0.0', AUTH_MODE: 'KEYS' }).authMode).toBe('KEYS');
    expect(loadConfig({ AUTH_MODE: 'Keys' }).authMode).toBe('KEYS');
  });

  it('is OPEN anywhere with AUTH_MODE=open', () => {
    expect(loadConfig({ HOST: '0.0.0.0', AUTH_MODE: 'open' }).authMode).toBe('OPEN');
  });

  it('refuses a HOST that is not loopback without keys, naming ADMIN_KEY and AUTH_MODE', () => {
    for (const host of ['0.0.0.0', '10.1.2.3', '::', 'example.com', '128.0.0.1']) {
      const error = refusal({ HOST: host });
      expect(error.message).toContain('ADMIN_KEY');
      expect(error.message).toContain('AUTH_MODE');
    }
  });

  it('refuses ADMIN_KEY with AUTH_MODE=open, and a short ADMIN_KEY without echoing it', () => {
    expect(refusal({ ADMIN_KEY: key, AUTH_MODE: 'open' }).message).toContain('AUTH_MODE=open');
    const short = refusal({ ADMIN_KEY: 'hunter2-short' });
    expect(short.variable).toBe('ADMIN_KEY');
    expect(short.message).not.toContain('hunter2');
  });

  it('refuses an ADMIN_KEY no client could send, and ALLOWED_HOSTS with a port', () => {
    expect(refusal({ ADMIN_KEY: `${'k'.repeat(20)} ${'k'.repeat(20)}` }).variable).toBe('ADMIN_KEY');
    expect(refusal({ ADMIN_KEY: 'é'.repeat(40) }).variable).toBe('ADMIN_KEY');
    const port = refusal({ ALLOWED_HOSTS: 'cepheus.internal:8080' });
    expect(port.variable).toBe('ALLOWED_HOSTS');
    expect(port.message).toContain('cepheus.internal:8080');
    expect(loadConfig({ ALLOWED_HOSTS: '[fd00::1]' }).allowedHosts).toEqual(['[fd00::1]']);
  });

  it('reads CORS_ORIGINS as origins and ALLOWED_HOSTS as lower-case names', () => {
    const config = loadConfig({ CORS_ORIGINS: 'https://Console.Example.com, http://localhost:5173', ALLOWED_HOSTS: 'Cepheus.Internal' });
    expect(config.corsOrigins).toEqual(['https://console.example.com', 'http://localhost:5173']);
    expect(config.allowedHosts).toEqual(['cepheus.internal']);
    expect(refusal({ CORS_ORIGINS: 'not an origin' }).variable).toBe('CORS_ORIGINS');
  });

  it('reads SECRETS_KEY as 32 bytes of hex or base64, without echoing a refused one', () => {
    const hex = 'ab'.repeat(32);
    expect(loadConfig({ SECRETS_KEY: hex }).secretsKey?.toString('hex')).toBe(hex);
    expect(loadConfig({ SECRETS_KEY_PREVIOUS: Buffer.alloc(32, 7).toString('base64') }).secretsKeyPrevious).toEqual(Buffer.alloc(32, 7));
    const error = refusal({ SECRETS_KEY: 'c2VjcmV0LXRvby1zaG9ydA==' });
    expect(error.variable).toBe('SECRETS_KEY');
    expect(error.message).not.toContain('c2VjcmV0');
  });
});

describe('WEBHOOK_SIGNING_SECRET (SPEC.md, "Delivery")', () => {
  const whsec = (bytes: number) => `whsec_${Buffer.alloc(bytes, 9).toString('base64')}`;

  it('is unset by default, and reads a whsec_ secret of 24 to 64 bytes', () => {
    expect(loadConfig({}).webhookSigningSecret).toBeUndefined();
    for (const bytes of [24, 32, 64]) expect(loadConfig({ WEBHOOK_SIGNING_SECRET: whsec(bytes) }).webhookSigningSecret).toBe(whsec(bytes));
    expect(loadConfig({ WEBHOOK_SIGNING_SECRET: ` ${whsec(32)}\n` }).webhookSigningSecret).toBe(whsec(32));
  });

  it.each([
    ['without the whsec_ prefix', Buffer.alloc(32, 9).toString('base64')],
    ['too short', whsec(23)],
    ['too long', whsec(65)],
    ['not base64', 'whsec_not*base64*at*all*but*long*enough*to*count'],
    ['base64url', `whsec_${Buffer.alloc(33, 251).toString('base64url')}`],
    ['badly padded', `whsec_${Buffer.alloc(32, 9).toString('base64').replace(/=+$/, '')}`],
    ['only the prefix', 'whsec_'],
  ])('refuses a secret %s, naming the variable and never the value', (_what, value) => {
    const error = refusal({ WEBHOOK_SIGNING_SECRET: value });
    expect(error.variable).toBe('WEBHOOK_SIGNING_SECRET');
    expect(error.message).toContain('whsec_');
    expect(error.message).not.toContain('\n');
    const encoded = value.replace(/^whsec_/, '');
    if (encoded !== '') expect(error.message).not.toContain(encoded);
  });
});
