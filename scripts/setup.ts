// `npm run setup`: creates the GitHub App from app.yml through GitHub's manifest flow and writes its
// settings to .env (bot/setup/setup-server.ts). PORT (default 3000), GHE_HOST/GHE_PROTOCOL, GH_ORG and
// PUBLIC_URL are read from the environment or from an existing .env.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEnvFile } from '../bot/setup/env-file.ts';
import { startSetupServer } from '../bot/setup/setup-server.ts';

const envFile = join(process.cwd(), '.env');
const env = { ...readEnvFile(envFile), ...process.env };
const setup = await startSetupServer({
  env,
  appYml: readFileSync(join(import.meta.dirname, '../app.yml'), 'utf8'),
  envFile,
  port: Number(env.PORT || 3000),
});
console.log(`Open ${setup.url} in a browser to create the GitHub App.`);
const app = await setup.created;
console.log(`Created the GitHub App ${app.slug} (APP_ID ${app.id}); its settings are in ${envFile}.`);
console.log(`Install it: ${app.htmlUrl}/installations/new, then run npm start.`);
// Let the browser receive the last page before the server goes.
setTimeout(() => void setup.close(), 1000).unref();
