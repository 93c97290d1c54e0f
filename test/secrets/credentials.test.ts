import { describe, expect, it } from 'vitest';
import { isCredentialName, literalCredentials, redactCredentials, restoreCredentials } from '../../src/shared/credentials.js';
import { Redactor } from '../../src/engine/secrets/redactor.js';

/** Literal credentials in specs (SPEC.md, 'Secrets'), as one pure function the audit trail also uses. */
describe('literal credentials', () => {
  const spec = {
    type: 'webhook',
    endpoint: 'https://user:p%40ss@hooks.example.com/in?api_key=k-123456&page=2#top',
    headers: { Authorization: 'Bearer literal-abc', 'X-Trace': 'keep-me', 'X-Token': 'Bearer {{secrets.TOKEN}}' },
    params: { Password: 'pw-123456', nested: { client_secret: 42, list: [{ refreshToken: 'rt-1' }] }, user: 'ann' },
    body: { cookie: 'session=1', note: 'token in text is fine' },
  };

  it('knows the credential names, any case', () => {
    for (const name of [
      'authorization',
      'Proxy-Authorization',
      'COOKIE',
      'set-cookie',
      'x-auth-token',
      'MySecret',
      'password',
      'ApiKey',
      'api_key',
      'x-api-key',
    ])
      expect(isCredentialName(name)).toBe(true);
    for (const name of ['user', 'auth', 'key', 'content-type', 'cookies-policy-version']) expect(isCredentialName(name), name).toBe(false);
  });

  it('redacts literal values under credential names, user information and credential query values; keeps templates', () => {
    expect(redactCredentials(spec)).toEqual({
      type: 'webhook',
      endpoint: 'https://[redacted]@hooks.example.com/in?api_key=[redacted]&page=2#top',
      headers: { Authorization: '[redacted]', 'X-Trace': 'keep-me', 'X-Token': 'Bearer {{secrets.TOKEN}}' },
      params: { Password: '[redacted]', nested: { client_secret: '[redacted]', list: [{ refreshToken: '[redacted]' }] }, user: 'ann' },
      body: { cookie: '[redacted]', note: 'token in text is fine' },
    });
    // Pure: the input is untouched.
    expect(spec.headers.Authorization).toBe('Bearer literal-abc');
  });

  it('lists the literal values a run must hide', () => {
    const values = literalCredentials(spec);
    for (const v of ['Bearer literal-abc', 'pw-123456', '42', 'rt-1', 'session=1', 'k-123456', 'user:p%40ss', 'p@ss']) expect(values).toContain(v);
    expect(values).not.toContain('keep-me');
  });

  it('an update that sends [redacted] back keeps the stored value; a new value replaces it', () => {
    const shown = redactCredentials(spec);
    expect(restoreCredentials(shown, spec)).toEqual(spec);
    const changed = { ...shown, headers: { ...shown.headers, Authorization: 'Bearer new' } };
    expect(restoreCredentials(changed, spec).headers.Authorization).toBe('Bearer new');
    expect(restoreCredentials(changed, spec).params).toEqual(spec.params);
  });

  it('a redactor hides a value and its encoded forms, and leaves the rest alone', () => {
    const redactor = new Redactor();
    redactor.add('s3cr3t value/+&');
    const out = redactor.apply({
      raw: 'x s3cr3t value/+& y',
      url: `https://h/?q=${encodeURIComponent('s3cr3t value/+&')}`,
      form: new URLSearchParams({ q: 's3cr3t value/+&' }).toString(),
      list: ['ok', 3, null],
    });
    expect(out).toEqual({ raw: 'x [redacted] y', url: 'https://h/?q=[redacted]', form: 'q=[redacted]', list: ['ok', 3, null] });
  });
});
