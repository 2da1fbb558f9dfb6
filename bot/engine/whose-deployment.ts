// Whose deployment this is. A repository may hold deployments of GitHub Pages, hosting platforms or other
// tools beside shipguard's: the bot acts only on its own and leaves the others alone (no status, no
// record). Ours: its environment is defined in a valid deploy.yml, or its payload carries the key the
// Action writes (`idempotency_key`) or the one ChatOps writes (`requested_by`); the latter get `error`
// when their environment is unknown, because someone asked shipguard for them.
import type { ShipguardPayload } from '../../common/deploy-intent.ts';
import type { ConfigFact } from './admission.ts';

export const SHIPGUARD_PAYLOAD_KEYS = ['idempotency_key', 'requested_by'] as const satisfies ReadonlyArray<keyof ShipguardPayload>;

export function isShipguardDeployment(config: ConfigFact, payload: Record<string, unknown>): boolean {
  return config.ok || SHIPGUARD_PAYLOAD_KEYS.some((key) => Object.hasOwn(payload, key));
}
