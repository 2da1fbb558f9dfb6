// Deployers by the name an environment's `deployer:` gives: `local`, `ssh`, or a named http deployer.
import type { EnvironmentConfig } from '../github/deploy-config.ts';
import type { Deployer } from './deployer.ts';
import { LOCAL_HOST } from './local.ts';

export type DeployerRegistry = ReadonlyMap<string, Deployer>;

/** The host names a deployment records, in rollout order (none for a service that deploys by itself). */
export function hostNamesFor(config: EnvironmentConfig): string[] {
  if (config.deployer === 'local') return config.hosts ?? [LOCAL_HOST];
  if (config.deployer === 'ssh') return config.hosts ?? [];
  return [];
}

export function deployerFor(registry: DeployerRegistry, name: string): Deployer | string {
  return registry.get(name) ?? `no deployer named ${name} on this bot (known: ${[...registry.keys()].join(', ')}); set it in SHIPGUARD_DEPLOYERS`;
}
