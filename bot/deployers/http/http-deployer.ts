// `deployer: <name>`: drives an existing deployer service over HTTP (docs/http-deployer-protocol.md).
// One POST per deployment, ever: whatever happens after the request may have reached the
// service is *unknown* and is resolved by asking the status URL with the same idempotency key, never
// by posting again. Answers are judged in the contract's order: transport error → status code → body
// parse → body shape, so a 200 whose body was cut is unknown, not success.
//
// The service deploys by itself, so there are no hosts to report, only progress. A deployment taken over
// from a bot that died (`job.resumed`) may have been POSTed already: it is followed, never posted again.
import { formatDuration } from '../../../common/duration.ts';
import { MAX_DESCRIPTION } from '../../engine/descriptions.ts';
import type { DeployEvents, DeployJob, Deployer } from '../deployer.ts';
import type { DeployResult } from '../../engine/outcomes.ts';
import { redact, secretForms } from '../output.ts';
import { expandStatusUrl, type HttpDeployerDefinition } from './definitions.ts';
import { httpExchange, type HttpExchange } from './http-exchange.ts';

const MAX_LOG_URL = 2048;

export class HttpDeployer implements Deployer {
  readonly definition: HttpDeployerDefinition;

  constructor(definition: HttpDeployerDefinition) {
    this.definition = definition;
  }

  /**
   * `job.cancel` is not honoured on purpose: cancel means "stop after the hosts in progress", and from the
   * POST on the service has all of its hosts in hand; there is nothing to stop, so the deploy is followed to its end.
   */
  deploy(job: DeployJob, events: DeployEvents): Promise<DeployResult> {
    return new HttpDeployRun(this.definition, job, events).run();
  }
}

export function httpDeployerFor(definition: HttpDeployerDefinition): HttpDeployer {
  return new HttpDeployer(definition);
}

/** The idempotency key of a deployment: `<owner>/<repo>#<deployment id>`, also the status URL's `{key}`. */
export function deployerIdempotencyKey(job: Pick<DeployJob, 'repository' | 'deploymentId'>): string {
  return `${job.repository}#${job.deploymentId}`;
}

type DeployerState = 'queued' | 'running' | 'success' | 'failure';

interface StateAnswer {
  state: DeployerState;
  description?: string;
  logUrl?: string;
}

class HttpDeployRun {
  private readonly definition: HttpDeployerDefinition;
  private readonly job: DeployJob;
  private readonly events: DeployEvents;
  private readonly key: string;
  private readonly deadline: number;
  private readonly secretForms: string[];
  private logUrl: string | undefined;

  constructor(definition: HttpDeployerDefinition, job: DeployJob, events: DeployEvents) {
    this.definition = definition;
    this.job = job;
    this.events = events;
    this.key = deployerIdempotencyKey(job);
    this.deadline = Math.min(job.deadline, Date.now() + definition.timeouts.total);
    this.secretForms = secretForms(definition.token ? [...job.secrets, definition.token] : job.secrets);
  }

  async run(): Promise<DeployResult> {
    const result = this.job.resumed ? await this.whenUnknown('the bot following this deploy stopped before its end') : await this.post();
    return { ...result, description: this.say(result.description), ...(this.logUrl ? { logUrl: this.logUrl } : {}) };
  }

