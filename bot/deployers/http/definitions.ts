// `SHIPGUARD_DEPLOYERS` / `SHIPGUARD_DEPLOYERS_PATH`: the named http deployers, defined on the bot's side
// only (a repository names one, it never holds its address or token). Read once at start: an invalid
// definition stops the bot with one message that says which key is wrong and why.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { durationField as duration } from '../../engine/config-fields.ts';

export interface HttpDeployerDefinition {
  name: string;
  /** Where the deploy is POSTed. */
  url: string;
  /** GET address of one deploy's state, with `{id}` and `{key}` placeholders; null when the service has none. */
  statusUrl: string | null;
  /** Sent as `Authorization: Bearer <token>`; null when `token_env` is not set. */
  token: string | null;
  timeouts: { connect: number; response: number; total: number };
  /** First delay before a poll or a retry of a POST that was never sent; grows up to `maxPollInterval`. */
  pollInterval: number;
  maxPollInterval: number;
}

export class HttpDeployerDefinitionError extends Error {}

const RESERVED_NAMES = ['ssh', 'local'];
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A header value must not carry control characters (a newline would split the request).
const HEADER_SAFE = /^[\x20-\x7e]+$/;

function httpUrlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be http:// or https://, not ${url.protocol}`;
  if (url.username || url.password) return 'must not carry credentials (use token_env)';
  if (url.hash) return 'must not have a #fragment';
  return null;
}

const httpUrl = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required (the address deploys are POSTed to)' : 'must be a URL string') })
  .superRefine((text, ctx) => {
    const problem = httpUrlProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

// `{id}` and `{key}` are the only placeholders; anything else in braces is a typo worth refusing.
const statusUrlTemplate = z.string().superRefine((text, ctx) => {
  const unknown = text.match(/\{(?!id\}|key\})[^}]*\}?/);
  if (unknown) {
    ctx.addIssue({ code: 'custom', message: `has an unknown placeholder ${unknown[0]} (only {id} and {key} exist)` });
    return;
  }
  const problem = httpUrlProblem(expandStatusUrl(text, 1, 'owner/repo#1'));
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const definitionSchema = z
  .object({
    url: httpUrl,
    status_url: statusUrlTemplate.optional(),
    token_env: z.string().regex(ENV_NAME, 'must be an environment variable name, like LEGACY_DEPLOYER_TOKEN').optional(),
    timeouts: z
      .object({ connect: duration.default(5_000), response: duration.default(600_000), total: duration.default(7_200_000) })
      .strict()
      .default({ connect: 5_000, response: 600_000, total: 7_200_000 }),
    poll_interval: duration.default(5_000),
    max_poll_interval: duration.optional(),
  })
  .strict()
  .superRefine((definition, ctx) => {
    const t = definition.timeouts;
    // Every timeout is ordered, inner < outer (rule 5, docs/engine-rules.md).
    if (!(t.connect < t.response && t.response <= t.total)) {
      ctx.addIssue({ code: 'custom', path: ['timeouts'], message: 'must be ordered: connect < response <= total' });
    }
    if (definition.poll_interval >= t.total) {
      ctx.addIssue({ code: 'custom', path: ['poll_interval'], message: 'must be shorter than timeouts.total' });
    }
    if (definition.max_poll_interval !== undefined && definition.max_poll_interval < definition.poll_interval) {
      ctx.addIssue({ code: 'custom', path: ['max_poll_interval'], message: 'must not be shorter than poll_interval' });
    }
  });

const definitionsSchema = z.record(z.string(), definitionSchema);

function nameProblem(name: string): string | null {
  if (!NAME.test(name)) return `invalid deployer name ${JSON.stringify(name)}: use 1 to 64 of A-Z a-z 0-9 . _ -`;
  if (RESERVED_NAMES.includes(name)) return `${name} is a built-in deployer; choose another name`;
  return null;
}

/** The status URL of one deploy: placeholders replaced by their URL-encoded values. */
export function expandStatusUrl(template: string, deploymentId: number, key: string): string {
  return template.replaceAll('{id}', encodeURIComponent(String(deploymentId))).replaceAll('{key}', encodeURIComponent(key));
}

/**
 * Reads the definitions from the environment: `SHIPGUARD_DEPLOYERS` (YAML or JSON text) or
 * `SHIPGUARD_DEPLOYERS_PATH` (a file holding it). Neither set: no http deployer. Throws
 * HttpDeployerDefinitionError on anything invalid, including a `token_env` naming an unset variable.
 */
export function loadHttpDeployerDefinitions(env: NodeJS.ProcessEnv): Map<string, HttpDeployerDefinition> {
  const inline = env.SHIPGUARD_DEPLOYERS;
  const path = env.SHIPGUARD_DEPLOYERS_PATH;
  if (inline && path) {
    throw new HttpDeployerDefinitionError('SHIPGUARD_DEPLOYERS and SHIPGUARD_DEPLOYERS_PATH are both set: set only one');
  }
  let source: string;
  let text: string;
  if (inline) {
    source = 'SHIPGUARD_DEPLOYERS';
    text = inline;
  } else if (path) {
    source = `SHIPGUARD_DEPLOYERS_PATH (${path})`;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new HttpDeployerDefinitionError(`${source}: cannot read the file: ${(error as Error).message}`);
    }
  } else {
    return new Map();
  }
  return parseHttpDeployerDefinitions(text, source, env);
}

/** Parses the YAML/JSON text of the definitions; `source` names where it came from in error messages. */
export function parseHttpDeployerDefinitions(text: string, source: string, env: NodeJS.ProcessEnv): Map<string, HttpDeployerDefinition> {
  let raw: unknown;
  try {
    // JSON is YAML, so one parser reads both.
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new HttpDeployerDefinitionError(`${source} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  if (raw === null || raw === undefined) return new Map();
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new HttpDeployerDefinitionError(
      `${source} must be a map of deployer names to definitions, like "legacy: {url: http://deployer.internal/deploy}"`,
    );
  }
  const result = definitionsSchema.safeParse(raw);
  const nameProblems = Object.keys(raw).flatMap((name) => nameProblem(name) ?? []);
  if (!result.success || nameProblems.length) {
    const problems = [
      ...nameProblems,
      ...(result.error?.issues ?? []).map((issue) => `${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`),
    ];
    throw new HttpDeployerDefinitionError(`${source} is invalid:\n- ${problems.join('\n- ')}`);
  }
  const definitions = new Map<string, HttpDeployerDefinition>();
  for (const [name, definition] of Object.entries(result.data!)) {
    let token: string | null = null;
    if (definition.token_env) {
      const value = env[definition.token_env];
      if (!value) {
        throw new HttpDeployerDefinitionError(
          `${source} is invalid:\n- ${name}.token_env: the variable ${definition.token_env} is not set (it holds the deployer's bearer token)`,
        );
      }
      if (!HEADER_SAFE.test(value)) {
        throw new HttpDeployerDefinitionError(
          `${source} is invalid:\n- ${name}.token_env: the value of ${definition.token_env} has characters a header cannot carry (newline, control or non-ASCII)`,
        );
      }
      token = value;
    }
    definitions.set(name, {
      name,
      url: definition.url,
      statusUrl: definition.status_url ?? null,
      token,
      timeouts: definition.timeouts,
      pollInterval: definition.poll_interval,
      maxPollInterval: definition.max_poll_interval ?? Math.max(definition.poll_interval, 60_000),
    });
  }
  return definitions;
}
