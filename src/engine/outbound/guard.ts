import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';

/**
 * The outbound address guard: which addresses outbound HTTP (webhooks, HTTP APIs, METRIC polls,
 * ctx.http) may dial. Refuses by default every address that is not a public unicast one (loopback,
 * private, link-local and cloud metadata, CGNAT, multicast, reserved, ...), including the IPv6
 * forms that carry such an IPv4 address (IPv4-mapped, IPv4-compatible, IPv4-translated, 6to4,
 * NAT64, Teredo). OUTBOUND_ALLOWLIST entries (host names, `*.suffix` patterns, IPs and CIDRs)
 * open what it would refuse.
 */

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [Address, number];

type GuardVerdict = { allowed: true } | { allowed: false; reason: string };

export interface ResolvedAddress {
  address: string;
  family: number;
}

interface BlockedRange {
  cidr: Cidr;
  text: string;
  name: string;
  /** For IPv6 ranges that embed IPv4 addresses: those addresses; the range refuses only when one of them is refused. */
  embedded?: (address: ipaddr.IPv6) => ipaddr.IPv4[];
}

const v4 = (parts: number[], a: number, b: number): ipaddr.IPv4 => new ipaddr.IPv4([parts[a]! >> 8, parts[a]! & 0xff, parts[b]! >> 8, parts[b]! & 0xff]);

/** Most specific first: the first match names the range. */
const V4_BLOCKED: [string, string][] = [
  ['255.255.255.255/32', 'broadcast'],
  ['0.0.0.0/8', '"this network"'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local and cloud metadata'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
];

const V6_BLOCKED: [string, string, BlockedRange['embedded']?][] = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::ffff:0:0/96', 'IPv4-mapped', (a) => [v4(a.parts, 6, 7)]],
  ['::ffff:0:0:0/96', 'IPv4-translated', (a) => [v4(a.parts, 6, 7)]],
  ['::/96', 'IPv4-compatible', (a) => [v4(a.parts, 6, 7)]],
  ['64:ff9b::/96', 'NAT64', (a) => [v4(a.parts, 6, 7)]],
  ['64:ff9b:1::/48', 'NAT64 local-use'],
  ['2002::/16', '6to4', (a) => [v4(a.parts, 1, 2)]],
  // Teredo: the server's address in clear, the client's inverted.
  [
    '2001::/32',
    'Teredo',
    (a) => [
      v4(a.parts, 2, 3),
      v4(
        a.parts.map((p) => ~p & 0xffff),
        6,
        7,
      ),
    ],
  ],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local (deprecated)'],
  ['ff00::/8', 'multicast'],
];

const toRanges = (table: [string, string, BlockedRange['embedded']?][]): BlockedRange[] =>
  table.map(([text, name, embedded]) => ({ cidr: ipaddr.parseCIDR(text), text, name, ...(embedded ? { embedded } : {}) }));

const V4_RANGES = toRanges(V4_BLOCKED);
const V6_RANGES = toRanges(V6_BLOCKED);

function inCidr(address: Address, cidr: Cidr): boolean {
  return address.kind() === cidr[0].kind() && address.match(cidr);
}

/** A refused range of an IPv4 address, or null when it is public. */
function blockedV4(address: ipaddr.IPv4): string | null {
  const range = V4_RANGES.find((r) => inCidr(address, r.cidr));
  return range ? `${range.name} ${range.text}` : null;
}

/** Strips `[...]` around an IPv6 literal. */
function unbracket(value: string): string {
  return value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
}

/** Parses an address in the strict textual forms (dotted quad, IPv6), or returns null. */
function parseAddress(value: string): Address | null {
  const text = unbracket(value.trim());
  const family = isIP(text);
  if (family === 0) return null;
  try {
    if (family === 4) return ipaddr.IPv4.parse(text);
    // ipaddr.js reads `::a.b.c.d` (IPv4-compatible) as `::ffff:a.b.c.d` (IPv4-mapped); the WHATWG
    // URL serialisation gives the exact hex form first. The zone id plays no part in the verdict.
    const hex = new URL(`http://[${text.replace(/%.*$/, '')}]/`).hostname.slice(1, -1);
    return ipaddr.IPv6.parse(hex);
  } catch {
    return null;
  }
}

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);

/** A host name normalised for comparison (lower case, punycode, no trailing dot), or null when it is not one. */
function normalizeHostname(value: string): string | null {
  let host = value.trim();
  if (host.endsWith('.')) host = host.slice(0, -1);
  // domainToASCII reads only up to the first of these (`a.com/x` gives `a.com`): refuse them here.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\s\x00-\x1f\x7f/?#\\@%:[\]]/.test(host)) return null;
  const ascii = domainToASCII(host);
  if (!ascii || !HOSTNAME.test(ascii)) return null;
  // A name whose last label is numeric is read as an IPv4 address by URL parsers, not a host.
  if (/^(?:\d+|0x[0-9a-f]*)$/i.test(ascii.split('.').pop()!)) return null;
  return ascii;
}

