// `.github/deploy.yml`: parsed, validated and normalised. Always read from the default branch
// (see loadDeployConfig's caller), so a pull request cannot change what runs where.
import { z } from 'zod';
import { durationField as duration, whenParsed } from './config-fields.ts';
import { configErrorMap, configProblems, type ConfigProblem } from './config-problems.ts';
import { formatDuration } from '../../common/duration.ts';
import { ENVIRONMENT_NAME, describe, environmentNameError } from '../../common/names.ts';
import { nearMiss } from './near-miss.ts';
import { parseYamlText } from './yaml-document.ts';
import { parseHostSpec } from './host-spec.ts';
import { fleetConfigProblems, fleetFields } from './fleet-config.ts';
import { yamlBoundsProblem } from './yaml-bounds.ts';

export const DEPLOY_CONFIG_PATH = '.github/deploy.yml';

const environmentName = z
  .string()
  .meta({ pattern: ENVIRONMENT_NAME.source })
  .superRefine((name, ctx) => {
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
    ...fleetFields,
  })
  .strict()
  // Rule 5: every timeout is ordered, inner < outer. A workflow job's deploy has only `total`: how long its
  // environment waits for the job to report its end.
  .superRefine(
    ({ timeouts: t, deployer }, ctx) => {
      if (deployer !== 'workflow' && !(t.connect < t.command && t.command < t.total)) {
        const got = `connect ${formatDuration(t.connect)}, command ${formatDuration(t.command)}, total ${formatDuration(t.total)}`;
        ctx.addIssue({ code: 'custom', path: ['timeouts'], message: `must be ordered connect < command < total, got ${got}` });
      }
    },
    whenParsed('timeouts', 'deployer'),
  )
  .superRefine(
    (env, ctx) => {
      if (env.inactivity !== undefined && env.inactivity >= env.timeouts.command) {
        ctx.addIssue({ code: 'custom', path: ['inactivity'], message: 'must be shorter than timeouts.command' });
      }
    },
    whenParsed('inactivity', 'timeouts'),
  )
  .superRefine(
    (env, ctx) => {
      const isHttp = env.deployer !== 'ssh' && env.deployer !== 'local';
      if (!isHttp && env.deploy === undefined)
        ctx.addIssue({ code: 'custom', path: ['deploy'], message: 'is required (the command run on each host)' });
    },
    whenParsed('deployer', 'deploy'),
  )
  .superRefine(
    (env, ctx) => {
      if (env.deployer === 'ssh' && !env.hosts)
        ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'is required for the ssh deployer' });
      if (env.hosts && new Set(env.hosts).size !== env.hosts.length) {
        ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'lists a host twice' });
      }
    },
    whenParsed('deployer', 'hosts'),
  )
  .superRefine(
    (env, ctx) => {
      for (const problem of fleetConfigProblems(env, rolloutHosts(env).length)) ctx.addIssue({ code: 'custom', ...problem });
    },
    whenParsed('waves', 'bake', 'gate', 'on_failure', 'rollback', 'deployer', 'hosts'),
  );

export const deployConfigSchema = z
  .object({
    default_environment: environmentName.optional(),
    environments: z.record(environmentName, environmentSchema).refine((envs) => Object.keys(envs).length > 0, {
      message: 'must define at least one environment',
    }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const names = environmentNames(config);
    if (names && config.default_environment && !names.includes(config.default_environment)) {
      ctx.addIssue({ code: 'custom', path: ['default_environment'], message: unknownEnvironment(config.default_environment, names) });
    }
  }, whenParsed('default_environment'))
  .superRefine((config, ctx) => {
    const names = environmentNames(config);
    for (const [name, env] of Object.entries(config.environments ?? {})) {
      const requires: unknown = (env as { requires?: unknown } | null)?.requires;
      if (!names || !Array.isArray(requires)) continue;
      requires.forEach((required: unknown, index) => {
        // Names that are not names at all were reported already.
        if (typeof required === 'string' && !environmentNameError(required) && !names.includes(required)) {
          ctx.addIssue({ code: 'custom', path: ['environments', name, 'requires', index], message: unknownEnvironment(required, names) });
        }
      });
    }
  }, whenParsed());

/** The environments' names, also when some environment's settings are wrong; null when `environments` is no map. */
function environmentNames(config: { environments?: unknown }): string[] | null {
  const environments = config.environments;
  return typeof environments === 'object' && environments !== null && !Array.isArray(environments) ? Object.keys(environments) : null;
}

function unknownEnvironment(name: string, names: string[]): string {
  const guess = nearMiss(name, names);
  return `names no environment ${describe(name)} (defined: ${names.join(', ') || 'none'})${guess ? `: did you mean ${guess}?` : ''}`;
}

export type EnvironmentConfig = z.output<typeof environmentSchema>;
export type DeployConfig = z.output<typeof deployConfigSchema>;

export class DeployConfigError extends Error {
  /** One line, for a 140-character status description: path and reason of the first problem. */
  readonly summary: string;
  constructor(summary: string, detail: string) {
    super(detail);
    this.summary = summary;
  }
}

export type DeployConfigCheck = { ok: true; config: DeployConfig } | { ok: false; problems: ConfigProblem[] };

/** Checks deploy.yml's text: the config, or every problem at once, in the order of the file. */
export function checkDeployConfig(text: string): DeployConfigCheck {
  const tooBig = yamlBoundsProblem(text);
  if (tooBig)
    return { ok: false, problems: [{ path: '(top level)', line: tooBig.line, message: `${tooBig.message}; refused before parsing` }] };
  const yaml = parseYamlText(text);
  if (yaml.errors.length) {
    return {
      ok: false,
      problems: yaml.errors.map(({ line, message }) => ({ path: '(top level)', line, message: `not valid YAML: ${message}` })),
    };
  }
  if (yaml.value === null || yaml.value === undefined) {
    return {
      ok: false,
      problems: [{ path: '(top level)', line: 1, message: 'the file is empty: it needs environments, with at least one' }],
    };
  }
  const result = deployConfigSchema.safeParse(yaml.value, { error: configErrorMap, reportInput: true });
  if (result.success) return { ok: true, config: result.data };
  const problems = configProblems(result.error.issues, deployConfigSchema, yaml.lineOf);
  return { ok: false, problems: problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity)) };
}

/** One problem as the bot and `shipguard check` write it: `environments.staging.concurrency: expected …`. */
export const problemText = (problem: ConfigProblem) => `${problem.path}: ${problem.message}`;

/** Parses deploy.yml's text; throws DeployConfigError saying which key is wrong and why, for every problem. */
export function parseDeployConfig(text: string): DeployConfig {
  const check = checkDeployConfig(text);
  if (check.ok) return check.config;
  const [first, ...more] = check.problems;
  const count = more.length ? ` (${more.length + 1} problems)` : '';
  const lines = check.problems.map((p) => (p.line === undefined ? problemText(p) : `${p.path} (line ${p.line}): ${p.message}`));
  throw new DeployConfigError(
    `${DEPLOY_CONFIG_PATH}${count}: ${problemText(first!)}`,
    `${DEPLOY_CONFIG_PATH} is invalid:\n- ${lines.join('\n- ')}`,
  );
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
