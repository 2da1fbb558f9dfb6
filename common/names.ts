// Validation of every name that travels from GitHub (webhooks, comments, Action inputs) towards a deploy.
// Each check returns an error message that says what is wrong, or null when the value is fine, so that
// the Action and the bot refuse bad input with the same words.

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
export const ENVIRONMENT_NAME = /^[A-Za-z0-9._-]{1,64}$/;
// Tasks are environment-like names; ':' is allowed for sub-tasks such as `deploy:noop`.
const TASK = /^[A-Za-z0-9._:-]{1,64}$/;
const REPOSITORY = /^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/;
const MAX_REF_LENGTH = 255;

export function shaError(value: string): string | null {
  if (SHA.test(value)) return null;
  return `invalid sha ${describe(value)}: expected 40 or 64 lowercase hexadecimal characters`;
}

export function environmentNameError(value: string): string | null {
  if (ENVIRONMENT_NAME.test(value)) return null;
  return `invalid environment name ${describe(value)}: use 1 to 64 of A-Z a-z 0-9 . _ -`;
}

export function taskNameError(value: string): string | null {
  if (TASK.test(value)) return null;
  return `invalid task ${describe(value)}: use 1 to 64 of A-Z a-z 0-9 . _ : -`;
}

export function repositoryNameError(value: string): string | null {
  if (REPOSITORY.test(value)) return null;
  return `invalid repository ${describe(value)}: expected owner/name`;
}

/**
 * git check-ref-format rules (plus: no leading '-', bounded length). A legal ref may still carry shell
 * syntax (`zzz";echo${IFS}"hello";#` is one), which is why refs are quoted, never trusted.
 */
export function refError(value: string): string | null {
  const bad = (why: string) => `invalid ref ${describe(value)}: ${why}`;
  if (value.length === 0) return bad('empty');
  if (value.length > MAX_REF_LENGTH) return bad(`longer than ${MAX_REF_LENGTH} characters`);
  if (value.startsWith('-')) return bad('starts with "-"');
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(value)) return bad('contains a space, a control character or one of ~ ^ : ? * [ \\');
  if (value.includes('..')) return bad('contains ".."');
  if (value.includes('@{')) return bad('contains "@{"');
  if (value === '@') return bad('is "@"');
  if (value.startsWith('/') || value.endsWith('/') || value.includes('//')) return bad('has an empty path component');
  if (value.endsWith('.')) return bad('ends with "."');
  for (const component of value.split('/')) {
    if (component.startsWith('.')) return bad('has a component starting with "."');
    if (component.endsWith('.lock')) return bad('has a component ending with ".lock"');
  }
  return null;
}

/** A short, printable rendering of a bad value for error messages (never the whole 10 000 characters). */
export function describe(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return JSON.stringify(shown);
}