  /** The one POST. Retried only while nothing was sent (connection refused, DNS failure, connect timeout). */
  private async post(): Promise<DeployResult> {
    const { name, timeouts } = this.definition;
    const job = this.job;
    const body = JSON.stringify({
      id: job.deploymentId,
      idempotency_key: this.key,
      repository: job.repository,
      environment: job.environment,
      sha: job.sha,
      ref: job.ref,
      task: job.task,
      payload: job.payload,
    });
    const url = new URL(this.definition.url);
    const backoff = this.backoff();
    let lastReason: string | null = null;
    this.progress(`calling deployer ${name}`);
    for (;;) {
      const remaining = this.remaining();
      if (remaining <= 0) {
        if (!lastReason) return failed(`not deployed: the deployment's total time ran out before deployer ${name} was called`);
        return failed(
          `not deployed: deployer ${name} unreachable until the end of total (${formatDuration(timeouts.total)}): ${lastReason}; nothing was sent`,
        );
      }
      const answer = await httpExchange({
        method: 'POST',
        url,
        headers: this.headers(url, { 'content-type': 'application/json' }),
        body,
        connectTimeoutMs: Math.min(timeouts.connect, remaining),
        responseTimeoutMs: Math.min(timeouts.response, remaining),
      });
      if (answer.kind === 'lost') return this.whenUnknown(`${answer.reason} after the request was sent`);
      if (answer.kind === 'answered') return this.judgeDeployAnswer(answer);
      if (!answer.retryable) return failed(`not deployed: deployer ${name}: ${answer.reason}; nothing was sent`);
      lastReason = answer.reason;
      this.progress(`deployer ${name} unreachable (${answer.reason}); nothing sent, retrying`);
      await sleep(Math.min(backoff(), this.remaining()));
    }
  }

  private judgeDeployAnswer(answer: Extract<HttpExchange, { kind: 'answered' }>): Promise<DeployResult> | DeployResult {
    const { status } = answer;
    const name = this.definition.name;
    if (status === 202) {
      this.noteProgress(parseStateAnswer(answer, ['queued', 'running']), `deployer ${name} accepted the deploy`);
      const location = this.locationUrl(answer.headers.location);
      const pollUrl = location ?? this.statusUrl();
      if (!pollUrl) return unknown(`deployer ${name} accepted the deploy (HTTP 202) without a Location, and no status_url is defined`);
      return this.follow(pollUrl, `accepted by deployer ${name}`);
    }
    if (status === 409) {
      this.progress(`deployer ${name} already knows this deploy (HTTP 409); following it`);
      const pollUrl = this.locationUrl(answer.headers.location) ?? this.statusUrl();
      if (!pollUrl) return unknown(`deployer ${name} already knows this deploy (HTTP 409) and no status_url is defined`);
      return this.follow(pollUrl, `deployer ${name} already knows this deploy (HTTP 409)`);
    }
    if (status >= 200 && status < 300) {
      const parsed = parseStateAnswer(answer, ['success', 'failure', 'queued', 'running']);
      if (!parsed.ok) return this.whenUnknown(`HTTP ${status} with ${parsed.problem}`);
      if (parsed.answer.state === 'success' || parsed.answer.state === 'failure') return this.finish(parsed.answer);
      this.noteProgress(parsed, `deployer ${name}: ${parsed.answer.state}`);
      const pollUrl = this.locationUrl(answer.headers.location) ?? this.statusUrl();
      if (!pollUrl) return unknown(`deployer ${name} answered "${parsed.answer.state}" (HTTP ${status}) and no status_url is defined`);
      return this.follow(pollUrl, `deployer ${name} answered "${parsed.answer.state}"`);
    }
    if (status >= 400 && status < 500) {
      return failed(`deployer ${name} rejected the deploy: HTTP ${status}${detailOf(answer)}; not retried`);
    }
    // 5xx (a proxy's 502/504 among them), 1xx and 3xx: the service may have acted.
    return this.whenUnknown(`HTTP ${status} from deployer ${name} or a proxy in front of it`);
  }

  /** After the request may have reached the service: ask the status URL, or say plainly that nobody knows. */
  private whenUnknown(whatHappened: string): Promise<DeployResult> | DeployResult {
    const pollUrl = this.statusUrl();
    if (!pollUrl) return unknown(whatHappened);
    this.progress(`outcome unknown (${whatHappened}); asking deployer ${this.definition.name}`);
    return this.follow(pollUrl, `outcome unknown: ${whatHappened}`);
  }

