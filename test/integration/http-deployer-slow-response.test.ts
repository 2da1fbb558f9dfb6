// A synchronous deployer service that answers after more than 300 s: Node's fetch (undici) would have
// ended the request at 300 s whatever its AbortSignal; the http deployer's `response` timeout, and
// nothing else, must decide. The clock is faked (the server holds its answer until the test releases
// it), so the test takes milliseconds: a timer of ours that fired early would end the deploy first.
import type http from 'node:http';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { HttpDeployer } from '../../bot/deployers/http/http-deployer.ts';
import { deployJob, httpDefinition, recordEvents, scriptedServer, sendJson, type ScriptedServer } from '../support/http-deploy-fixtures.ts';

let server: ScriptedServer | undefined;
let held: http.ServerResponse | undefined;

beforeEach(async () => {
  server = await scriptedServer((_request, res) => {
    held = res;
  });
  // Only the timers our code reads; node:http's I/O and setImmediate stay real.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});

afterEach(async () => {
  vi.useRealTimers();
  held = undefined;
  await server?.close();
});

async function untilTheServiceHoldsTheRequest(): Promise<http.ServerResponse> {
  // Bounded by the real clock (performance.now is not faked), not by a number of turns: on a loaded
  // machine the request may take many more turns to arrive.
  const giveUpAt = performance.now() + 30_000;
  while (!held) {
    if (performance.now() > giveUpAt) throw new Error('the request never reached the service');
    await new Promise((resolve) => setImmediate(resolve));
  }
  return held;
}

function slowDeployer() {
  return new HttpDeployer(httpDefinition({ url: `${server!.url}/deploy`, timeouts: { connect: '5s', response: '10m', total: '2h' } }));
}

it('waits past 300 s for a deploy that answers within the response timeout (10m)', async () => {
  const deploying = slowDeployer().deploy(deployJob({ deadline: Date.now() + 7_200_000 }), recordEvents().events);
  const response = await untilTheServiceHoldsTheRequest();

  await vi.advanceTimersByTimeAsync(540_000); // 9 minutes: well past undici's 300 s, within 10m
  sendJson(response, 200, { state: 'success', description: 'deployed after 9 minutes' });

  expect(await deploying).toEqual({ state: 'succeeded', description: 'deployed after 9 minutes' });
  expect(server!.posts()).toHaveLength(1);
});

it('ends the wait at the response timeout, as unknown, and does not post again', async () => {
  const deploying = slowDeployer().deploy(deployJob({ deadline: Date.now() + 7_200_000 }), recordEvents().events);
  await untilTheServiceHoldsTheRequest();

  await vi.advanceTimersByTimeAsync(600_001);

  expect(await deploying).toEqual({
    state: 'error',
    description: 'outcome unknown: no complete answer within 10m after the request was sent; not retried',
  });
  expect(server!.posts()).toHaveLength(1);
});
