// Signed links to the bot's pages: a deployment's log, `$PUBLIC_URL/deployments/<id>?sig=<hmac>`, and a
// repository's environments, `$PUBLIC_URL/repositories/<owner>/<repo>/environments?sig=<hmac>`. Ids and
// names are guessable; the signature is what keeps one repository's pages from another's readers. Each
// page signs its own purpose, so a log link's signature never opens an environments page.
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
    return this.sign(`deployment:${deploymentId}`);
  }

  url(deploymentId: number): string {
    return `${this.publicUrl}/deployments/${deploymentId}?sig=${this.signature(deploymentId)}`;
  }

  verify(deploymentId: number, signature: unknown): boolean {
    return this.matches(this.signature(deploymentId), signature);
  }

  environmentsSignature(repository: string): string {
    return this.sign(`environments:${repository}`);
  }

  /** `repository`: `owner/name`. */
  environmentsUrl(repository: string): string {
    const path = repository.split('/').map(encodeURIComponent).join('/');
    return `${this.publicUrl}/repositories/${path}/environments?sig=${this.environmentsSignature(repository)}`;
  }

  verifyEnvironments(repository: string, signature: unknown): boolean {
    return this.matches(this.environmentsSignature(repository), signature);
  }

  private sign(purpose: string): string {
    return createHmac('sha256', this.key).update(purpose).digest('base64url');
  }

  private matches(expectedSignature: string, signature: unknown): boolean {
    if (typeof signature !== 'string') return false;
    const expected = Buffer.from(expectedSignature);
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
