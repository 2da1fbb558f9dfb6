// SHIPGUARD_DEPLOYERS / SHIPGUARD_DEPLOYERS_PATH: what the bot accepts at start, and the one clear
// message it stops with otherwise.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { expandStatusUrl, HttpDeployerDefinitionError, loadHttpDeployerDefinitions } from '../../bot/deployers/http/definitions.ts';

const folders: string[] = [];
afterEach(async () => {
  await Promise.all(folders.splice(0).map((f) => rm(f, { recursive: true, force: true })));
});

const LEGACY_YAML = `
legacy:
  url: http://deployer.internal:8080/deploy
  status_url: http://deployer.internal:8080/deploy/{key}
  token_env: LEGACY_DEPLOYER_TOKEN
  timeouts: { connect: 5s, response: 10m, total: 2h }
  poll_interval: 5s
`;

function loadError(env: NodeJS.ProcessEnv): string {
  try {
    loadHttpDeployerDefinitions(env);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpDeployerDefinitionError);
    return (error as Error).message;
  }
  throw new Error('the definitions were accepted');
}

describe('valid definitions', () => {
  it('reads the YAML example of docs/http-deployer-protocol.md, token from the named variable', () => {
    const definitions = loadHttpDeployerDefinitions({ SHIPGUARD_DEPLOYERS: LEGACY_YAML, LEGACY_DEPLOYER_TOKEN: 'tkn-1' });
    expect([...definitions.keys()]).toEqual(['legacy']);
    expect(definitions.get('legacy')).toEqual({
      name: 'legacy',
      url: 'http://deployer.internal:8080/deploy',
      statusUrl: 'http://deployer.internal:8080/deploy/{key}',
      token: 'tkn-1',
      timeouts: { connect: 5_000, response: 600_000, total: 7_200_000 },
      pollInterval: 5_000,
      maxPollInterval: 60_000,
    });
  });

  it('reads JSON, with defaults for what is left out', () => {
    const definitions = loadHttpDeployerDefinitions({
      SHIPGUARD_DEPLOYERS: JSON.stringify({ a: { url: 'https://a.example/deploy' }, b: { url: 'http://b/x', poll_interval: '2m' } }),
    });
    expect(definitions.get('a')).toMatchObject({
      statusUrl: null,
      token: null,
      timeouts: { connect: 5_000, response: 600_000, total: 7_200_000 },
      pollInterval: 5_000,
    });
    expect(definitions.get('b')!.maxPollInterval).toBe(120_000);
  });

  it('reads a file named by SHIPGUARD_DEPLOYERS_PATH', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'shipguard-deployers-'));
    folders.push(folder);
    const path = join(folder, 'deployers.yml');
    await writeFile(path, LEGACY_YAML);
    const definitions = loadHttpDeployerDefinitions({ SHIPGUARD_DEPLOYERS_PATH: path, LEGACY_DEPLOYER_TOKEN: 'x' });
    expect(definitions.get('legacy')!.url).toBe('http://deployer.internal:8080/deploy');
  });

  it('neither variable set: no http deployer', () => {
    expect(loadHttpDeployerDefinitions({}).size).toBe(0);
  });

  it('URL-encodes {id} and {key} in the status URL', () => {
    expect(expandStatusUrl('http://d/status/{id}?key={key}', 1042, 'acme/app#1042')).toBe('http://d/status/1042?key=acme%2Fapp%231042');
  });
});

describe('invalid definitions stop the bot with a clear message', () => {
  const invalid: Array<[string, string, RegExp]> = [
    [
      'unordered timeouts',
      'legacy: {url: http://d/x, timeouts: {connect: 10m, response: 5s, total: 2h}}',
      /legacy\.timeouts: must be ordered: connect < response <= total/,
    ],
    [
      'response beyond total',
      'legacy: {url: http://d/x, timeouts: {connect: 1s, response: 3h, total: 2h}}',
      /legacy\.timeouts: must be ordered/,
    ],
    ['a bad duration', 'legacy: {url: http://d/x, timeouts: {connect: soon}}', /legacy\.timeouts\.connect: invalid duration "soon"/],
    ['a missing url', 'legacy: {status_url: "http://d/{key}"}', /legacy\.url: is required \(the address deploys are POSTed to\)/],
    ['a url that is not http', 'legacy: {url: ftp://d/x}', /legacy\.url: must be http:\/\/ or https:\/\/, not ftp:/],
    ['credentials in the url', 'legacy: {url: "http://user:pw@d/x"}', /legacy\.url: must not carry credentials \(use token_env\)/],
    [
      'an unknown placeholder',
      'legacy: {url: http://d/x, status_url: "http://d/{sha}"}',
      /legacy\.status_url: has an unknown placeholder \{sha\}/,
    ],
    ['an unknown key', 'legacy: {url: http://d/x, headers: {a: b}}', /legacy: Unrecognized key: "headers"/],
    ['a built-in name', 'ssh: {url: http://d/x}', /ssh is a built-in deployer; choose another name/],
    ['an invalid name', '"bad name": {url: http://d/x}', /invalid deployer name "bad name"/],
    [
      'poll_interval past total',
      'legacy: {url: http://d/x, poll_interval: 3h}',
      /legacy\.poll_interval: must be shorter than timeouts\.total/,
    ],
    ['a list instead of a map', '- url: http://d/x', /must be a map of deployer names to definitions/],
    ['broken YAML', 'legacy: {url: [', /SHIPGUARD_DEPLOYERS is not valid YAML or JSON/],
  ];
  it.each(invalid)('%s', (_case, text, message) => {
    expect(loadError({ SHIPGUARD_DEPLOYERS: text })).toMatch(message);
  });

  it('a token_env whose variable is not set', () => {
    expect(loadError({ SHIPGUARD_DEPLOYERS: LEGACY_YAML })).toBe(
      "SHIPGUARD_DEPLOYERS is invalid:\n- legacy.token_env: the variable LEGACY_DEPLOYER_TOKEN is not set (it holds the deployer's bearer token)",
    );
  });

  it('a token a header cannot carry', () => {
    expect(loadError({ SHIPGUARD_DEPLOYERS: LEGACY_YAML, LEGACY_DEPLOYER_TOKEN: 'a\r\nX-Evil: 1' })).toMatch(
      /has characters a header cannot carry/,
    );
  });

  it('both variables set', () => {
    expect(loadError({ SHIPGUARD_DEPLOYERS: LEGACY_YAML, SHIPGUARD_DEPLOYERS_PATH: '/x' })).toMatch(/both set: set only one/);
  });

  it('a file that cannot be read', () => {
    expect(loadError({ SHIPGUARD_DEPLOYERS_PATH: '/nonexistent/deployers.yml' })).toMatch(
      /^SHIPGUARD_DEPLOYERS_PATH \(\/nonexistent\/deployers\.yml\): cannot read the file: ENOENT/,
    );
  });
});
