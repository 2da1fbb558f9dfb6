// `shipguard`, the command line for people who write deploy.yml: `check` validates a file with the bot's
// own validation (every problem at once, in the bot's words), `schema` prints deploy.yml's JSON Schema.
// Exit status: 0 valid, 1 problems found, 2 wrong usage.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DEPLOY_CONFIG_PATH, checkDeployConfig, problemText, type DeployConfigCheck } from '../bot/engine/deploy-config.ts';
import { deployConfigJsonSchemaText } from '../bot/engine/deploy-config-schema.ts';

const USAGE = `usage: shipguard check [path] [--json]   validate a deploy.yml (default ${DEPLOY_CONFIG_PATH})
       shipguard schema                  print deploy.yml's JSON Schema`;

async function check(file: string, json: boolean): Promise<number> {
  let result: DeployConfigCheck;
  try {
    result = checkDeployConfig(await readFile(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    result = { ok: false, problems: [{ path: '(top level)', message: `cannot read the file: ${reason}` }] };
  }
  const problems = result.ok ? [] : result.problems;
  const environments = result.ok ? Object.keys(result.config.environments) : [];
  if (json) {
    process.stdout.write(`${JSON.stringify({ file, valid: result.ok, environments, problems }, null, 2)}\n`);
  } else if (result.ok) {
    process.stdout.write(`${file}: valid (environments: ${environments.join(', ')})\n`);
  } else {
    // file:line: as compilers write it, so terminals and editors link each problem to its place.
    for (const problem of problems)
      process.stdout.write(`${file}:${problem.line === undefined ? '' : `${problem.line}:`} ${problemText(problem)}\n`);
    process.stdout.write(`${file}: ${problems.length === 1 ? '1 problem' : `${problems.length} problems`}\n`);
  }
  return result.ok ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    process.stderr.write(`shipguard: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === 'check' && rest.length <= 1) return check(rest[0] ?? DEPLOY_CONFIG_PATH, parsed.values.json === true);
  if (command === 'schema' && rest.length === 0) {
    process.stdout.write(deployConfigJsonSchemaText());
    return 0;
  }
  process.stderr.write(
    `${command === undefined ? '' : `shipguard: unknown command or extra arguments: ${parsed.positionals.join(' ')}\n`}${USAGE}\n`,
  );
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
