// SHIPGUARD_KNOWN_HOSTS: the only host keys the ssh deployer trusts, in OpenSSH's known_hosts format
// (plain and hashed `|1|salt|hash` names, `[host]:port` for other ports, `*`/`?` wildcards, `!` negation,
// the `@revoked` marker). A host whose offered key is not listed for its name is refused before
// anything runs there; there is deliberately no option to turn this off. Host certificates are not
// supported: `@cert-authority` lines are read (so a file using them still loads) but never trust a key.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface KnownHostEntry {
  line: number;
  marker: 'revoked' | 'cert-authority' | null;
  /** Plain patterns (`web-1`, `*.internal`, `!bastion`, `[10.0.0.6]:2222`) or one hashed name. */
  names: { kind: 'patterns'; patterns: string[] } | { kind: 'hashed'; salt: Buffer; hash: Buffer };
  keyType: string;
  keyBlob: Buffer;
}

export class KnownHostsError extends Error {}

/** The verdict on a key a host offered during the handshake. */
export type HostKeyVerdict = { trusted: true } | { trusted: false; reason: 'unknown' | 'changed' | 'revoked'; message: string };

/** Parses known_hosts text; throws KnownHostsError naming the first malformed line. */
export function parseKnownHosts(text: string, source = 'SHIPGUARD_KNOWN_HOSTS'): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const fields = trimmed.split(/\s+/);
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0]!.startsWith('@')) {
      const name = fields.shift()!;
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else throw new KnownHostsError(`${source} line ${line}: unknown marker ${name} (expected @revoked or @cert-authority)`);
    }
    const [names, keyType, keyBase64] = fields;
    if (!names || !keyType || !keyBase64) {
      throw new KnownHostsError(`${source} line ${line}: expected "host-patterns key-type base64-key [comment]"`);
    }
    const keyBlob = Buffer.from(keyBase64, 'base64');
    if (keyBlob.length === 0 || keyBlob.toString('base64').replace(/=+$/, '') !== keyBase64.replace(/=+$/, '')) {
      throw new KnownHostsError(`${source} line ${line}: the key is not valid base64`);
    }
    if (blobKeyType(keyBlob) !== keyType) {
      throw new KnownHostsError(`${source} line ${line}: the key is not a ${keyType} key`);
    }
    entries.push({ line, marker, names: parseNames(names, source, line), keyType, keyBlob });
  });
  return entries;
}

function parseNames(field: string, source: string, line: number): KnownHostEntry['names'] {
  if (!field.startsWith('|')) return { kind: 'patterns', patterns: field.split(',').filter(Boolean) };
  const [, version, salt, hash] = field.split('|');
  if (version !== '1' || !salt || !hash) {
    throw new KnownHostsError(`${source} line ${line}: hashed host name must look like |1|salt|hash`);
  }
  return { kind: 'hashed', salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
}

/** The name a host is looked up under: `host` on port 22, `[host]:port` otherwise (as OpenSSH writes it). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH's SHA256 fingerprint of a public key blob, e.g. `SHA256:jTt9…` (base64, no padding). */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type written inside an SSH public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, …). */
export function blobKeyType(keyBlob: Buffer): string | null {
  if (keyBlob.length < 4) return null;
  const length = keyBlob.readUInt32BE(0);
  if (length === 0 || length > 64 || keyBlob.length < 4 + length) return null;
  return keyBlob.subarray(4, 4 + length).toString('latin1');
}

export class KnownHosts {
  private readonly entries: KnownHostEntry[];

  constructor(entries: KnownHostEntry[]) {
    this.entries = entries;
  }

  static parse(text: string, source?: string): KnownHosts {
    return new KnownHosts(parseKnownHosts(text, source));
  }

  /** Key types listed for this host, so the handshake can ask for a key that can be checked. */
  keyTypesFor(host: string, port: number): string[] {
    const name = knownHostsName(host, port);
    return [...new Set(this.entries.filter((e) => e.marker === null && nameMatches(e, name)).map((e) => e.keyType))];
  }

  /** Checks the key `host` offered. The message names the host and the offered key's fingerprint. */
  verify(host: string, port: number, offeredBlob: Buffer): HostKeyVerdict {
    const name = knownHostsName(host, port);
    const offered = `${blobKeyType(offeredBlob) ?? 'unknown type'} key ${fingerprint(offeredBlob)}`;
    const sameKey = (entry: KnownHostEntry) => entry.keyBlob.equals(offeredBlob);
    // A revoked key is refused whatever names it is listed under, as OpenSSH does.
    const revoked = this.entries.find((e) => e.marker === 'revoked' && sameKey(e));
    if (revoked) {
      return {
        trusted: false,
        reason: 'revoked',
        message: `host ${name} offered ${offered}, which is marked @revoked (line ${revoked.line}); refused`,
      };
    }
    const listed = this.entries.filter((e) => e.marker === null && nameMatches(e, name));
    if (listed.some(sameKey)) return { trusted: true };
    if (listed.length > 0) {
      const lines = listed.map((e) => e.line).join(', ');
      return {
        trusted: false,
        reason: 'changed',
        message: `host ${name} offered ${offered}, which differs from the key pinned for it (line ${lines}): HOST KEY CHANGED, possible man-in-the-middle; refused`,
      };
    }
    return {
      trusted: false,
      reason: 'unknown',
      message: `host ${name} offered ${offered}, which is not in SHIPGUARD_KNOWN_HOSTS; refused`,
    };
  }
}

function nameMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.names.kind === 'hashed') {
    const expected = entry.names.hash;
    const actual = createHmac('sha1', entry.names.salt).update(name).digest();
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
  let matched = false;
  for (const pattern of entry.names.patterns) {
    const negated = pattern.startsWith('!');
    if (!wildcardMatches(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false; // a matching negation excludes the host from this line outright
    matched = true;
  }
  return matched;
}

function wildcardMatches(pattern: string, name: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${regex}$`, 'i').test(name);
}
