// Webhook bodies, bounded: read here before Probot sees them, so a body past the limit is refused with 413
// before it is verified, parsed or stored. GitHub caps payloads at 25 MB; the events the bot handles
// (deployment, issue_comment, deployment_status, deployment_protection_rule) are a few KB, 1 MB is ample.
import type { IncomingMessage, ServerResponse } from 'node:http';

export const MAX_WEBHOOK_BYTES = 1024 * 1024;

/**
 * The body as text, or null when it was refused (413 sent, the connection closed once it is answered, the
 * rest of the body never read). The declared length is checked first; a chunked body is counted as it comes.
 */
export async function readBoundedBody(req: IncomingMessage, res: ServerResponse, limit = MAX_WEBHOOK_BYTES): Promise<string | null> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return refuse(res, limit, declared);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      // The rest is not read: the answer goes out and the connection closes behind it.
      req.off('data', onData).off('end', onEnd);
      resolve(refuse(res, limit, null));
    };
    const onEnd = () => resolve(Buffer.concat(chunks).toString('utf8'));
    req.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

function refuse(res: ServerResponse, limit: number, declared: number | null): null {
  const size = declared === null ? 'more than that' : `${declared} bytes`;
  res
    .writeHead(413, { 'content-type': 'text/plain', connection: 'close' })
    .end(`webhook body too large: shipguard accepts at most ${limit} bytes, this one has ${size}\n`);
  return null;
}
