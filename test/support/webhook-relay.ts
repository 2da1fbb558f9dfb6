// What stands between GitHub and several bot replicas: one webhook URL for the stand-in, forwarding
// each delivery unchanged (body and signature) to the bots. `all`: every bot gets every delivery at once
// (GitHub's delivery racing replicas); the answer is the worst of theirs. `round-robin`: each delivery
// goes to the next bot in turn, as a load balancer in front of replicas sends it; the answer is that bot's.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookRelay {
  /** Where the stand-in delivers: `setWebhookUrl(relay.url)`. */
  url: string;
  close(): Promise<void>;
}

/** `botUrls`: the bots' base URLs (`http://127.0.0.1:PORT`); each receives at `/api/github/webhooks`. */
export async function startWebhookRelay(botUrls: string[], mode: 'all' | 'round-robin'): Promise<WebhookRelay> {
  let next = 0;
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(([name]) => name.startsWith('x-') || name === 'content-type'),
    ) as Record<string, string>;
    const forward = (botUrl: string) =>
      fetch(`${botUrl}/api/github/webhooks`, { method: 'POST', headers, body: Buffer.concat(chunks) }).then(
        async (answer) => {
          await answer.arrayBuffer();
          return answer.status;
        },
        () => 502,
      );
    const targets = mode === 'all' ? botUrls : [botUrls[next++ % botUrls.length]!];
    const answers = await Promise.all(targets.map(forward));
    response.writeHead(Math.max(...answers)).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/github/webhooks`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