type HostPattern = { exact: string } | { suffix: string };

/** `name` or `*.name`: the pattern, or null when it is neither. `*.example.com` matches subdomains only. */
function parseHostPattern(value: string): HostPattern | null {
  const text = value.trim();
  if (text.startsWith('*.')) {
    const suffix = normalizeHostname(text.slice(2));
    return suffix ? { suffix } : null;
  }
  const exact = normalizeHostname(text);
  return exact ? { exact } : null;
}

function hostMatches(pattern: HostPattern, hostname: string): boolean {
  return 'exact' in pattern ? hostname === pattern.exact : hostname.endsWith(`.${pattern.suffix}`);
}

export type AllowlistEntry = { kind: 'host'; pattern: HostPattern } | { kind: 'cidr'; cidr: Cidr };

/**
 * One OUTBOUND_ALLOWLIST entry: a host name, `*.suffix`, an IPv4/IPv6 address (`[...]` allowed)
 * or a CIDR. Throws an Error naming the entry when it is none of them.
 */
export function parseAllowlistEntry(entry: string): AllowlistEntry {
  const text = entry.trim();
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const address = parseAddress(text.slice(0, slash));
    const bitsText = text.slice(slash + 1);
    const bits = Number(bitsText);
    const max = address?.kind() === 'ipv4' ? 32 : 128;
    if (address && /^\d{1,3}$/.test(bitsText) && bits <= max) return { kind: 'cidr', cidr: [address, bits] };
    throw new Error(`OUTBOUND_ALLOWLIST entry "${entry}" is not a valid CIDR (expected e.g. 10.0.0.0/8 or fd00::/8)`);
  }
  const address = parseAddress(text);
  if (address) return { kind: 'cidr', cidr: [address, address.kind() === 'ipv4' ? 32 : 128] };
  const pattern = parseHostPattern(text);
  if (pattern) return { kind: 'host', pattern };
  throw new Error(`OUTBOUND_ALLOWLIST entry "${entry}" is not a host name, *.suffix, IP address or CIDR`);
}

/** Checks every entry of an allowlist; throws an Error naming the first bad one. */
export function parseAllowlist(entries: readonly string[]): AllowlistEntry[] {
  return entries.filter((e) => e.trim() !== '').map(parseAllowlistEntry);
}

export class AddressGuard {
  private readonly hosts: HostPattern[] = [];
  private readonly cidrs: Cidr[] = [];

  /** Throws an Error naming the entry when an allowlist entry is invalid. */
  constructor(allowlist: readonly string[] = []) {
    for (const entry of parseAllowlist(allowlist)) {
      if (entry.kind === 'host') this.hosts.push(entry.pattern);
      else this.cidrs.push(entry.cidr);
    }
  }

  /** Whether the host name itself is allowlisted (then every address it resolves to may be dialled). */
  hostAllowlisted(hostname: string): boolean {
    const host = normalizeHostname(hostname);
    return host !== null && this.hosts.some((p) => hostMatches(p, host));
  }

  private addressAllowlisted(address: Address): boolean {
    if (this.cidrs.some((c) => inCidr(address, c))) return true;
    // The IPv4-mapped form reaches the very same IPv4 address: the IPv4 entry opens it too.
    return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && this.addressAllowlisted((address as ipaddr.IPv6).toIPv4Address());
  }

  /** Whether this address may be dialled; refusing by default everything but public unicast. */
  check(address: string): GuardVerdict {
    const parsed = parseAddress(address);
    if (!parsed) return { allowed: false, reason: 'not an IP address' };
    if (this.addressAllowlisted(parsed)) return { allowed: true };
    if (parsed.kind() === 'ipv4') {
      const blocked = blockedV4(parsed as ipaddr.IPv4);
      return blocked ? { allowed: false, reason: blocked } : { allowed: true };
    }
    const v6 = parsed as ipaddr.IPv6;
    const range = V6_RANGES.find((r) => inCidr(v6, r.cidr));
    if (!range) return { allowed: true };
    if (!range.embedded) return { allowed: false, reason: `${range.name} ${range.text}` };
    for (const inner of range.embedded(v6)) {
      const blocked = blockedV4(inner);
      if (blocked) return { allowed: false, reason: `${range.name} form of ${inner.toString()}: ${blocked}` };
    }
    return { allowed: true };
  }

