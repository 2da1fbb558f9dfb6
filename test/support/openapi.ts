/**
 * Checks HTTP requests and responses against GitHub's official OpenAPI description of api.github.com
 * (`@octokit/openapi`), so that tests and the local GitHub stand-in cannot drift from the real API.
 *
 *   githubOperationId(method, url)                         'repos/create-deployment' | null
 *   githubRequestProblems(method, url, body?)              string[] ([] when valid)
 *   assertGitHubRequest(method, url, body?)                throws an Error listing the problems
 *   githubResponseProblems(method, url, status, body)      string[] ([] when valid)
 * and, for the local GitHub stand-in (test/support/github-standin.ts):
 *   githubResponseExample(method, url, status)             GitHub's documented example body, a fresh copy
 *   githubWebhookProblems(event, payload)                  problems with a webhook payload ([] when valid)
 *
 * `url` may be a full URL (`http://127.0.0.1:9999/api/v3/repos/o/r/deployments?environment=x`), a GitHub
 * Enterprise-style path starting with `/api/v3`, or a plain path (`/repos/o/r/deployments`).
 *
 * What a request check covers:
 * - the path matches a documented template for the method (literal segments beat parameters, so
 *   `/repos/o/r/commits/abc/status` is the combined status, not a commit); when no template has as many
 *   segments as the path, the template's last parameter may take the rest (a file path in `contents/{path}`,
 *   `refs/heads/main` in `commits/{ref}`): only parameters named `path` or `ref` may hold slashes;
 * - path parameters match their schemas (`deployment_id` must be an integer, ...);
 * - query parameters: unknown ones and missing required ones are problems, values match their schemas;
 * - the JSON body matches the requestBody schema; unknown top-level body properties are problems too
 *   (GitHub ignores them, but here they are almost always a typo, e.g. `sha` for `ref`).
 * A response check covers: the status is documented for the operation (or it has a `default` response),
 * and a JSON body matches that response's schema when one is documented.
 *
 * The 13 MB description is read by path (never through the package's index, which loads all ten
 * descriptions, ~400 MB) once, on first use; validators are compiled per operation on first use and cached.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type JsonObject = Record<string, unknown>;

interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonObject;
}

interface OperationObject {
  operationId: string;
  parameters?: Array<ParameterObject | { $ref: string }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonObject }> } | { $ref: string };
  responses?: Record<string, { $ref?: string; content?: Record<string, MediaTypeObject> }>;
}

interface MediaTypeObject {
  schema?: JsonObject;
  examples?: Record<string, { $ref?: string; value?: unknown }>;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, OperationObject>>;
  'x-webhooks': Record<string, { post?: { requestBody?: { content?: Record<string, { schema?: JsonObject }> } } }>;
  components: Record<string, Record<string, unknown>>;
}

/** One documented (method, path template) pair, ready for matching. */
interface Route {
  segments: RegExp[];
  /** Per segment: 0 literal, 1 literal with parameters inside, 2 parameter only. Lower wins. */
  rank: number[];
  parameterNames: string[][];
  operation: OperationObject;
}

interface Match {
  route: Route;
  pathParams: Record<string, string>;
  query: URLSearchParams;
}

/** Validators compiled for one operation, on first use. */
interface CompiledOperation {
  pathParams: ValidateFunction;
  queryParams: ValidateFunction;
  queryNames: Set<string>;
  body: { required: boolean; validate: ValidateFunction | null; knownProperties: Set<string> | null } | null;
  responses: Map<string, ValidateFunction | null>;
}

const COMPONENTS_ID = 'github-components';
/** Path parameters whose values may contain slashes: file paths and git refs (`refs/heads/main`). */
const SLASHED_PARAMETERS = new Set(['path', 'ref']);
const HTTP_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options']);

let loaded: { document: OpenApiDocument; routes: Map<string, Route[]>; bodyAjv: Ajv; paramAjv: Ajv } | null = null;
const compiledOperations = new Map<Route, CompiledOperation>();
const compiledWebhooks = new Map<string, ValidateFunction>();

function descriptionPath(): string {
  // Resolve the package folder through Node's resolution, then the one file we need inside it.
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@octokit/openapi/package.json')), 'generated', 'api.github.com.json');
}

/**
 * Turns OpenAPI 3.0 schema text into JSON Schema that Ajv compiles: `#/components/...` references point
 * into the shared components schema, and `nullable: true` without a `type` (`{nullable, allOf: [$ref]}`)
 * or with an `enum` becomes `anyOf: [null, the schema]` (Ajv handles only the plain typed case itself).
 */
