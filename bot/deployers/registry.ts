// Deployers by the name an environment's `deployer:` gives: `local`, `ssh`, or a named http deployer.
import type { Deployer } from './deployer.ts';

export type DeployerRegistry = ReadonlyMap<string, Deployer>;

export function deployerFor(registry: DeployerRegistry, name: string): Deployer | string {
  return (
    registry.get(name) ?? `no deployer named ${name} on this bot (known: ${[...registry.keys()].join(', ')}); set it in SHIPGUARD_DEPLOYERS`
  );
}
