// The ssh deployer as the bot's environment configures it (docs/configuration.md):
// SHIPGUARD_SSH_KEY or SHIPGUARD_SSH_KEY_PATH, SHIPGUARD_KNOWN_HOSTS or SHIPGUARD_KNOWN_HOSTS_PATH.
// Missing or unreadable settings do not stop the bot: the deployer is built anyway and every ssh
// deploy then ends `error` with a message saying what to set, before anything runs.
import { textOrFile } from '../../config.ts';
import { SshDeployer } from './ssh-deployer.ts';

export function sshDeployerFromEnvironment(env: NodeJS.ProcessEnv): SshDeployer {
  try {
    return new SshDeployer({
      privateKey: textOrFile(env, 'SHIPGUARD_SSH_KEY'),
      knownHosts: textOrFile(env, 'SHIPGUARD_KNOWN_HOSTS'),
    });
  } catch (error) {
    return new SshDeployer({ unavailable: (error as Error).message });
  }
}