  /**
   * The verdict on a host and the addresses it resolved to: refused when any address is refused,
   * unless the host name itself is allowlisted.
   */
  vet(hostname: string, addresses: readonly ResolvedAddress[]): { allowed: true } | { allowed: false; address: string; reason: string } {
    if (isIP(unbracket(hostname)) === 0 && this.hostAllowlisted(hostname)) return { allowed: true };
    for (const { address } of addresses) {
      const verdict = this.check(address);
      if (!verdict.allowed) return { allowed: false, address, reason: verdict.reason };
    }
    return { allowed: true };
  }
}

/** The refusal text of the guard, the same for webhooks, HTTP APIs, METRIC polls and ctx.http. */
export function guardRefusalMessage(host: string, address: string, reason: string): string {
  return `blocked by the outbound guard: ${host} resolves to ${address} (${reason}); add it to OUTBOUND_ALLOWLIST to allow it`;
}

export interface AllowedHost {
  pattern: HostPattern;
  /** Null: any port. */
  port: number | null;
}

/**
 * A host that URL parsers read as an IPv4 address although it is not a dotted quad (`127.1`,
 * `2130706433`, `0x7f.1`, `017700000001`): its dotted quad, as WHATWG URL gives it (and so as a
 * request URL's hostname has it). Null when the text does not end in a number, so is no such form;
 * throws when it does but is no IPv4 address either (`1.2.3.4.5`, `256.0.0.1`).
 */
function urlIpv4(text: string): string | null {
  const labels = text.split('.');
  if (labels.length > 1 && labels.at(-1) === '') labels.pop();
  if (!/^(?:\d+|0x[0-9a-f]*)$/i.test(labels.at(-1)!)) return null;
  const hostname = /^[0-9a-z.]+$/i.test(text) ? new URL(`http://${text}/`).hostname : '';
  if (isIP(hostname) !== 4) throw new Error(`"${text}" is not an IPv4 address`);
  return hostname;
}

/**
 * One per-call allowedHosts entry: `host`, `*.suffix`, an IP (`[v6]` with a port), each with an
 * optional `:port`. The one reading of an entry, at save and at run: an IPv4 address in a form
 * other than the dotted quad (`127.1`) is read as URL parsers read it (127.0.0.1), so that it
 * matches the URLs that reach it. Throws an Error naming the entry when it is none of them.
 */
export function parseAllowedHost(entry: string): AllowedHost {
  const match = /^(\*\.)?(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(entry.trim());
  const bad = () => new Error(`allowedHosts entry "${entry}" is not a host, *.suffix or IP with an optional :port`);
  if (!match) {
    // A bare IPv6 address (without brackets, so without a port).
    const address = parseAddress(entry);
    if (address?.kind() === 'ipv6') return { pattern: { exact: `[${address.toString()}]` }, port: null };
    throw bad();
  }
  const [, wildcard, hostText, portText] = match;
  const port = portText === undefined ? null : Number(portText);
  if (port !== null && (port < 1 || port > 65535)) throw bad();
  const address = parseAddress(hostText!);
  if (address) {
    if (wildcard) throw bad();
    return { pattern: { exact: address.kind() === 'ipv6' ? `[${address.toString()}]` : address.toString() }, port };
  }
  if (hostText!.startsWith('[')) throw bad();
  let ipv4: string | null;
  try {
    ipv4 = urlIpv4(hostText!);
  } catch {
    throw bad();
  }
  if (ipv4 !== null) {
    if (wildcard) throw bad();
    return { pattern: { exact: ipv4 }, port };
  }
  const pattern = parseHostPattern(`${wildcard ?? ''}${hostText}`);
  if (!pattern) throw bad();
  return { pattern, port };
}

/** An allowedHosts entry in its canonical text (`*.example.com:8443`, `127.0.0.1`, `[::1]:80`); parseAllowedHost reads it back the same. */
export function formatAllowedHost(entry: AllowedHost): string {
  const host = 'exact' in entry.pattern ? entry.pattern.exact : `*.${entry.pattern.suffix}`;
  return entry.port === null ? host : `${host}:${entry.port}`;
}

/** Whether a URL (its hostname as URL gives it, `[v6]` bracketed, and its effective port) is in allowedHosts. */
export function allowedHostsPermit(allowed: readonly AllowedHost[], url: URL): boolean {
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  let host = url.hostname.toLowerCase();
  if (host.startsWith('[')) {
    const address = parseAddress(host);
    host = address ? `[${address.toString()}]` : host;
  } else if (host.endsWith('.')) host = host.slice(0, -1);
  return allowed.some((entry) => hostMatches(entry.pattern, host) && (entry.port === null || entry.port === port));
}
