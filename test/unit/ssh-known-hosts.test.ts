// known_hosts parsing and matching as OpenSSH does it: plain, wildcard, negated and hashed names,
// `[host]:port`, markers, fingerprints in OpenSSH's format, and clear errors for malformed lines.
import { createHash, createHmac, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HandshakeSlots, Slots } from '../../bot/deployers/ssh/connection-limits.ts';
import { KnownHosts, KnownHostsError, fingerprint } from '../../bot/deployers/ssh/known-hosts.ts';

/** An ssh-ed25519 public key blob (string type, string key) from a fresh key pair. */
function ed25519Blob(): Buffer {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return Buffer.concat([lengthPrefixed(Buffer.from('ssh-ed25519')), lengthPrefixed(raw)]);
}

function lengthPrefixed(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

const line = (names: string, blob: Buffer) => `${names} ssh-ed25519 ${blob.toString('base64')}`;

describe('known_hosts', () => {
  const web = ed25519Blob();
  const other = ed25519Blob();

  it('trusts a listed key under its plain, [host]:port, wildcard and hashed names', () => {
    const salt = Buffer.from('0123456789abcdef0123');
    const hash = createHmac('sha1', salt).update('[10.0.0.9]:2222').digest();
    const known = KnownHosts.parse(
      [
        '# comment',
        line('web-1,web-2', web),
        line('[10.0.0.6]:2222', web),
        line('*.internal,!bastion.internal', web),
        line(`|1|${salt.toString('base64')}|${hash.toString('base64')}`, web),
      ].join('\n'),
    );
    expect(known.verify('web-2', 22, web)).toEqual({ trusted: true });
    expect(known.verify('10.0.0.6', 2222, web)).toEqual({ trusted: true });
    expect(known.verify('db.internal', 22, web)).toEqual({ trusted: true });
    expect(known.verify('10.0.0.9', 2222, web)).toEqual({ trusted: true });
    expect(known.verify('10.0.0.6', 22, web)).toMatchObject({ trusted: false, reason: 'unknown' });
    expect(known.verify('bastion.internal', 22, web)).toMatchObject({ trusted: false, reason: 'unknown' });
    expect(known.verify('web-1', 22, other)).toMatchObject({ trusted: false, reason: 'changed' });
    expect(known.keyTypesFor('web-1', 22)).toEqual(['ssh-ed25519']);
  });

  it('names the host and the offered fingerprint, and refuses @revoked keys', () => {
    const known = KnownHosts.parse(`${line('web-1', web)}\n@revoked * ssh-ed25519 ${other.toString('base64')}\n`);
    const expected = `SHA256:${createHash('sha256').update(other).digest('base64').replace(/=+$/, '')}`;
    expect(fingerprint(other)).toBe(expected);
    const verdict = known.verify('web-1', 22, other);
    expect(verdict).toMatchObject({ trusted: false, reason: 'revoked' });
    expect(!verdict.trusted && verdict.message).toBe(
      `host web-1 offered ssh-ed25519 key ${expected}, which is marked @revoked (line 2); refused`,
    );
  });

  it('rejects malformed lines with their line number', () => {
    const bad: Array<[string, string]> = [
      ['web-1 ssh-ed25519', 'line 1: expected "host-patterns key-type base64-key [comment]"'],
      [`\n\nweb-1 ssh-ed25519 %%%`, 'line 3: the key is not valid base64'],
      [`web-1 ssh-rsa ${web.toString('base64')}`, 'line 1: the key is not a ssh-rsa key'],
      [`@trusted web-1 ssh-ed25519 ${web.toString('base64')}`, 'line 1: unknown marker @trusted'],
      [`|2|abc|def ssh-ed25519 ${web.toString('base64')}`, 'line 1: hashed host name must look like |1|salt|hash'],
    ];
    for (const [text, message] of bad) {
      expect(() => KnownHosts.parse(text)).toThrow(KnownHostsError);
      expect(() => KnownHosts.parse(text)).toThrow(message);
    }
  });
});

describe('connection limits', () => {
  it('never grants more slots than the count, and hands freed ones to waiters in order', async () => {
    const slots = new Slots(2);
    const first = await slots.acquire();
    await slots.acquire();
    const order: number[] = [];
    const third = slots.acquire().then((release) => {
      order.push(3);
      return release;
    });
    const fourth = slots.acquire().then(() => order.push(4));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(order).toEqual([]);
    first();
    (await third)();
    await fourth;
    expect(order).toEqual([3, 4]);
  });

  it('abandons a wait when its signal aborts, without losing the slot', async () => {
    const slots = new Slots(1);
    const release = await slots.acquire();
    const abort = new AbortController();
    const waiting = slots.acquire(abort.signal);
    abort.abort(new Error('connect timeout'));
    await expect(waiting).rejects.toThrow('connect timeout');
    release();
    expect(typeof (await slots.acquire())).toBe('function');
  });

  it('caps handshakes per server while other servers proceed', async () => {
    const handshakes = new HandshakeSlots(1, 10);
    await handshakes.acquire('a:22');
    let secondToA = false;
    void handshakes.acquire('a:22').then(() => (secondToA = true));
    const toB = await handshakes.acquire('b:22');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(secondToA).toBe(false);
    expect(typeof toB).toBe('function');
  });
});
