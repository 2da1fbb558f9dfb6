// The deployment log page in a real browser (Debian's headless Chromium, driven by playwright-core):
// opened from the link GitHub got while the deploy runs, it shows the hosts table and updates it live,
// without a reload, until the end. Saves a screenshot to test/artifacts/; with
// SHIPGUARD_UPDATE_SCREENSHOT=1 it also refreshes docs/log-page.png (the README's picture).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDemoWorld, type DemoWorld } from '../support/demo-world.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '../artifacts');
const README_SCREENSHOT = join(import.meta.dirname, '../../docs/log-page.png');

let demo: DemoWorld | undefined;
let browser: BrowserContext | undefined;
let profile: string | undefined;
// Bounds on waits, far beyond what a loaded machine takes: the test checks what the page shows, not how fast.
const WAIT_MS = 60_000;

beforeAll(async () => {
  // The browser first: it is the slow part to start.
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
    viewport: { width: 1100, height: 900 },
  });
  demo = await startDemoWorld({ ssh: 'sshd', deploySeconds: 1 });
  await demo.startBot();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await demo?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

it('shows the hosts table of a running deploy and updates it live until the deploy ends', { timeout: 180_000 }, async () => {
  const world = demo!;
  // The deploy must still be running when the page opens, however slow the machine: host 2's deploy is
  // held (demo-world's deploy waits while $HOST_DIR/hold exists) until the page has been looked at.
  const hold = join(world.hosts.hosts[2]!.dir, 'hold');
  writeFileSync(hold, '');
  const action = world.runAction({ environment: 'staging', runId: 1 });
  const logUrl = await world.github.waitFor(
    () =>
      world.github
        .deployments('acme/app')
        .flatMap((d) => world.statuses(d.id))
        .find((s) => s.logUrl)?.logUrl,
    WAIT_MS,
  );

  const page = await browser!.newPage();
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations++;
  });
  await page.goto(logUrl);
  const rows = page.locator('#hosts tbody tr');
  await expect.poll(() => rows.count(), { timeout: WAIT_MS }).toBe(3);
  expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-host')))).toEqual(world.hosts.hosts.map((h) => h.spec));

  expect(await page.locator('#live').textContent()).toContain('live');

  // Host 2 waits for a free slot (concurrency 2), then is held: it cannot be done yet when the page opens.
  const lastHostState = page.locator(`#hosts tr[data-host="${world.hosts.hosts[2]!.spec}"] td:nth-child(2)`);
  expect(await lastHostState.textContent()).not.toBe('succeeded');
  rmSync(hold);
  await expect.poll(() => lastHostState.textContent(), { timeout: WAIT_MS, interval: 200 }).toBe('succeeded');
  await expect.poll(() => page.locator('#state').textContent(), { timeout: WAIT_MS, interval: 200 }).toBe('succeeded');
  expect(navigations).toBe(1);
  expect(await page.locator('#live').textContent()).toMatch(/^· took \d+\.\d s$/);

  expect(await rows.locator('td:nth-child(2)').allTextContents()).toEqual(['succeeded', 'succeeded', 'succeeded']);
  for (const duration of await rows.locator('td:nth-child(4)').allTextContents()) expect(duration).toMatch(/^\d+\.\d s$/);
  expect(await page.locator('#outputs').textContent()).toContain(`deploying ${world.featureSha} to staging`);

  mkdirSync(ARTIFACTS, { recursive: true });
  const screenshot = join(ARTIFACTS, 'log-page.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  if (process.env.SHIPGUARD_UPDATE_SCREENSHOT === '1') copyFileSync(screenshot, README_SCREENSHOT);

  expect((await action).outputs.state).toBe('success');
  expect(world.github.problems).toEqual([]);
});
