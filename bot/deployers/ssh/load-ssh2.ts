// ssh2 (its protocol, its crypto and a native binding: some twenty modules) is loaded when an ssh deployer
// first needs it, not at every start: a bot without SHIPGUARD_SSH_KEY never does. require(), not import():
// its callers are synchronous, and ssh2 is CommonJS anyway.
import { createRequire } from 'node:module';
import type Ssh2 from 'ssh2';

const require = createRequire(import.meta.url);

export function loadSsh2(): typeof Ssh2 {
  return require('ssh2') as typeof Ssh2;
}
