// `.github/deploy.yml`: parsed, validated and normalised. Always read from the default branch
// (see loadDeployConfig's caller), so a pull request cannot change what runs where.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { durationField as duration } from './config-fields.ts';
import { environmentNameError } from '../../common/names.ts';
import { parseHostSpec } from './host-spec.ts';

export const DEPLOY_CONFIG_PATH = '.github/deploy.yml';

const environmentName = z.string().superRefine((name, ctx) => {
  const error = environmentNameError(name);
  if (error) ctx.addIssue({ code: 'custom', message: error });
});

const hostSpec = z.string().refine((spec) => parseHostSpec(spec) !== null, {
  message: 'expected [user@]host[:port], e.g. deploy@10.0.0.5 or deploy@10.0.0.6:2222',
});

const command = z.string().min(1).max(4096);

const environmentSchema = z
  .object({
    url: z.url().optional(),
    hosts: z.array(hostSpec).min(1).max(1000).optional(),
    concurrency: z.int().min(1).max(200).default(1),
    max_failures: z.int().min(0).default(0),
    deploy: command.optional(),
    healthcheck: command.optional(),
    rollback: command.optional(),
    revision: command.optional(),
    timeouts: z
      .object({ connect: duration.default(10_000), command: duration.default(900_000), total: duration.default(7_200_000) })
      .strict()
      .default({ connect: 10_000, command: 900_000, total: 7_200_000 }),
    inactivity: duration.optional(),
    queue: z.enum(['fifo', 'latest']).default('fifo'),
    permission: z.enum(['write', 'maintain', 'admin']).default('write'),
    required_contexts: z.array(z.string().min(1).max(200)).optional(),
    requires: z.array(environmentName).optional(),
    production: z.boolean().default(false),
    transient: z.boolean().default(false),
    deployer: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .default('ssh'),
  })
  .strict()
  .superRefine((env, ctx) => {
    const t = env.timeouts;
    // Rule 5: every timeout is ordered, inner < outer.
    if (!(t.connect < t.command && t.command < t.total)) {
      ctx.addIssue({ code: 'custom', path: ['timeouts'], message: 'must be ordered: connect < command < total' });
    }
    if (env.inactivity !== undefined && env.inactivity >= t.command) {
      ctx.addIssue({ code: 'custom', path: ['inactivity'], message: 'must be shorter than timeouts.command' });
    }
    const isHttp = env.deployer !== 'ssh' && env.deployer !== 'local';
    if (!isHttp && !env.deploy) ctx.addIssue({ code: 'custom', path: ['deploy'], message: 'is required (the command run on each host)' });
    if (env.deployer === 'ssh' && !env.hosts)
      ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'is required for the ssh deployer' });
    if (env.hosts && new Set(env.hosts).size !== env.hosts.length) {
      ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'lists a host twice' });
    }
  });

const configSchema = z
  .object({
    default_environment: environmentName.optional(),
    environments: z.record(environmentName, environmentSchema).refine((envs) => Object.keys(envs).length > 0, {
      message: 'must define at least one environment',
    }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const names = Object.keys(config.environments);
    if (config.default_environment && !names.includes(config.default_environment)) {
      ctx.addIssue({ code: 'custom', path: ['default_environment'], message: `names no environment (defined: ${names.join(', ')})` });
    }
    for (const [name, env] of Object.entries(config.environments)) {
      for (const required of env.requires ?? []) {
        if (!names.includes(required)) {
          ctx.addIssue({ code: 'custom', path: ['environments', name, 'requires'], message: `names unknown environment ${required}` });
        }
      }
    }
  });

export type EnvironmentConfig = z.output<typeof environmentSchema>;
export type DeployConfig = z.output<typeof configSchema>;

export class DeployConfigError extends Error {
  /** One line, for a 140-character status description: path and reason of the first problem. */
  readonly summary: string;
  constructor(summary: string, detail: string) {
    super(detail);
    this.summary = summary;
  }
}

/** Parses deploy.yml's text; throws DeployConfigError saying which key is wrong and why. */
export function parseDeployConfig(text: string): DeployConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new DeployConfigError(
      `${DEPLOY_CONFIG_PATH}: not valid YAML: ${reason}`,
      `${DEPLOY_CONFIG_PATH}: not valid YAML: ${(error as Error).message}`,
    );
  }
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`);
  throw new DeployConfigError(`${DEPLOY_CONFIG_PATH}: ${problems[0]}`, `${DEPLOY_CONFIG_PATH} is invalid:\n- ${problems.join('\n- ')}`);
}

/** The environment's config, or a DeployConfigError naming the environments that do exist. */
export function environmentConfig(config: DeployConfig, environment: string): EnvironmentConfig {
  // Own keys only: `constructor` or `toString` is a valid environment name, not an inherited function.
  const env = Object.hasOwn(config.environments, environment) ? config.environments[environment] : undefined;
  if (!env) {
    const known = Object.keys(config.environments).join(', ');
    throw new DeployConfigError(
      `unknown environment ${environment} (${DEPLOY_CONFIG_PATH} defines: ${known})`,
      `unknown environment ${environment}; ${DEPLOY_CONFIG_PATH} defines: ${known}`,
    );
  }
  return env;
}

/** The host name a local deploy without `hosts` runs under. */
export const LOCAL_HOST = 'localhost';

/** The host names a deployment records, in rollout order (none for a service that deploys by itself). */
export function rolloutHosts(config: EnvironmentConfig): string[] {
  if (config.deployer === 'local') return config.hosts ?? [LOCAL_HOST];
  if (config.deployer === 'ssh') return config.hosts ?? [];
  return [];
}
