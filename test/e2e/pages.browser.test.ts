// The log page and the environments page in a real browser (Debian's headless Chromium, driven by
// playwright-core), at desktop (1280 px) and phone (390 px) widths: neither scrolls sideways, the log page
// links to the commit, the pull request and GitHub's deployments, tells stderr apart and says what each
// host did; the environments page, opened from a `/status` reply, shows the lock, the queue and the live
// SHA, and updates without a reload. Screenshots go to test/artifacts/; with SHIPGUARD_UPDATE_SCREENSHOT=1
// also to docs/ (the README's pictures).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPOSITORY, startDemoWorld, type DemoWorld } from '../support/demo-world.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '../artifacts');
const DOCS = join(import.meta.dirname, '../../docs');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
// Bounds on waits, far beyond what a loaded machine takes: the test checks what the pages show, not how fast.
const WAIT_MS = 60_000;

let demo: DemoWorld | undefined;
let browser: BrowserContext | undefined;
let profile: string | undefined;

beforeAll(async () => {
  profile = mkdtempSync(join(tmpdir(), 'shipguard-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: DESKTOP,
  });
  demo = await startDemoWorld({ ssh: 'sshd', deploySeconds: 1 });
  await demo.startBot();
  // A first deploy from the Action: staging has a live SHA before the pages are opened.
  expect((await demo.runAction({ environment: 'staging', runId: 1 })).outputs.state).toBe('success');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await demo?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function horizontalOverflow(page: Page): Promise<unknown> {
  // A string, evaluated in the page: the tests are typed without the DOM's globals.
  return page.evaluate('document.scrollingElement.scrollWidth - window.innerWidth');
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: true });
  if (process.env.SHIPGUARD_UPDATE_SCREENSHOT === '1') copyFileSync(path, join(DOCS, name));
}

/** The deployment the bot created for a ChatOps command, and the log link GitHub got for it. */
async function deploymentOf(world: DemoWorld, commandId: number, task = 'deploy'): Promise<{ id: number; logUrl: string }> {
  const created = await world.github.waitFor(
    () => world.github.deployments(REPOSITORY).find((d) => d.id > commandId && d.task === task),
    WAIT_MS,
  );
  const logUrl = await world.github.waitFor(() => world.statuses(created.id).find((s) => s.logUrl)?.logUrl, WAIT_MS);
  return { id: created.id, logUrl };
}

/** A new tab whose script errors land in `errors` (each test expects none). */
async function newPage(errors: string[]): Promise<Page> {
  const page = await browser!.newPage();
  page.on('pageerror', (error) => errors.push(error.message));
  return page;
}

const pageState = (page: Page, selector: string) => page.locator(selector).textContent();