function toAjvSchema(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toAjvSchema);
  if (value === null || typeof value !== 'object') return value;
  const result: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) {
    result[key] =
      key === '$ref' && typeof inner === 'string' && inner.startsWith('#/components/')
        ? `${COMPONENTS_ID}#/${inner.slice('#/components/'.length)}`
        : toAjvSchema(inner);
  }
  if (result.nullable === true && (result.type === undefined || result.enum !== undefined)) {
    const { nullable: _nullable, ...rest } = result;
    return { anyOf: [{ type: 'null' }, rest] };
  }
  return result;
}

function newAjv(components: unknown, coerceTypes: false | 'array'): Ajv {
  // validateSchema: false: the description uses `examples` as an object in places, which JSON Schema's
  // meta-schema rejects; the keyword is documentation only.
  const ajv = new Ajv({ strict: false, allErrors: true, coerceTypes, logger: false, validateSchema: false });
  (addFormatsModule as unknown as (ajv: Ajv) => Ajv)(ajv);
  // Formats GitHub uses that ajv-formats does not know: documentation only.
  for (const name of ['repo.nwo', 'timestamp', 'int32', 'int64', 'double', 'binary', 'uri-template']) {
    if (!ajv.formats[name]) ajv.addFormat(name, true);
  }
  // The description's own default for a URI field is '' (deployment statuses' `log_url`, `environment_url`),
  // and that is what GitHub sends when the field was not set: accept it.
  const uri = ajv.formats.uri as { validate: (text: string) => boolean } | ((text: string) => boolean);
  const validateUri = typeof uri === 'function' ? uri : uri.validate;
  ajv.addFormat('uri', (text: string) => text === '' || validateUri(text));
  ajv.addSchema({ $id: COMPONENTS_ID, schemas: (components as JsonObject).schemas });
  return ajv;
}

function compileTemplate(template: string, operation: OperationObject): Route {
  const segments: RegExp[] = [];
  const rank: number[] = [];
  const parameterNames: string[][] = [];
  for (const segment of template.split('/').slice(1)) {
    const names: string[] = [];
    const pattern = segment.replace(/\{(\w+)\}|[^{]+/g, (part, name: string | undefined) => {
      if (name === undefined) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(name);
      return '([^/]+?)';
    });
    segments.push(new RegExp(`^${pattern}$`));
    parameterNames.push(names);
    rank.push(names.length === 0 ? 0 : segment === `{${names[0]}}` ? 2 : 1);
  }
  return { segments, rank, parameterNames, operation };
}

function load(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  const document = JSON.parse(readFileSync(descriptionPath(), 'utf8')) as OpenApiDocument;
  const routes = new Map<string, Route[]>();
  for (const [template, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!HTTP_METHODS.has(method)) continue;
      const upper = method.toUpperCase();
      const list = routes.get(upper) ?? [];
      list.push(compileTemplate(template, operation));
      routes.set(upper, list);
    }
  }
  const components = toAjvSchema(document.components);
  loaded = { document, routes, bodyAjv: newAjv(components, false), paramAjv: newAjv(components, 'array') };
  return loaded;
}

