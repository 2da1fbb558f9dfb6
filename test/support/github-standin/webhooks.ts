/**
 * Webhook deliveries as GitHub makes them: a signed JSON POST to the app's webhook URL, one at a time in
 * the order they happened, each recorded (status code, duration) so that `GET /app/hook/deliveries` can
 * list them and `POST /app/hook/deliveries/{id}/attempts` can send one again with the same
 * `X-GitHub-Delivery` guid. GitHub never retries a failed delivery by itself, and neither does this.
 *
 * When the URL is null (the bot is down) a delivery is recorded as failed at once: status_code 0,
 * status 'failed to connect' (GitHub's wording). Every payload is also checked against the description's
 * webhook schemas; problems go to `onProblem`.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { githubWebhookProblems } from '../openapi.ts';
import { APP_ID, timestamp } from './state.ts';

/** GitHub gives up on a delivery after 10 s. */
const DELIVERY_TIMEOUT_MS = 10_000;

export interface DeliveryRecord {
  id: number;
  guid: string;
  event: string;
  action: string | null;
  /** The HTTP status the webhook URL answered; null while in flight; 0 when nothing answered. */
  status: number | null;
  /** GitHub's text for it: 'OK', 'Invalid HTTP Response: 503', 'failed to connect'. */
  statusText: string;
  redelivery: boolean;
  installationId: number | null;
  repositoryId: number | null;
  deliveredAt: string;
  durationSeconds: number;
}

interface SendOptions {
  guid?: string;
  checkPayload?: boolean;
}

interface StoredDelivery {
  record: DeliveryRecord;
  body: string;
  done: Promise<DeliveryRecord>;
}

export function signatureOf(secret: string, body: string, algorithm: 'sha256' | 'sha1' = 'sha256'): string {
  return `${algorithm}=${createHmac(algorithm, secret).update(body).digest('hex')}`;
}

export class WebhookSender {
  url: string | null;
  /** Every delivery, oldest first. */
  readonly deliveries: DeliveryRecord[] = [];
  private readonly stored = new Map<number, StoredDelivery>();
  private readonly secret: string;
  private readonly onProblem: (problem: string) => void;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 90_000;

  constructor(options: { url: string | null; secret: string; onProblem: (problem: string) => void }) {
    this.url = options.url;
    this.secret = options.secret;
    this.onProblem = options.onProblem;
  }

  /**
   * Queues a delivery and returns its record at once; `done` settles when the webhook URL has answered.
   * `checkPayload: false` is for payloads a test wrote itself (possibly wrong on purpose).
   */
  send(event: string, payload: Record<string, unknown>, options: SendOptions = {}): StoredDelivery {
    if (options.checkPayload !== false) {
      for (const problem of githubWebhookProblems(event, payload)) this.onProblem(problem);
    }
    const installation = payload.installation as { id?: number } | undefined;
    const repository = payload.repository as { id?: number } | undefined;
    const record = this.newRecord({
      guid: options.guid ?? randomUUID(),
      event,
      action: typeof payload.action === 'string' ? payload.action : null,
      redelivery: false,
      installationId: installation?.id ?? null,
      repositoryId: repository?.id ?? null,
    });
    return this.enqueue(record, JSON.stringify(payload));
  }

  /** Sends a recorded delivery again: same guid and body, a new record with redelivery: true. */
  redeliver(deliveryId: number): StoredDelivery | null {
    const original = this.stored.get(deliveryId);
    if (!original) return null;
    const record = this.newRecord({ ...original.record, redelivery: true });
    return this.enqueue(record, original.body);
  }

  /** Resolves once every queued delivery has been attempted. */
  async idle(): Promise<void> {
    await this.queue;
  }

  private newRecord(
    fields: Pick<DeliveryRecord, 'guid' | 'event' | 'action' | 'redelivery' | 'installationId' | 'repositoryId'>,
  ): DeliveryRecord {
    this.nextId += 1;
    const record: DeliveryRecord = {
      id: this.nextId,
      guid: fields.guid,
      event: fields.event,
      action: fields.action,
      status: null,
      statusText: 'pending',
      redelivery: fields.redelivery,
      installationId: fields.installationId,
      repositoryId: fields.repositoryId,
      deliveredAt: timestamp(),
      durationSeconds: 0,
    };
    this.deliveries.push(record);
    return record;
  }

  private enqueue(record: DeliveryRecord, body: string): StoredDelivery {
    const done = this.queue.then(() => this.post(record, body));
    this.queue = done;
    const stored = { record, body, done };
    this.stored.set(record.id, stored);
    return stored;
  }

  private async post(record: DeliveryRecord, body: string): Promise<DeliveryRecord> {
    const started = Date.now();
    record.deliveredAt = timestamp(started);
    const url = this.url;
    if (url === null) {
      return Object.assign(record, { status: 0, statusText: 'failed to connect' });
    }
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'GitHub-Hookshot/standin',
          'X-GitHub-Event': record.event,
          'X-GitHub-Delivery': record.guid,
          'X-GitHub-Hook-ID': '1',
          'X-GitHub-Hook-Installation-Target-Type': 'integration',
          'X-GitHub-Hook-Installation-Target-ID': String(APP_ID),
          'X-Hub-Signature': signatureOf(this.secret, body, 'sha1'),
          'X-Hub-Signature-256': signatureOf(this.secret, body),
        },
        body,
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      record.status = response.status;
      record.statusText = response.ok ? 'OK' : `Invalid HTTP Response: ${response.status}`;
    } catch (error) {
      const timedOut = error instanceof Error && error.name === 'TimeoutError';
      record.status = 0;
      record.statusText = timedOut ? 'timed out' : 'failed to connect';
    }
    record.durationSeconds = (Date.now() - started) / 1000;
    return record;
  }
}
