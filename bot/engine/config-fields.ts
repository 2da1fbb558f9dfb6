// Schema pieces shared by the bot's two configuration formats: deploy.yml and SHIPGUARD_DEPLOYERS.
import { z } from 'zod';
import { DURATION, parseDuration } from '../../common/duration.ts';

/** `90s`, `15m`, `2h`, `1h30m` → milliseconds, with the parser's own message when it is not one. */
export const durationField = z
  .string()
  .meta({ pattern: DURATION.source, examples: ['90s', '15m', '1h30m'] })
  .transform((text, ctx) => {
    try {
      return parseDuration(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

/**
 * For a rule across several keys of an object (`superRefine(rule, whenParsed('timeouts'))`): run it once
 * those keys parsed, even when other keys did not. zod skips such rules after any failure by default, so
 * a file would show its problems one fix at a time. The rule must read only the keys named here. A key
 * has parsed when none of its issues stopped zod (a value out of range or an unknown key inside it does
 * not: the value is still of its type).
 */
export function whenParsed(...keys: string[]): z.core.$ZodSuperRefineParams {
  return {
    when: (payload) =>
      typeof payload.value === 'object' &&
      payload.value !== null &&
      !payload.issues.some((issue) => issue.continue !== true && issue.path !== undefined && keys.includes(String(issue.path[0]))),
  };
}
