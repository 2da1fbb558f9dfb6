// deploy.yml's JSON Schema: the committed file is what the zod schema generates, and an editor using it
// accepts what the bot accepts and flags, key by key, what the bot refuses.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEPLOY_SCHEMA_FILE, deployConfigJsonSchema, deployConfigJsonSchemaText } from '../../bot/engine/deploy-config-schema.ts';
import { checkDeployConfig } from '../../bot/engine/deploy-config.ts';

const validate = new Ajv2020({ allErrors: true, strict: false }).compile(deployConfigJsonSchema());
const editorAccepts = (text: string) => validate(parse(text));

describe('deploy.yml JSON Schema', () => {
  it(`${DEPLOY_SCHEMA_FILE} is current: run npm run schema after changing deploy.yml's zod schema`, () => {
    expect(readFileSync(DEPLOY_SCHEMA_FILE, 'utf8')).toBe(deployConfigJsonSchemaText());
  });

  it('accepts what the bot accepts', () => {
    const text = [
      'default_environment: staging',
      'environments:',
      '  staging:',
      '    url: https://staging.example.com',
      '    hosts: [deploy@10.0.0.5, deploy@10.0.0.6:2222]',
      '    concurrency: 2',
      '    deploy: ./bin/deploy',
      '    revision: cat /srv/app/REVISION',
      '    timeouts: { connect: 10s, command: 15m, total: 2h }',
      '    inactivity: 5m',
      '    queue: latest',
      '  production: { deployer: legacy, permission: maintain, production: true, requires: [staging] }',
    ].join('\n');
    expect(checkDeployConfig(text).ok).toBe(true);
    expect(editorAccepts(text), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each([
    ['an unknown key', 'environments:\n  staging: { deployer: local, deploy: x, permision: write }\n'],
    ['a value out of its set', 'environments:\n  staging: { deployer: local, deploy: x, queue: lifo }\n'],
    ['a duration without a unit', 'environments:\n  staging: { deployer: local, deploy: x, timeouts: { command: 15 } }\n'],
    ['a duration of words', 'environments:\n  staging: { deployer: local, deploy: x, inactivity: soon }\n'],
    ['an environment name with a space', 'environments:\n  "stag ing": { deployer: local, deploy: x }\n'],
    ['no environment', 'environments: {}\n'],
    ['a concurrency past its bound', 'environments:\n  staging: { deployer: local, deploy: x, concurrency: 500 }\n'],
  ])('flags %s, as the bot does', (_case, text) => {
    expect(checkDeployConfig(text).ok).toBe(false);
    expect(editorAccepts(text)).toBe(false);
  });
});
