// deploy.yml's JSON Schema, generated from the zod schema the bot validates with, for editors
// (`# yaml-language-server: $schema=…`) and other tools. Committed as schema/deploy.schema.json; `npm run
// schema` rewrites it. Rules across keys (ordered timeouts, known environment names) are beyond JSON
// Schema: `shipguard check` has them all.
import { z } from 'zod';
import { deployConfigSchema } from './deploy-config.ts';

export const DEPLOY_SCHEMA_FILE = 'schema/deploy.schema.json';
export const DEPLOY_SCHEMA_URL = 'https://raw.githubusercontent.com/acme/shipguard/main/schema/deploy.schema.json';

/** Hover texts for editors, by key; keys without one are still validated. */
const DESCRIPTIONS: Record<string, Record<string, string>> = {
  config: {
    default_environment: 'The environment a bare /deploy comment deploys to.',
    environments: 'Every environment shipguard deploys to, by name (1 to 64 of A-Z a-z 0-9 . _ -).',
  },
  environment: {
    url: 'environment_url on the deployment statuses.',
    hosts: 'The hosts, as [user@]host[:port], in rollout order.',
    concurrency: 'Hosts deployed at a time; 1 = one by one.',
    max_failures: 'Stop starting hosts once more than this many have failed.',
    deploy: 'Run on each host (sh -c, with DEPLOY_SHA, DEPLOY_REF, DEPLOY_HOST, DEPLOY_PREVIOUS_SHA, … set).',
    healthcheck: 'Run on each host after deploy; failing fails the host.',
    rollback: 'Run on a host whose deploy or healthcheck failed.',
    revision: 'Prints the SHA live on a host: hosts already at the SHA are skipped, unknown outcomes resolved.',
    timeouts: 'Time limits, ordered connect < command < total.',
    inactivity: 'A host command silent this long is killed (the host fails); shorter than timeouts.command.',
    queue: 'fifo: waiting deploys run in order; latest: only the newest waiting deploy is kept.',
    permission: 'The repository permission a PR comment author needs to deploy here.',
    required_contexts: 'Status checks that must be green for a ChatOps deploy (default: all of them).',
    requires: 'Environments a SHA must have succeeded on first.',
    production: 'Marks the deployment as production on GitHub.',
    transient: 'Marks the deployment as transient on GitHub.',
    deployer: 'ssh (default), local (processes on the bot machine) or a named http deployer from SHIPGUARD_DEPLOYERS.',
    waves: 'Cumulative host counts or percentages deployed wave by wave, ending at 100% (or every host), e.g. [1, 10%, 100%].',
    bake: 'Wait after each wave (but the last) before the next; the gate is asked during it.',
    gate: 'Asked during each bake: { run: <command on the bot machine> } or { url: <http url answering 2xx> }, with timeout and interval; failing fails the wave.',
    on_failure: 'stop (default) or rollback_fleet: every host this deploy changed runs rollback with DEPLOY_PREVIOUS_SHA, newest first.',
    freeze:
      'Windows { start, end, timezone, mode: refuse | wait } (local times like 2026-12-24T00:00) when deploys are refused or wait; an admin may /deploy --force-freeze.',
  },
};

type JsonObject = { properties?: Record<string, JsonObject>; additionalProperties?: JsonObject | boolean; [key: string]: unknown };

function describeKeys(schema: JsonObject | undefined, descriptions: Record<string, string>): void {
  for (const [key, property] of Object.entries(schema?.properties ?? {})) {
    if (descriptions[key] && property.description === undefined) property.description = descriptions[key];
  }
}

export function deployConfigJsonSchema(): JsonObject {
  const generated = z.toJSONSchema(deployConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonObject;
  const schema: JsonObject = {
    $schema: generated.$schema,
    $id: DEPLOY_SCHEMA_URL,
    title: 'shipguard .github/deploy.yml',
    ...generated,
  };
  describeKeys(schema, DESCRIPTIONS.config!);
  const environments = schema.properties?.environments;
  if (environments) environments.minProperties = 1;
  describeKeys(environments?.additionalProperties as JsonObject | undefined, DESCRIPTIONS.environment!);
  return schema;
}

/** The committed file's text: the schema, two-space indented, with a final newline. */
export const deployConfigJsonSchemaText = () => `${JSON.stringify(deployConfigJsonSchema(), null, 2)}\n`;
