// The Action's inputs, read and validated before anything is sent to GitHub: a bad input ends the step
// with one line saying which input is wrong and why, and creates nothing.

import { parseDuration } from '../common/duration.ts';
import { describe, environmentNameError, refError } from '../common/names.ts';

export const ON_DUPLICATE_CHOICES = ['follow', 'skip', 'fail'] as const;
export type OnDuplicate = (typeof ON_DUPLICATE_CHOICES)[number];

export interface ActionInputs {
  environment: string;
  /** The ref to deploy as given; undefined: the workflow's own commit (a pull request's head). */
  ref: string | undefined;
  token: string;
  force: boolean;
  /** Extra payload keys from the `payload` input (the Action's own keys are added over them). */
  payload: Record<string, unknown>;
  description: string | undefined;
  wait: boolean;
  waitTimeoutMs: number;
  pickupTimeoutMs: number;
  onDuplicate: OnDuplicate;
  /** undefined: GitHub's default (every check); []: no check; else these contexts. */
  requiredContexts: string[] | undefined;
  productionEnvironment: boolean | undefined;
  transientEnvironment: boolean | undefined;
}

/** An input that is wrong: its message is the one line the step fails with. */
export class InputError extends Error {
  override name = 'InputError';
}

/** Reads one input by its action.yml name; '' when unset (as `@actions/core`'s getInput answers). */
export type InputReader = (name: string) => string;

const MAX_DESCRIPTION_LENGTH = 140;
const MAX_CONTEXT_LENGTH = 255;

export function readInputs(read: InputReader): ActionInputs {
  const environment = read('environment');
  if (!environment) throw new InputError('input environment is required: the name of the environment to deploy to, like staging');
  const environmentProblem = environmentNameError(environment);
  if (environmentProblem) throw new InputError(`input environment: ${environmentProblem}`);

  const ref = read('ref') || undefined;
  const refProblem = ref === undefined ? null : refError(ref);
  if (refProblem) throw new InputError(`input ref: ${refProblem}`);

  const token = read('token');
  if (!token) throw new InputError('input token is empty: pass a token with deployments: write (the default is github.token)');

  const description = read('description') || undefined;
  if (description !== undefined && description.length > MAX_DESCRIPTION_LENGTH) {
    throw new InputError(`input description is ${description.length} characters long: at most ${MAX_DESCRIPTION_LENGTH}`);
  }

  return {
    environment,
    ref,
    token,
    force: booleanInput(read, 'force', false),
    payload: payloadInput(read('payload')),
    description,
    wait: booleanInput(read, 'wait', true),
    waitTimeoutMs: durationInput(read, 'wait-timeout', '60m'),
    pickupTimeoutMs: durationInput(read, 'pickup-timeout', '2m'),
    onDuplicate: onDuplicateInput(read('on-duplicate') || 'follow'),
    requiredContexts: requiredContextsInput(read('required-contexts')),
    productionEnvironment: optionalBooleanInput(read, 'production-environment'),
    transientEnvironment: optionalBooleanInput(read, 'transient-environment'),
  };
}

function optionalBooleanInput(read: InputReader, name: string): boolean | undefined {
  const value = read(name);
  if (value === '') return undefined;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  throw new InputError(`input ${name} must be true or false, not ${describe(value)}`);
}

function booleanInput(read: InputReader, name: string, fallback: boolean): boolean {
  return optionalBooleanInput(read, name) ?? fallback;
}

function durationInput(read: InputReader, name: string, fallback: string): number {
  try {
    return parseDuration(read(name) || fallback);
  } catch (error) {
    throw new InputError(`input ${name}: ${(error as Error).message}`);
  }
}

function payloadInput(text: string): Record<string, unknown> {
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError(`input payload is not valid JSON (${(error as Error).message}): expected an object like {"key": "value"}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw new InputError(`input payload must be a JSON object like {"key": "value"}, not ${kind}`);
  }
  return value as Record<string, unknown>;
}

function onDuplicateInput(value: string): OnDuplicate {
  if ((ON_DUPLICATE_CHOICES as readonly string[]).includes(value)) return value as OnDuplicate;
  throw new InputError(`input on-duplicate must be one of ${ON_DUPLICATE_CHOICES.join(', ')}, not ${describe(value)}`);
}

function requiredContextsInput(value: string): string[] | undefined {
  if (value === '') return undefined;
  if (value === 'none') return [];
  const contexts = value.split(',').map((context) => context.trim());
  const bad = contexts.find((context) => context === '' || context.length > MAX_CONTEXT_LENGTH || /[\x00-\x1f\x7f]/.test(context));
  if (bad !== undefined) {
    throw new InputError(
      `input required-contexts has an invalid context ${describe(bad)}: expected none, or a comma-separated list of status check names`,
    );
  }
  return contexts;
}