it(
  'the environments page, from a /status reply, shows the lock, the queue and the live SHA, live; the log page links to GitHub',
  { timeout: 240_000 },
  async () => {
    const world = demo!;
    const short = world.featureSha.slice(0, 7);
    const lock = await world.comment('/lock production release freeze');
    expect((await world.waitForReply(lock, WAIT_MS))?.body).toContain('production');

    const statusCommand = await world.comment('/status');
    const status = await world.waitForReply(statusCommand, WAIT_MS, (c) => c.body.includes('Status'));
    const environmentsUrl = /\[All environments, live\]\((http[^)\s]+)\)/.exec(status?.body ?? '')?.[1];
    expect(environmentsUrl, status?.body).toMatch(/\/repositories\/acme\/app\/environments\?sig=/);

    const errors: string[] = [];
    const environments = await newPage(errors);
    let navigations = 0;
    environments.on('framenavigated', (frame) => {
      if (frame === environments.mainFrame()) navigations++;
    });
    await environments.goto(environmentsUrl!);
    const staging = environments.locator('section[data-environment="staging"]');
    const production = environments.locator('section[data-environment="production"]');
    expect(await production.locator('.lock').textContent()).toMatch(/^locked by @octocat .* ago: release freeze$/);
    expect(await staging.locator('.lock').textContent()).toBe('not locked');

    // Every host is held (demo-world's deploy waits while $HOST_DIR/hold exists, up to 15 s each; host 2
    // starts once 0 and 1 end): the deploy runs while the pages are looked at, however slow the machine.
    const holds = world.hosts.hosts.map((host) => join(host.dir, 'hold'));
    for (const hold of holds) writeFileSync(hold, '');
    const newSha = world.github.addCommit(REPOSITORY, 'feature'); // a head staging does not run yet (revision would skip every host)
    const deployCommand = await world.comment('/deploy staging');
    const running = await deploymentOf(world, deployCommand);
    const noopCommand = await world.comment('/deploy noop staging');
    const queued = await deploymentOf(world, noopCommand, 'deploy:noop');
    await expect
      .poll(() => staging.locator('.queue tr[data-deployment]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-deployment'))), {
        timeout: WAIT_MS,
      })
      .toEqual([String(running.id), String(queued.id)]);
    expect(await staging.locator(`.queue tr[data-deployment="${running.id}"] .state`).textContent()).toBe('running');
    expect(await staging.locator(`.queue tr[data-deployment="${queued.id}"] .state`).textContent()).toBe('queued');
    expect(await staging.locator(`.queue tr[data-deployment="${running.id}"] a`).first().getAttribute('href')).toBe(running.logUrl);
    const first = world.github.deployments(REPOSITORY)[0]!.id;
    expect(await staging.locator('.live-sha').textContent()).toMatch(
      new RegExp(`^live: ${short} \\(#${first}\\), deployed by @octocat \\d+ (s|min) ago$`),
    );
    // Hosts run: the queue says how far the deploy got, never the claim's 'starting'.
    await expect
      .poll(() => staging.locator(`.queue tr[data-deployment="${running.id}"] td:last-child`).textContent(), { timeout: WAIT_MS })
      .toMatch(/^deploying/);
    expect(await horizontalOverflow(environments)).toBeLessThanOrEqual(0);

    // The log page, while the hosts are held: links, a summary that is not 'starting', steps per host.
    const log = await newPage(errors);
    await log.goto(running.logUrl);
    const web = `http://${world.github.host}`;
    expect(await log.locator('#commit-link').getAttribute('href')).toBe(`${web}/acme/app/commit/${newSha}`);
    expect(await log.locator('#pull-request-link').getAttribute('href')).toBe(`${web}/acme/app/pull/${world.pullRequest}`);
    expect(await log.locator('#deployments-link').getAttribute('href')).toBe(`${web}/acme/app/deployments/staging`);
    expect(await log.locator('#environments-link').getAttribute('href')).toBe(environmentsUrl);
    const heldStep = log.locator(`#hosts tr[data-host="${world.hosts.hosts[0]!.spec}"] td:nth-child(3)`);
    await expect.poll(() => heldStep.textContent(), { timeout: WAIT_MS, interval: 200 }).toBe('deploy …');
    expect(await pageState(log, '#description')).not.toBe('starting');
    expect(await log.locator('#summary time').first().getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect(await horizontalOverflow(log)).toBeLessThanOrEqual(0);

    await screenshot(environments, 'environments-page.png');
    for (const hold of holds) rmSync(hold);
    // Live, without a reload: the deploy ends, staging runs the feature SHA, the queue empties.
    await expect
      .poll(() => staging.locator('.live-sha').textContent(), { timeout: WAIT_MS, interval: 200 })
      .toMatch(new RegExp(`^live: ${newSha.slice(0, 7)} \\(#${running.id}\\), deployed by @octocat \\d+ s ago$`));
    await expect
      .poll(() => staging.locator('.queue').textContent(), { timeout: WAIT_MS, interval: 200 })
      .toBe('nothing running or waiting');
    expect(await staging.locator(`.recent tr[data-deployment="${running.id}"] .state`).textContent()).toBe('succeeded');
    expect(navigations).toBe(1);

    await expect.poll(() => pageState(log, '#state'), { timeout: WAIT_MS, interval: 200 }).toBe('succeeded');
    expect(await log.locator('#hosts tbody td:nth-child(3)').allTextContents()).toEqual(['deploy ✓', 'deploy ✓', 'deploy ✓']);

    for (const page of [environments, log]) {
      await page.setViewportSize(DESKTOP);
      expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
      await page.setViewportSize(PHONE);
      expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    }
    await screenshot(environments, 'environments-page-phone.png');
    expect(world.github.problems).toEqual([]);
  },
);