/** Splits a full URL, an `/api/v3` path or a plain path into decoded-later segments and the query. */
function splitUrl(url: string): { segments: string[]; query: URLSearchParams } {
  const parsed = new URL(url, 'http://github.invalid');
  let pathname = parsed.pathname;
  if (pathname === '/api/v3' || pathname.startsWith('/api/v3/')) pathname = pathname.slice('/api/v3'.length);
  const segments = pathname.split('/').slice(1);
  if (segments.length > 1 && segments.at(-1) === '') segments.pop();
  return { segments, query: parsed.searchParams };
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function matchRoute(route: Route, segments: string[], greedyLast: boolean): Record<string, string> | null {
  const count = route.segments.length;
  if (greedyLast) {
    const lastName = route.parameterNames[count - 1]![0];
    const lastIsSlashedParameter = route.rank[count - 1] === 2 && SLASHED_PARAMETERS.has(lastName!);
    if (segments.length <= count || !lastIsSlashedParameter) return null;
  } else if (segments.length !== count) {
    return null;
  }
  const params: Record<string, string> = {};
  for (let index = 0; index < count; index += 1) {
    const isLast = index === count - 1;
    // The greedy last segment is a parameter alone (rank 2): it takes the rest of the path, slashes included.
    const rest = segments.slice(index).join('/');
    const found = greedyLast && isLast ? [rest, rest] : route.segments[index]!.exec(segments[index]!);
    if (!found) return null;
    route.parameterNames[index]!.forEach((name, position) => {
      params[name] = decode(found[position + 1]!);
    });
  }
  return params;
}

function compareRank(a: number[], b: number[]): number {
  for (let index = 0; index < Math.min(a.length, b.length); index += 1) {
    if (a[index] !== b[index]) return a[index]! - b[index]!;
  }
  // Only greedy matches differ in length: the longer template leaves less to its last parameter.
  return b.length - a.length;
}

function findMatch(method: string, url: string): Match | null {
  const { routes } = load();
  const { segments, query } = splitUrl(url);
  const candidates = routes.get(method.toUpperCase()) ?? [];
  for (const greedyLast of [false, true]) {
    let best: Match | null = null;
    for (const route of candidates) {
      const pathParams = matchRoute(route, segments, greedyLast);
      if (pathParams && (!best || compareRank(route.rank, best.route.rank) < 0)) best = { route, pathParams, query };
    }
    if (best) return best;
  }
  return null;
}

function resolveComponentRef<T>(value: T | { $ref: string }): T {
  const { document } = load();
  if (value && typeof value === 'object' && '$ref' in value && typeof value.$ref === 'string') {
    const [, section, name] = value.$ref.split('/').slice(1);
    return resolveComponentRef(document.components[section!]![name!] as T | { $ref: string });
  }
  return value as T;
}

function jsonSchemaOf(content: Record<string, { schema?: JsonObject }> | undefined): JsonObject | null {
  if (!content) return null;
  const entry = Object.entries(content).find(([type]) => type === 'application/json' || type.endsWith('+json'));
  return entry?.[1].schema ?? null;
}

function objectSchemaOf(parameters: ParameterObject[]): JsonObject {
  return {
    type: 'object',
    properties: Object.fromEntries(parameters.map((p) => [p.name, toAjvSchema(p.schema ?? {})])),
    required: parameters.filter((p) => p.required).map((p) => p.name),
  };
}

function compileOperation(route: Route): CompiledOperation {
  const cached = compiledOperations.get(route);
  if (cached) return cached;
  const { bodyAjv, paramAjv } = load();
  const operation = route.operation;
  const parameters = (operation.parameters ?? []).map((p) => resolveComponentRef<ParameterObject>(p));
  const queryParameters = parameters.filter((p) => p.in === 'query');

  let body: CompiledOperation['body'] = null;
  if (operation.requestBody) {
    const requestBody = resolveComponentRef(operation.requestBody) as {
      required?: boolean;
      content?: Record<string, { schema?: JsonObject }>;
    };
    const schema = jsonSchemaOf(requestBody.content);
    const resolvedSchema = schema ? resolveComponentRef<JsonObject>(schema as JsonObject) : null;
    const properties = resolvedSchema?.properties as JsonObject | undefined;
    const closed = properties !== undefined && resolvedSchema?.additionalProperties === undefined;
    body = {
      required: requestBody.required === true,
      validate: schema ? bodyAjv.compile(toAjvSchema(schema) as JsonObject) : null,
      knownProperties: closed ? new Set(Object.keys(properties)) : null,
    };
  }

  const compiled: CompiledOperation = {
    pathParams: paramAjv.compile(objectSchemaOf(parameters.filter((p) => p.in === 'path'))),
    queryParams: paramAjv.compile(objectSchemaOf(queryParameters)),
    queryNames: new Set(queryParameters.map((p) => p.name)),
    body,
    responses: new Map(),
  };
  compiledOperations.set(route, compiled);
  return compiled;
}

function describeErrors(where: string, errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((error) => {
    const at = `${where}${error.instancePath}`;
    if (error.keyword === 'additionalProperties') {
      return `${at}: unknown property "${String(error.params.additionalProperty)}"`;
    }
    if (error.keyword === 'required') {
      return `${at}: missing required property "${String(error.params.missingProperty)}"`;
    }
    if (error.keyword === 'enum') {
      return `${at}: ${error.message ?? 'invalid'} (${(error.params.allowedValues as unknown[]).join(', ')})`;
    }
    return `${at}: ${error.message ?? 'invalid'}`;
  });
}

/** Query parameters as an object: repeated names become arrays (so array schemas can check them). */
function queryObject(query: URLSearchParams): JsonObject {
  const result: JsonObject = {};
  for (const name of new Set(query.keys())) {
    const values = query.getAll(name);
    result[name] = values.length === 1 ? values[0] : values;
  }
  return result;
}

function noSuchRoute(method: string, url: string): string {
  return `${method.toUpperCase()} /${splitUrl(url).segments.join('/')}: no such route in GitHub's REST API`;
}

/** The operation matched, e.g. 'repos/create-deployment', or null. */
export function githubOperationId(method: string, url: string): string | null {
  return findMatch(method, url)?.route.operation.operationId ?? null;
}

/** Problems with a request against GitHub's OpenAPI description (api.github.com); [] when valid. */
export function githubRequestProblems(method: string, url: string, body?: unknown): string[] {
  const match = findMatch(method, url);
  if (!match) return [noSuchRoute(method, url)];
  const compiled = compileOperation(match.route);
  const problems: string[] = [];

  // Validation with type coercion mutates its input: give it copies.
  if (!compiled.pathParams({ ...match.pathParams })) {
    const errors = describeErrors('path parameter', compiled.pathParams.errors);
    problems.push(...errors.map((problem) => problem.replace('parameter/', 'parameter ')));
  }
  const query = queryObject(match.query);
  for (const name of Object.keys(query)) {
    if (!compiled.queryNames.has(name)) problems.push(`query: unknown parameter "${name}"`);
  }
  if (!compiled.queryParams(query)) {
    const errors = describeErrors('query', compiled.queryParams.errors);
    problems.push(...errors.map((problem) => problem.replace('query/', 'query parameter ')));
  }

  const hasBody = body !== undefined && body !== null && body !== '';
  if (!compiled.body) {
    const emptyObject = typeof body === 'object' && body !== null && Object.keys(body).length === 0;
    if (hasBody && !emptyObject) problems.push('body: this operation takes no request body');
  } else if (!hasBody) {
    if (compiled.body.required) problems.push('body: required');
  } else {
    if (compiled.body.validate && !compiled.body.validate(body)) {
      problems.push(...describeErrors('body', compiled.body.validate.errors));
    }
    const known = compiled.body.knownProperties;
    if (known && typeof body === 'object' && !Array.isArray(body)) {
      for (const name of Object.keys(body as JsonObject)) {
        if (!known.has(name)) problems.push(`body: unknown property "${name}"`);
      }
    }
  }
  return problems.map((problem) => `${match.route.operation.operationId}: ${problem}`);
}

/** Throws an Error listing the problems; tests call it on every request the code sends. */
export function assertGitHubRequest(method: string, url: string, body?: unknown): void {
  const problems = githubRequestProblems(method, url, body);
  if (problems.length > 0) {
    throw new Error(`request ${method.toUpperCase()} ${url} does not match GitHub's API:\n  ${problems.join('\n  ')}`);
  }
}

/** Problems with a response (status must be documented for the operation; body must match its schema). */
export function githubResponseProblems(method: string, url: string, status: number, body: unknown): string[] {
  const match = findMatch(method, url);
  if (!match) return [noSuchRoute(method, url)];
  const operation = match.route.operation;
  const responses = operation.responses ?? {};
  const key = String(status) in responses ? String(status) : 'default' in responses ? 'default' : null;
  if (key === null) {
    const documented = Object.keys(responses).join(', ');
    return [`${operation.operationId}: status ${status} is not documented (documented: ${documented})`];
  }
  const compiled = compileOperation(match.route);
  if (!compiled.responses.has(key)) {
    const response = resolveComponentRef(responses[key]!) as { content?: Record<string, { schema?: JsonObject }> };
    const schema = jsonSchemaOf(response.content);
    compiled.responses.set(key, schema ? load().bodyAjv.compile(toAjvSchema(schema) as JsonObject) : null);
  }
  const validate = compiled.responses.get(key);
  if (!validate || validate(body)) return [];
  return describeErrors(`response ${status} body`, validate.errors).map((p) => `${operation.operationId}: ${p}`);
}

/**
 * GitHub's documented example body for a response (the first example of its JSON content), as a fresh
 * deep copy; null when the operation or the status has none. The stand-in builds its answers on these.
 */
export function githubResponseExample(method: string, url: string, status: number): unknown {
  const match = findMatch(method, url);
  const response = match?.route.operation.responses?.[String(status)];
  if (!response) return null;
  const content = (resolveComponentRef(response) as { content?: Record<string, MediaTypeObject> }).content;
  const first = Object.values(content?.['application/json']?.examples ?? {})[0];
  if (!first) return null;
  return structuredClone(resolveComponentRef<{ value?: unknown }>(first as { value?: unknown }).value ?? null);
}

/** Problems with a webhook payload against the description's `x-webhooks` schema for `event` + its action. */
export function githubWebhookProblems(event: string, payload: unknown): string[] {
  const action = (payload as { action?: unknown } | null)?.action;
  const key = [event, action]
    .filter((part) => typeof part === 'string')
    .join('-')
    .replaceAll('_', '-');
  let validate = compiledWebhooks.get(key);
  if (!validate) {
    const schema = jsonSchemaOf(load().document['x-webhooks'][key]?.post?.requestBody?.content);
    if (!schema) return [`webhook ${key}: not described in GitHub's OpenAPI description`];
    validate = load().bodyAjv.compile(toAjvSchema(schema) as JsonObject);
    compiledWebhooks.set(key, validate);
  }
  return validate(payload) ? [] : describeErrors(`webhook ${key} payload`, validate.errors);
}
