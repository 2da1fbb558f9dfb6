// The failing hosts of a deployment, with the tail of their output (common/host-failures.ts), for the log
// page's JSON (read by the Action) and the ChatOps reply.
import { outputTail, type HostFailure } from '../../common/host-failures.ts';
import { splitStderr } from './host-output.ts';

export function hostFailures(hosts: ReadonlyArray<{ host: string; state: string; message: string; output: string }>): HostFailure[] {
  return hosts
    .filter((h) => h.state === 'failed' || h.state === 'unknown')
    .map((h) => ({ host: h.host, state: h.state, message: h.message, tail: outputTail(splitStderr(h.output).text) }));
}
