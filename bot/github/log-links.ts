// Signed links to a deployment's log page: `$PUBLIC_URL/deployments/<id>?sig=<hmac>`. Deployment ids
// are guessable; the signature is what keeps one repository's logs from another's readers.
import { createHmac, timingSafeEqual } from 'node:crypto';

export class LogLinks {
  private readonly publicUrl: string;
  private readonly key: Buffer;

  constructor(publicUrl: string, secret: string) {
    this.publicUrl = publicUrl.replace(/\/+$/, '');
    this.key = Buffer.from(secret);
  }

  /** The key when only WEBHOOK_SECRET is set: derived, so a log link never reveals the webhook secret. */
  static deriveSecret(webhookSecret: string): string {
    return createHmac('sha256', webhookSecret).update('shipguard log links').digest('hex');
  }

  signature(deploymentId: number): string {
    return createHmac('sha256', this.key).update(`deployment:${deploymentId}`).digest('base64url');
  }

  url(deploymentId: number): string {
    return `${this.publicUrl}/deployments/${deploymentId}?sig=${this.signature(deploymentId)}`;
  }

  verify(deploymentId: number, signature: unknown): boolean {
    if (typeof signature !== 'string') return false;
    const expected = Buffer.from(this.signature(deploymentId));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