  /** Polls until a terminal answer or the end of total. Poll failures are retried; they never cause a POST. */
  private async follow(pollUrl: URL, context: string): Promise<DeployResult> {
    const { timeouts } = this.definition;
    const backoff = this.backoff();
    let lastNews = 'no answer from the status URL';
    for (;;) {
      await sleep(Math.min(backoff(), this.remaining()));
      // Following is harmless, but a runner that may no longer act (or is handing over) leaves it to the
      // next one, which follows the same key (`resumed`) and never posts.
      if (this.job.halt.aborted || this.job.drain.aborted)
        return { state: 'handed_over', description: `${context}; following handed over` };
      const remaining = this.remaining();
      if (remaining <= 0) break;
      const answer = await httpExchange({
        method: 'GET',
        url: pollUrl,
        headers: this.headers(pollUrl, {}),
        connectTimeoutMs: Math.min(timeouts.connect, remaining),
        responseTimeoutMs: Math.min(timeouts.response, remaining),
      });
      if (answer.kind !== 'answered') {
        lastNews = `status check: ${answer.reason}`;
        this.progress(`${lastNews}; retrying`);
        continue;
      }
      const { status } = answer;
      if (status === 404) return errorResult('deployer has no record of this deploy; not retried');
      if (status >= 200 && status < 300) {
        const parsed = parseStateAnswer(answer, ['queued', 'running', 'success', 'failure']);
        if (!parsed.ok) {
          lastNews = `status check: HTTP ${status} with ${parsed.problem}`;
          this.progress(`${lastNews}; retrying`);
          continue;
        }
        if (parsed.answer.state === 'success' || parsed.answer.state === 'failure') return this.finish(parsed.answer);
        lastNews = `deployer still ${parsed.answer.state}`;
        this.noteProgress(parsed, `deployer ${this.definition.name}: ${parsed.answer.state}`);
        continue;
      }
      // A status URL that refuses us (401, 403, 400…) will not change its mind; busy or failing ones may.
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        return errorResult(`${context}; status URL answered HTTP ${status}${detailOf(answer)}; not retried`);
      }
      lastNews = `status check: HTTP ${status}`;
      this.progress(`${lastNews}; retrying`);
    }
    return errorResult(`${context}; ${lastNews} at the end of total (${formatDuration(timeouts.total)}); not retried`);
  }

  private finish(answer: StateAnswer): DeployResult {
    if (answer.logUrl) this.logUrl = answer.logUrl;
    const name = this.definition.name;
    if (answer.state === 'success') return { state: 'succeeded', description: answer.description ?? `deployed by ${name}` };
    return { state: 'failed', description: answer.description ?? `deploy failed (deployer ${name})` };
  }

  private noteProgress(parsed: ParsedStateAnswer, fallback: string): void {
    if (parsed.ok) this.progress(parsed.answer.description ?? fallback, parsed.answer.logUrl);
    else this.progress(fallback);
  }

  private progress(description: string, logUrl?: string): void {
    if (logUrl) this.logUrl = logUrl;
    this.events.progress(this.say(description), this.logUrl);
  }

  /** What leaves this deployer: no secret in any form, and short enough for a GitHub status. */
  private say(text: string): string {
    const clean = redact(text, this.secretForms).replace(/\s+/g, ' ').trim();
    if (clean.length <= MAX_DESCRIPTION) return clean;
    // Cut in the middle: the end says what was done about it ("; not retried").
    const tail = 40;
    return `${clean.slice(0, MAX_DESCRIPTION - tail - 1)}…${clean.slice(-tail)}`;
  }

  private statusUrl(): URL | null {
    const template = this.definition.statusUrl;
    return template ? new URL(expandStatusUrl(template, this.job.deploymentId, this.key)) : null;
  }

  /** A 202's Location, resolved against the deploy URL; ignored unless it is http(s). */
  private locationUrl(location: string | undefined): URL | null {
    if (!location) return null;
    try {
      const url = new URL(location, this.definition.url);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
    } catch {
      return null;
    }
  }

  private headers(target: URL, extra: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = {
      ...extra,
      accept: 'application/json',
      'user-agent': 'shipguard',
      'idempotency-key': this.key,
    };
    // The token goes only where the definition says: a Location pointing elsewhere does not get it.
    const trusted = [this.definition.url, this.definition.statusUrl ? expandStatusUrl(this.definition.statusUrl, 1, 'k') : null]
      .filter((u): u is string => u !== null)
      .some((u) => new URL(u).origin === target.origin);
    if (this.definition.token && trusted) headers.authorization = `Bearer ${this.definition.token}`;
    return headers;
  }

  private remaining(): number {
    return this.deadline - Date.now();
  }

  /** Delays from poll_interval, growing ×1.5 up to max_poll_interval, each ±20 % so replicas spread out. */
  private backoff(): () => number {
    let next = this.definition.pollInterval;
    return () => {
      const delay = next * (0.8 + Math.random() * 0.4);
      next = Math.min(next * 1.5, this.definition.maxPollInterval);
      return delay;
    };
  }
}

