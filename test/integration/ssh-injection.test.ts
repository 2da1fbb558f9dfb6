// Nothing from outside becomes shell syntax on a host, and no secret leaves one in the output:
// legal git refs carrying shell syntax arrive as plain data, illegal values are refused before any
// host is contacted (a canary file that any injection would create never appears), secrets are
// redacted raw, in base64 and JSON-escaped, and long output keeps only its head and tail.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { shellQuote } from '../../common/shell.ts';
import { SshdFleet } from '../support/sshd-fleet.ts';
import { fleetDeployer, hostFile, recordEvents, sshJob } from './ssh-test-job.ts';

let fleet: SshdFleet;
let canary: string;
beforeAll(async () => {
  fleet = await SshdFleet.start(2);
  canary = join(fleet.dir, 'pwn');
});
afterEach(() => {
  for (const host of fleet.hosts) rmSync(join(host.dir, 'ref'), { force: true });
});
afterAll(async () => {
  await fleet?.close();
});

const RECORD_REF = 'printf %s "$DEPLOY_REF" > "$HOST_DIR/ref"; echo "ref is $DEPLOY_REF"';

function loginsOn(index: number): number {
  return fleet
    .sshdLog(index)
    .split('\n')
    .filter((line) => line.startsWith('Accepted publickey')).length;
}

describe('values that try to become shell syntax', () => {
  it('passes legal refs carrying shell syntax to every host as plain data', async () => {
    const refs = [
      'zzz";echo${IFS}"hello";#', // GitHub's own example of a legal branch name
      `$(touch\${IFS}${canary})`,
      `\`touch\${IFS}${canary}\``,
      `a';touch\${IFS}${canary};'b`,
      `"$(touch\${IFS}${canary})"`,
      `x|touch\${IFS}${canary}&&$IFS>${canary}`,
    ];
    for (const ref of refs) {
      const events = recordEvents();
      const result = await fleetDeployer(fleet).deploy(sshJob(fleet, { deploy: RECORD_REF, concurrency: 2 }, { ref }), events);
      expect(result.state).toBe('succeeded');
      for (const host of fleet.hosts) {
        expect(hostFile(fleet, host.index, 'ref')).toBe(ref);
        expect(events.output(host.spec)).toBe(`ref is ${ref}\n`);
      }
    }
    expect(existsSync(canary)).toBe(false);
  });

  it('refuses illegal values before contacting any host', async () => {
    const logins = fleet.hosts.map((h) => loginsOn(h.index));
    const bad: Array<[Partial<Parameters<typeof sshJob>[2]>, string]> = [
      [{ ref: `main\ntouch ${canary}` }, 'invalid ref'],
      [{ ref: `-oProxyCommand=touch${'${IFS}'}${canary}` }, 'invalid ref'],
      [{ ref: `$(touch ${canary})` }, 'invalid ref'],
      [{ ref: '$(touch /tmp/pwn)' }, 'invalid ref'],
      [{ ref: `${'a'.repeat(10_000)}$(touch\${IFS}${canary})` }, 'invalid ref'],
      [{ environment: `staging;touch ${canary}` }, 'invalid environment name'],
      [{ task: `deploy$(touch\${IFS}${canary})` }, 'invalid task'],
      [{ sha: `${'a'.repeat(39)}'` }, 'invalid sha'],
      [{ previousSha: '$(id)' }, 'invalid sha'],
      [{ repository: `acme/app'$(touch\${IFS}${canary})'` }, 'invalid repository'],
    ];
    for (const [fields, problem] of bad) {
      const events = recordEvents();
      const result = await fleetDeployer(fleet).deploy(sshJob(fleet, { deploy: RECORD_REF }, fields), events);
      expect(result.state).toBe('error');
      expect(result.description).toContain(`refusing to run: ${problem}`);
      expect(result.description.length).toBeLessThan(200);
      expect(events.finished.size).toBe(0);
    }
    expect(fleet.hosts.map((h) => loginsOn(h.index))).toEqual(logins);
    for (const host of fleet.hosts) expect(hostFile(fleet, host.index, 'ref')).toBe('');
    expect(existsSync(canary)).toBe(false);
  });
});

describe('host output', () => {
  it('redacts secrets printed raw, in base64 and JSON-escaped, on stdout and stderr, and the deployer key', async () => {
    const secret = 'hunter2-"quoted"\\and/slashed';
    const base64 = Buffer.from(secret).toString('base64').replace(/=+$/, '');
    const jsonEscaped = JSON.stringify(secret).slice(1, -1);
    const deploy = [
      `printf '%s\\n' ${shellQuote(`raw: ${secret}`)}`,
      `printf '%s' ${shellQuote(secret)} | base64`,
      `printf '%s\\n' ${shellQuote(`{"token":"${jsonEscaped}"}`)} >&2`,
      `cat ${shellQuote(fleet.privateKeyPath)}`,
    ].join('; ');
    const events = recordEvents();
    const result = await fleetDeployer(fleet).deploy(sshJob(fleet, { deploy }, { secrets: [secret] }), events);

    expect(result.state).toBe('succeeded');
    const keyBody = fleet.privateKey.split('\n').filter((line) => line.length >= 8 && !line.startsWith('-----'));
    expect(keyBody.length).toBeGreaterThan(0);
    for (const host of fleet.hosts) {
      const output = events.output(host.spec);
      expect(output).toContain('raw: [redacted]');
      expect(output).toContain('{"token":"[redacted]"}');
      for (const form of [secret, base64, jsonEscaped, ...keyBody]) expect(output).not.toContain(form);
    }
  });

  it('keeps the head and the tail of a long output, saying how much was dropped', async () => {
    const events = recordEvents();
    const deploy = 'echo THE-START; head -c 300000 /dev/zero | tr "\\0" x; echo; echo THE-END';
    const result = await fleetDeployer(fleet, { outputHeadLimit: 1000, outputTailLimit: 1000 }).deploy(
      sshJob(fleet, { hosts: [fleet.hosts[0]!.spec], deploy }),
      events,
    );

    expect(result.state).toBe('succeeded');
    const output = events.output(fleet.hosts[0]!.spec);
    expect(output.length).toBeLessThan(2100);
    expect(output.startsWith('THE-START\nxxx')).toBe(true);
    expect(output).toMatch(/\n… 298\d{3} characters dropped …\n/);
    expect(output.endsWith('x\nTHE-END\n')).toBe(true);
  });
});
