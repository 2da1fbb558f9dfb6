// `deployer: ssh` (the default): the rollout of rollout.ts over ssh2 connections (ssh-transport.ts),
// host keys pinned by SHIPGUARD_KNOWN_HOSTS, the fleet's connection limits respected, host output
// bounded, and the deployer's own private key added to the values redacted from that output.
import { userInfo } from 'node:os';
import type { DeployEvents, DeployJob, Deployer } from '../deployer.ts';
import type { DeployResult } from '../../engine/outcomes.ts';
import { rollout, type RolloutOptions } from '../rollout.ts';
import { boundHostOutput } from './bounded-output.ts';
import {
  DEFAULT_MAX_CHANNELS_PER_CONNECTION,
  DEFAULT_MAX_HANDSHAKES,
  DEFAULT_MAX_HANDSHAKES_PER_SERVER,
  HandshakeSlots,
} from './connection-limits.ts';
import { KnownHosts, KnownHostsError } from './known-hosts.ts';
import { loadSsh2 } from './load-ssh2.ts';
import { SshTransport, type SshTransportOptions } from './ssh-transport.ts';

export interface SshDeployerOptions {
  /** OpenSSH or PEM private key text; absent: every deploy ends `error`, nothing executed. */
  privateKey?: string;
  /** known_hosts text: the only host keys trusted; absent: every deploy ends `error`, nothing executed. */
  knownHosts?: string;
  /** Set by the caller when the configuration could not be read at all (e.g. an unreadable key file). */
  unavailable?: string;
  /** Login name for hosts listed without `user@` (default: the bot's own user, as OpenSSH does). */
  defaultUser?: string;
  /** Handshakes in flight to one server (below sshd's MaxStartups), and in all. */
  maxHandshakesPerServer?: number;
  maxHandshakes?: number;
  maxChannelsPerConnection?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  killGraceMs?: number;
  connectAttempts?: number;
  connectRetryDelayMs?: number;
  /** Characters of each host's stdout and stderr passed on at once, and kept from the end. */
  outputHeadLimit?: number;
  outputTailLimit?: number;
  /** The bake's clock and gate (tests inject them). */
  rollout?: RolloutOptions;
}

export class SshDeployer implements Deployer {
  private readonly transport: SshTransport | null;
  private readonly unavailable: string | null;
  private readonly privateKey: string;
  private readonly outputHeadLimit: number;
  private readonly outputTailLimit: number;
  private readonly rolloutOptions: RolloutOptions;

  constructor(options: SshDeployerOptions) {
    this.rolloutOptions = options.rollout ?? {};
    this.privateKey = options.privateKey ?? '';
    this.outputHeadLimit = options.outputHeadLimit ?? 32_768;
    this.outputTailLimit = options.outputTailLimit ?? 32_768;
    const setup = buildTransport(options);
    this.transport = 'transport' in setup ? setup.transport : null;
    this.unavailable = 'unavailable' in setup ? setup.unavailable : null;
  }

  async deploy(job: DeployJob, events: DeployEvents): Promise<DeployResult> {
    if (!this.transport) return { state: 'error', description: this.unavailable! };
    const withKeyRedacted = { ...job, secrets: [...job.secrets, this.privateKey] };
    return rollout(
      withKeyRedacted,
      this.transport,
      boundHostOutput(events, this.outputHeadLimit, this.outputTailLimit),
      this.rolloutOptions,
    );
  }
}

function buildTransport(options: SshDeployerOptions): { transport: SshTransport } | { unavailable: string } {
  if (options.unavailable) return { unavailable: `ssh deployer: ${options.unavailable}; nothing executed` };
  if (!options.privateKey) {
    return { unavailable: 'ssh deployer: no SHIPGUARD_SSH_KEY or SHIPGUARD_SSH_KEY_PATH set; nothing executed' };
  }
  const parsed = loadSsh2().utils.parseKey(options.privateKey);
  if (parsed instanceof Error) return { unavailable: `ssh deployer: the private key cannot be used (${parsed.message}); nothing executed` };
  if (!options.knownHosts?.trim()) {
    return {
      unavailable: 'ssh deployer: no SHIPGUARD_KNOWN_HOSTS or SHIPGUARD_KNOWN_HOSTS_PATH set; every host refused, nothing executed',
    };
  }
  let knownHosts: KnownHosts;
  try {
    knownHosts = KnownHosts.parse(options.knownHosts);
  } catch (error) {
    if (error instanceof KnownHostsError) return { unavailable: `ssh deployer: ${error.message}; every host refused, nothing executed` };
    throw error;
  }
  const keepaliveIntervalMs = options.keepaliveIntervalMs ?? 10_000;
  if (!(keepaliveIntervalMs > 0)) throw new Error('keepaliveIntervalMs must be positive: keepalive cannot be turned off');
  const transportOptions: SshTransportOptions = {
    privateKey: options.privateKey,
    knownHosts,
    defaultUser: options.defaultUser ?? userInfo().username,
    handshakes: new HandshakeSlots(
      options.maxHandshakesPerServer ?? DEFAULT_MAX_HANDSHAKES_PER_SERVER,
      options.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES,
    ),
    maxChannelsPerConnection: options.maxChannelsPerConnection ?? DEFAULT_MAX_CHANNELS_PER_CONNECTION,
    // A dead or frozen host is noticed within interval × count, whatever the command is doing.
    keepaliveIntervalMs,
    keepaliveCountMax: options.keepaliveCountMax ?? 3,
    killGraceMs: options.killGraceMs ?? 10_000,
    connectAttempts: options.connectAttempts ?? 3,
    connectRetryDelayMs: options.connectRetryDelayMs ?? 500,
  };
  return { transport: new SshTransport(transportOptions) };
}