function failed(description: string): DeployResult {
  return { state: 'failed', description };
}

function unknown(whatHappened: string): DeployResult {
  return { state: 'error', description: `outcome unknown: ${whatHappened}; not retried` };
}

function errorResult(description: string): DeployResult {
  return { state: 'error', description };
}

type ParsedStateAnswer = { ok: true; answer: StateAnswer } | { ok: false; problem: string };

/**
 * Body parse, then body shape: a JSON object whose `state` is one of `allowed`. `description` and
 * `log_url` are optional; one of the wrong type (or a log_url that is not http(s)) is left out.
 */
function parseStateAnswer(answer: Extract<HttpExchange, { kind: 'answered' }>, allowed: DeployerState[]): ParsedStateAnswer {
  if (answer.tooLarge) return { ok: false, problem: 'a body too large to be a deployer answer' };
  let value: unknown;
  try {
    value = JSON.parse(answer.body);
  } catch {
    return { ok: false, problem: answer.body.trim() ? 'a body that is not JSON' : 'an empty body' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, problem: 'a body that is not a JSON object' };
  const record = value as Record<string, unknown>;
  if (typeof record.state !== 'string' || !(allowed as string[]).includes(record.state)) {
    return {
      ok: false,
      problem: `a body whose state is ${JSON.stringify(record.state ?? null)?.slice(0, 40)}, not one of ${allowed.join('|')}`,
    };
  }
  const result: StateAnswer = { state: record.state as DeployerState };
  if (typeof record.description === 'string' && record.description.trim()) result.description = record.description;
  if (typeof record.log_url === 'string' && isHttpUrl(record.log_url)) result.logUrl = record.log_url;
  return { ok: true, answer: result };
}

function isHttpUrl(text: string): boolean {
  if (text.length > MAX_LOG_URL) return false;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** `: <why>` from a refusal's body: its JSON description/error/message, or its first line of text. */
function detailOf(answer: Extract<HttpExchange, { kind: 'answered' }>): string {
  let detail = '';
  let value: unknown;
  try {
    value = JSON.parse(answer.body);
  } catch {
    // Text, unless it is an HTML error page (a proxy's), which says nothing useful in one line.
    if (!/^\s*</.test(answer.body)) detail = answer.body.split('\n').find((line) => line.trim()) ?? '';
  }
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const field = [record.description, record.error, record.message].find((v) => typeof v === 'string' && v.trim());
    if (typeof field === 'string') detail = field;
  }
  detail = detail.trim().slice(0, 80);
  return detail ? `: ${detail}` : '';
}

function sleep(ms: number): Promise<void> {
  // The global setTimeout, looked up at each call, so tests can run the clock with fake timers.
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
