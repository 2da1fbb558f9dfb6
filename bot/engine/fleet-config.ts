// deploy.yml keys of fleet safety (waves, bake, gate, on_failure) and the checks that span them and the
// environment's other keys. Kept apart from deploy-config.ts so that the environment's schema reads as a list.
import { z } from 'zod';
import { durationField as duration } from './config-fields.ts';
import { localTimeError, timeZoneError, zonedInstant } from './freeze.ts';
import { planWaves, waveStepError } from './waves.ts';

/** Node's fetch gives up on an answer at 300 s whatever the signal says (docs/platform-facts.md): a gate waits less. */
export const MAX_GATE_TIMEOUT_MS = 240_000;
export const DEFAULT_GATE_TIMEOUT_MS = 30_000;
export const DEFAULT_GATE_INTERVAL_MS = 30_000;

const waveStep = z.union([z.number(), z.string()]).superRefine((step, ctx) => {
  const error = waveStepError(step);
  if (error) ctx.addIssue({ code: 'custom', message: error });
});

const gateTiming = {
  timeout: duration.default(DEFAULT_GATE_TIMEOUT_MS),
  /** During a bake, how often the gate is asked again (it is always asked when the bake ends). */
  interval: duration.default(DEFAULT_GATE_INTERVAL_MS),
};

const gateCommand = z.object({ run: z.string().min(1).max(4096), ...gateTiming }).strict();
const gateUrl = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
    ...gateTiming,
  })
  .strict();

const localTime = z.string().superRefine((text, ctx) => {
  const error = localTimeError(text);
  if (error) ctx.addIssue({ code: 'custom', message: error });
});

const freezeWindow = z
  .object({
    start: localTime,
    end: localTime,
    timezone: z
      .string()
      .superRefine((name, ctx) => {
        const error = timeZoneError(name);
        if (error) ctx.addIssue({ code: 'custom', message: error });
      })
      .default('UTC'),
    /** refuse by default: a deploy that waited out a holiday freeze would land when nobody expects it. */
    mode: z.enum(['wait', 'refuse']).default('refuse'),
  })
  .strict()
  .superRefine((w, ctx) => {
    if (localTimeError(w.start) || localTimeError(w.end) || timeZoneError(w.timezone)) return;
    if (zonedInstant(w.end, w.timezone) <= zonedInstant(w.start, w.timezone)) {
      ctx.addIssue({ code: 'custom', path: ['end'], message: `must be after start (${w.start})` });
    }
  });

export const fleetFields = {
  waves: z.array(waveStep).min(1).max(100).optional(),
  bake: duration.optional(),
  gate: z.union([gateCommand, gateUrl], { error: 'expected { run: <command>, timeout } or { url: <http url>, timeout }' }).optional(),
  on_failure: z.enum(['stop', 'rollback_fleet']).default('stop'),
  freeze: z.array(freezeWindow).max(100).optional(),
};

export type GateConfig = z.output<typeof gateCommand> | z.output<typeof gateUrl>;

interface FleetKeys {
  waves?: Array<number | string>;
  bake?: number;
  gate?: GateConfig;
  on_failure: 'stop' | 'rollback_fleet';
  rollback?: string;
  deployer: string;
}

/** What is wrong between the fleet keys and the rest of the environment, as (key, message) pairs. */
export function fleetConfigProblems(env: FleetKeys, hostCount: number): Array<{ path: string[]; message: string }> {
  const problems: Array<{ path: string[]; message: string }> = [];
  const hostDeployer = env.deployer === 'ssh' || env.deployer === 'local';
  if (env.waves) {
    if (!hostDeployer) problems.push({ path: ['waves'], message: 'apply to hosts: only with deployer ssh or local' });
    // An entry wrong on its own was reported by its own key already.
    else if (hostCount > 0 && env.waves.every((step) => waveStepError(step) === null)) {
      const plan = planWaves(env.waves, hostCount);
      if ('error' in plan) {
        // `waves[1]: …` → the key `waves.1`, as the schema names an entry's own problems.
        const entry = /^waves(?:\[(\d+)\])?: (.*)$/.exec(plan.error)!;
        problems.push({ path: entry[1] === undefined ? ['waves'] : ['waves', entry[1]], message: entry[2]! });
      }
    }
  }
  if ((env.bake !== undefined || env.gate) && !env.waves) {
    problems.push({ path: [env.bake !== undefined ? 'bake' : 'gate'], message: 'runs between waves: set waves too' });
  }
  if (env.gate && env.gate.timeout > MAX_GATE_TIMEOUT_MS) {
    problems.push({ path: ['gate', 'timeout'], message: 'must be at most 4m' });
  }
  if (env.on_failure === 'rollback_fleet') {
    if (!hostDeployer) problems.push({ path: ['on_failure'], message: 'rollback_fleet rolls hosts back: only with deployer ssh or local' });
    if (!env.rollback) problems.push({ path: ['on_failure'], message: 'rollback_fleet needs a rollback command (the rollback key)' });
  }
  return problems;
}
