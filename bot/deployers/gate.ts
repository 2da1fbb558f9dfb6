// The health gate asked during a bake between waves (deploy.yml `gate`): a command on the bot's machine
// (run like `deployer: local`, DEPLOY_* set, killed at its timeout) or an http URL that must answer 2xx.
// A gate only looks: it runs without a write-ahead intent, and may be asked again after a takeover.
import type { GateConfig } from '../engine/fleet-config.ts';
import { LocalConnection } from './local.ts';
import { redact, secretForms } from './output.ts';
import { describeEnd, HOST_KILL_GRACE_MS } from './rollout.ts';

export interface GateAnswer {
  passed: boolean;
  /** One line for the timeline and the status: what the gate said. */
  message: string;
}

export type GateCheck = (gate: GateConfig, env: Record<string, string>, halt: AbortSignal, secrets: string[]) => Promise<GateAnswer>;

const MAX_SHOWN = 120;

/** The gate as asked from `cwd` (the local deployer's folder; default the bot's own). */
export function gateChecker(cwd?: string): GateCheck {
  return (gate, env, halt, secrets) => checkGate(gate, env, halt, secrets, cwd);
}

async function checkGate(
  gate: GateConfig,
  env: Record<string, string>,
  halt: AbortSignal,
  secrets: string[],
  cwd?: string,
): Promise<GateAnswer> {
  const forms = secretForms(secrets);
  const shown = (text: string) => redact(text, forms).replace(/\s+/g, ' ').trim().slice(0, MAX_SHOWN);
  if ('run' in gate) {
    let output = '';
    const end = await new LocalConnection(cwd).run(gate.run, {
      env,
      timeoutMs: gate.timeout,
      hardDeadline: Date.now() + gate.timeout + HOST_KILL_GRACE_MS,
      halt,
      onOutput(_stream, text) {
        // The last line says why, by convention; keep only the tail.
        output = (output + text).slice(-4096);
      },
    });
    const lastLine = shown(output.trimEnd().split('\n').at(-1) ?? '');
    if (end.kind === 'exit' && end.code === 0) return { passed: true, message: `gate passed${lastLine ? `: ${lastLine}` : ''}` };
    return { passed: false, message: `gate ${describeEnd(end)}${lastLine ? `: ${lastLine}` : ''}` };
  }
  try {
    const response = await fetch(gate.url, { signal: AbortSignal.any([AbortSignal.timeout(gate.timeout), halt]), redirect: 'manual' });
    await response.body?.cancel();
    const ok = response.status >= 200 && response.status < 300;
    return { passed: ok, message: `gate ${ok ? 'passed' : 'failed'}: ${shown(new URL(gate.url).host)} answered ${response.status}` };
  } catch (error) {
    // fetch says only "fetch failed"; its cause says why (ECONNREFUSED, ENOTFOUND, …).
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${gate.timeout / 1000}s`
        : `unreachable: ${cause?.code ?? cause?.message ?? (error as Error).message}`;
    return { passed: false, message: `gate failed: ${shown(new URL(gate.url).host)} ${shown(reason)}` };
  }
}
