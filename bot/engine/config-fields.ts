// Schema pieces shared by the bot's two configuration formats: deploy.yml and SHIPGUARD_DEPLOYERS.
import { z } from 'zod';
import { parseDuration } from '../../common/duration.ts';

/** `90s`, `15m`, `2h`, `1h30m` → milliseconds, with the parser's own message when it is not one. */
export const durationField = z.string().transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});
