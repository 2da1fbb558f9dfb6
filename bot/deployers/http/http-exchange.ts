// One HTTP request and its answer, on node:http/node:https with our own timers only. Node's global fetch
// (undici) ends every request at 300 s through headersTimeout/bodyTimeout whatever the AbortSignal; the
// node:http client has no timer of its own, so the deployer's `connect` and `response` decide, nothing else.
//
// The one fact the caller needs besides the answer: could the request have reached the service? Until the
// connection is established (and, for https, its TLS handshake done) not one byte of it has left this
// process, so a failure there is safe to retry; any failure after that leaves the outcome unknown.
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { formatDuration } from '../../../common/duration.ts';

export interface HttpExchangeRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  connectTimeoutMs: number;
  /** From the established connection to the last byte of the answer. */
  responseTimeoutMs: number;
}

export type HttpExchange =
  /** Nothing was sent. `retryable` is false for what waiting will not fix (a certificate refused). */
  | { kind: 'not-sent'; reason: string; retryable: boolean }
  /** The request may have been received, and no complete answer came back. */
  | { kind: 'lost'; reason: string }
  | { kind: 'answered'; status: number; headers: http.IncomingHttpHeaders; body: string; tooLarge: boolean };

/** Answers longer than this are not kept (a deployer's answer is a small JSON object). */
const MAX_BODY_BYTES = 1024 * 1024;

// Errors from the TLS layer that say the peer is the wrong one: retrying cannot help.
const TLS_REFUSAL = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_SSL|HOSTNAME|ALTNAME/;

export function httpExchange(request: HttpExchangeRequest): Promise<HttpExchange> {
  return new Promise((resolve) => {
    const transport = request.url.protocol === 'https:' ? https : http;
    let connected = false;
    let settled = false;
    let timerReason: string | null = null;
    let responseTimer: NodeJS.Timeout | undefined;

    const settle = (outcome: HttpExchange) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(responseTimer);
      resolve(outcome);
    };

    const headers: Record<string, string> = { ...request.headers };
    if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body));
    // agent: false: a fresh connection each time. A kept-alive socket the server already closed would
    // turn a request that never arrived into a reset after sending, i.e. a needless "unknown".
    const req = transport.request(request.url, { method: request.method, headers, agent: false });

    const connectTimer = setTimeout(() => {
      timerReason = `could not connect within ${formatDuration(request.connectTimeoutMs)}`;
      req.destroy(new Error(timerReason));
    }, request.connectTimeoutMs);

    const onConnected = () => {
      connected = true;
      clearTimeout(connectTimer);
      responseTimer = setTimeout(() => {
        timerReason = `no complete answer within ${formatDuration(request.responseTimeoutMs)}`;
        req.destroy(new Error(timerReason));
      }, request.responseTimeoutMs);
    };

    req.on('socket', (socket: Socket) => {
      if (!socket.connecting) onConnected();
      else socket.once(request.url.protocol === 'https:' ? 'secureConnect' : 'connect', onConnected);
    });

    req.on('error', (error: NodeJS.ErrnoException) => {
      const reason = timerReason ?? describeError(error);
      if (!connected) settle({ kind: 'not-sent', reason, retryable: !TLS_REFUSAL.test(error.code ?? '') });
      else settle({ kind: 'lost', reason });
    });

    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) tooLarge = true;
        else chunks.push(chunk);
      });
      res.on('end', () => {
        settle({
          kind: 'answered',
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          tooLarge,
        });
      });
      // The connection closed before the answer's last byte: whatever arrived proves nothing.
      res.on('error', (error: NodeJS.ErrnoException) => {
        const reason = timerReason ?? describeError(error);
        settle({ kind: 'lost', reason: `HTTP ${res.statusCode} then ${reason} after ${size} bytes of the body` });
      });
    });

    req.end(request.body);
  });
}

function describeError(error: NodeJS.ErrnoException): string {
  if (error.message === 'socket hang up') return 'connection closed with no answer';
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host name not found (${error.code})`;
    case 'ECONNRESET':
      return 'connection reset';
    case 'EPIPE':
      return 'connection closed while sending';
    default:
      return error.message;
  }
}
