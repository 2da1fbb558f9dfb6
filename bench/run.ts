// `npm run bench`: every benchmark, one after the other; each prints its table and writes
// bench/results/<name>.json. Figures are from one run on this machine: compare ratios, not times.
import { main as botFootprint } from './bot-footprint.ts';
import { main as installations } from './installations.ts';
import { main as replicas } from './replicas.ts';
import { main as sshFleet } from './ssh-fleet.ts';
import { main as statusBurst } from './status-burst.ts';
import { main as waves } from './waves.ts';
import { main as webhookAck } from './webhook-ack.ts';

await botFootprint();
await webhookAck();
await installations();
await replicas();
await statusBurst();
await sshFleet();
await waves();
process.exit(0);