it('a failing host: its stderr is marked, its step says deploy ✗, and long output wraps on a phone', { timeout: 180_000 }, async () => {
  const world = demo!;
  const longLine = `error: ${'x'.repeat(400)}`;
  writeFileSync(join(world.hosts.hosts[0]!.dir, 'fail-deploy'), `${longLine}\n`);
  world.github.addCommit(REPOSITORY, 'feature'); // a head staging has not run yet (revision would skip every host)
  const command = await world.comment('/deploy staging');
  const deployment = await deploymentOf(world, command);
  await world.waitForFinal(deployment.id, WAIT_MS);

  const errors: string[] = [];
  const log = await newPage(errors);
  await log.setViewportSize(PHONE);
  await log.goto(deployment.logUrl);
  const failing = log.locator(`#hosts tr[data-host="${world.hosts.hosts[0]!.spec}"]`);
  expect(await failing.locator('td:nth-child(3)').textContent()).toBe('deploy ✗');
  // After the end, a host the failure kept from starting says so (which hosts started depends on timing).
  const steps = await log.locator('#hosts tbody td:nth-child(3)').allTextContents();
  expect(steps).toContain('deploy ✗');
  expect(steps.filter((step) => !['deploy ✗', 'deploy ✓', 'not started'].includes(step))).toEqual([]);
  const stderr = await log.locator('#outputs .stderr').allTextContents();
  expect(stderr).toEqual(['fail-deploy is set on this host', longLine]);
  expect(await log.locator('#outputs').textContent()).toContain('deploying ');
  expect(await log.locator('#outputs .stderr', { hasText: 'deploying ' }).count()).toBe(0);
  expect(await horizontalOverflow(log)).toBeLessThanOrEqual(0);
  await screenshot(log, 'log-page-phone.png');
  expect(errors).toEqual([]);

  // The JSON the Action reads keeps its failures, with the stderr text unmarked.
  const json = (await (await fetch(deployment.logUrl.replace('?sig=', '.json?sig='))).json()) as {
    failures: Array<{ host: string; tail: string }>;
  };
  expect(json.failures[0]!.tail).toContain(`fail-deploy is set on this host\n${longLine}`);
  expect(json.failures[0]!.tail).not.toContain('\u001e');
});

it('answers 404 to a wrong signature and to a log link’s signature on the environments page', async () => {
  const world = demo!;
  const statusCommand = await world.comment('/status');
  const status = await world.waitForReply(statusCommand, WAIT_MS, (c) => c.body.includes('Status'));
  const environmentsUrl = new URL(/\[All environments, live\]\((http[^)\s]+)\)/.exec(status!.body)![1]!);
  expect((await fetch(environmentsUrl)).status).toBe(200);
  const logUrl = new URL(world.statuses(world.github.deployments(REPOSITORY)[0]!.id).find((s) => s.logUrl)!.logUrl!);

  const withSignature = (url: URL, sig: string) => {
    const copy = new URL(url);
    copy.searchParams.set('sig', sig);
    return copy;
  };
  const environmentsSig = environmentsUrl.searchParams.get('sig')!;
  const logSig = logUrl.searchParams.get('sig')!;
  expect(
    (await fetch(withSignature(environmentsUrl, `${environmentsSig.slice(0, -1)}${environmentsSig.endsWith('A') ? 'B' : 'A'}`))).status,
  ).toBe(404);
  expect((await fetch(withSignature(environmentsUrl, logSig))).status).toBe(404);
  const json = new URL(environmentsUrl);
  json.pathname += '.json';
  expect((await fetch(withSignature(json, logSig))).status).toBe(404);
  expect((await fetch(withSignature(logUrl, environmentsSig))).status).toBe(404);
  const otherRepository = new URL(environmentsUrl);
  otherRepository.pathname = '/repositories/acme/other/environments';
  expect((await fetch(otherRepository)).status).toBe(404);
});
