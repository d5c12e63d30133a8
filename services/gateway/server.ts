import { existsSync, statSync } from 'node:fs';
import { status as Code } from '@grpc/grpc-js';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { isGrpcError } from '../common/errors';
import { LamportClock } from '../common/lamport';
import { LATENCY_BUCKETS_SECONDS, Metrics, startMetricsServer } from '../common/metrics';
import type { MetricsServer } from '../common/metrics';
import { API_DOCS_PREFIX, registerApiDocs } from './api-docs';
import { ClusterFeed } from './cluster-feed';
import type { GatewayConfig } from './config';
import { HttpError, fromUpstream, invalid } from './http-errors';
import type { ErrorBody } from './http-errors';
import { IMPORT_BODY_LIMIT_BYTES, registerCatalogAdminRoutes } from './catalog-admin-routes';
import { MetricsSummary, registerMetricsSummaryRoute } from './metrics-summary';
import { registerRecommendationRoutes } from './recommendation-routes';
import { bearerToken } from './request';
import { registerRoutes } from './routes';
import { registerTracing } from './tracing-hooks';
import { ShowFeeds } from './show-feed';
import { HEARTBEAT_MS } from './sse';
import { schemaValidatorCompiler } from './schema-validators';
import { resolveStaticFile, sendStaticFile } from './static-files';
import { Upstreams } from './upstreams';
import type { SseStream } from './sse';
import { validationError } from './validation-errors';
import type { RequestPart } from './validation-errors';
import { availabilityView } from './views';

export interface GatewayOptions {
  config: GatewayConfig;
  logger: Logger;
  /** The process's Lamport clock (a fresh one unless given). */
  clock?: LamportClock;
  /** How often a watched show's seat map is read (default 500 ms). */
  showPollMs?: number;
  /** How often each booking node's Status is read while someone watches the cluster (default 250 ms). */
  clusterPollMs?: number;
  /** Heartbeat comment interval on event streams (default 15 s). */
  heartbeatMs?: number;
  /** GET /api/metrics/summary scrapes again only after this long (default 1000 ms). */
  metricsSummaryMinIntervalMs?: number;
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly upstreams: Upstreams;
  readonly showFeeds: ShowFeeds;
  readonly clusterFeed: ClusterFeed;
  readonly metrics: Metrics;
  /**
   * Every route of the API (method, url), HEAD and the API page's own (hidden) routes left out: the
   * OpenAPI test checks each is documented.
   */
  readonly routes: readonly { method: string; url: string }[];
  /** Starts listening on config.host:config.port (0 picks a free port); resolves to the port. */
  listen(): Promise<number>;
  /** The bound /metrics port once listening, when config.metrics asked for the endpoint. */
  metricsPort(): number | undefined;
  /** Ends event streams and pollers, stops accepting requests, lets running ones finish, closes clients. */
  stop(): Promise<void>;
}

const BODY_LIMIT_BYTES = 64 * 1024;
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Builds the gateway (routes, error mapping, feeds, static files); nothing listens until listen(). */
export async function buildGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, logger } = options;
  const clock = options.clock ?? new LamportClock();
  const upstreams = new Upstreams(config, clock, logger.child({ component: 'upstreams' }));
  const stamp = (): { at: string; lamport: number } => ({
    at: new Date().toISOString(),
    lamport: clock.now(),
  });
  const showFeeds = new ShowFeeds({
    read: async (showId, token, node) =>
      availabilityView(
        await upstreams.bookingAt(node, (n) => n.booking.getAvailability.bind(n.booking), { showId }, 2000, {
          token,
        }),
      ),
    nodes: upstreams.nodeCount,
    stamp,
    logger: logger.child({ component: 'show-feed' }),
    intervalMs: options.showPollMs ?? 500,
  });
  const clusterFeed = new ClusterFeed({
    nodeIds: upstreams.peerIds(),
    status: (nodeId) => upstreams.nodeStatus(nodeId),
    stamp,
    logger: logger.child({ component: 'cluster-feed' }),
    intervalMs: options.clusterPollMs ?? 250,
  });

  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps FastifyInstance's default type parameters.
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    // One line per request is written by the onResponse hook below (without query strings).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
  });
  // First: every later hook and route runs inside the request's span.
  registerTracing(app);
  app.setValidatorCompiler(schemaValidatorCompiler());
  // Handlers build their bodies from typed views (views.ts), checked against the response schemas
  // by tsc; sent as JSON.stringify writes them, so a field the schema lacks is never silently dropped.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // Before any route: the document generator collects each route's schema as it is registered.
  await registerApiDocs(app);
  // A query parameter given empty (`?kind=`) counts as absent, as a form sends an unfilled field.
  app.addHook('preValidation', async (request) => {
    const query = request.query as Record<string, unknown> | undefined;
    if (query !== null && typeof query === 'object')
      for (const [name, value] of Object.entries(query)) if (value === '') delete query[name];
  });
  // A route that needs a token says so first: a caller without one hears 401, not what else is wrong
  // with the request (400). Which routes: those whose schema names the bearer scheme.
  app.addHook('preValidation', async (request) => {
    const schema = request.routeOptions.schema as
      { security?: unknown; querystring?: { properties?: Record<string, unknown> } } | undefined;
    if (schema?.security === undefined) return;
    const queryToken = schema.querystring?.properties?.access_token !== undefined;
    bearerToken(request.headers, queryToken ? (request.query as Record<string, unknown>) : undefined);
  });

  // An empty body is "no body" (DELETE and cancel are often sent with a JSON content type and
  // nothing in it); anything else must parse, or the client is told so.
  const json = app.getDefaultJsonParser('error', 'error');
  // JSON only: a text/plain body (fetch's default for a string) is refused with 415, not half-parsed.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    void json(request, text, (error: Error | null, value?: unknown) => {
      if (error) done(invalid('body', `is not valid JSON: ${jsonProblem(text, error)}`), undefined);
      else done(null, value);
    });
  });

  const metrics = new Metrics({ service: 'gateway' });
  /** Requests answered through fastify (onSend), as opposed to streams that took the response over. */
  const answered = new WeakSet<FastifyRequest>();
  const httpRequests = metrics.counter({
    name: 'marquee_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
  });
  const httpDuration = metrics.histogram({
    name: 'marquee_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route pattern and method (streamed responses left out)',
    labelNames: ['route', 'method'],
    buckets: LATENCY_BUCKETS_SECONDS,
  });
  // Lamport: every response says how far the gateway's clock has come (the latest stamp it has seen
  // or issued). A browser's own X-Lamport is NOT taken in: an untrusted client could otherwise push
  // the clock of every service it reaches towards exhaustion, and its calls' causal order already
  // runs through the services it calls.
  app.addHook('onSend', async (request, reply, payload) => {
    answered.add(request);
    void reply.header('x-lamport', String(clock.now()));
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    // Route patterns only (/api/shows/:showId), never raw URLs: ids would make a series per id.
    const route = request.routeOptions.url ?? (reply.statusCode === 404 ? '(no route)' : '(static files)');
    const method = KNOWN_METHODS.has(request.method) ? request.method : 'OTHER';
    httpRequests.inc({ route, method, status: String(reply.statusCode) });
    // Streams (events, import progress) take the response over and skip onSend: how long one stays
    // open is not a latency.
    if (answered.has(request)) httpDuration.observe({ route, method }, reply.elapsedTime / 1000);
    // The path only: SSE routes may carry a token in the query string.
    const url = request.url.split('?')[0];
    const ms = Math.round(reply.elapsedTime);
    const line = { method: request.method, url, status: reply.statusCode, ms };
    if (reply.statusCode >= 500) logger.warn(line, 'request failed');
    else logger.debug(line, 'request');
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = errorReply(error);
    if (status >= 500 && !(error instanceof HttpError) && !isGrpcError(error))
      logger.error(
        { err: error, method: request.method, url: request.url.split('?')[0] },
        'unexpected error',
      );
    void reply.code(status).send(body);
  });

  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (route) => {
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true;
    if (hidden || route.url.startsWith(API_DOCS_PREFIX)) return;
    for (const method of [route.method].flat())
      if (method !== 'HEAD') routes.push({ method, url: route.url });
  });

  const staticDir = config.staticDir;
  const serveStatic = existsSync(staticDir) && statSync(staticDir).isDirectory();
  app.setNotFoundHandler(async (request, reply) => {
    const url = request.url.split('?')[0] ?? '/';
    if (serveStatic && (request.method === 'GET' || request.method === 'HEAD') && !url.startsWith('/api/')) {
      // A file of the web UI, else one of the UI's own routes (/events/42): its index.html takes it from there.
      const file =
        (await resolveStaticFile(staticDir, url)) ?? (await resolveStaticFile(staticDir, '/index.html'));
      if (file !== undefined) return sendStaticFile(reply, file, request.method);
    }
    const error = new HttpError(
      Code.NOT_FOUND,
      `no route ${request.method} ${url} (see GET /api/openapi.json)`,
    );
    return reply.code(404).send(error.body());
  });

  const streams = new Set<SseStream>();
  const shutdown = new AbortController();
  registerCatalogAdminRoutes(app, { upstreams, lamport: () => clock.now(), shutdown: shutdown.signal });
  registerRecommendationRoutes(app, upstreams);
  metrics.counterOf(
    'marquee_gateway_upstream_retries_total',
    'Upstream calls that failed with a retryable code and were tried again',
    () => upstreams.retries,
  );
  metrics.gaugeOf('marquee_gateway_event_streams', 'Open server-sent event streams', () => streams.size);
  const summary = new MetricsSummary({
    targets: config.metricsTargets,
    timeoutMs: Math.min(config.deadlineMs, 2000),
    logger: logger.child({ component: 'metrics-summary' }),
    ...(options.metricsSummaryMinIntervalMs === undefined
      ? {}
      : { minIntervalMs: options.metricsSummaryMinIntervalMs }),
  });
  registerMetricsSummaryRoute(app, summary, stamp);
  registerRoutes(app, {
    upstreams,
    streams,
    showFeeds,
    clusterFeed,
    stamp,
    openapi: () => app.swagger(),
    heartbeatMs: options.heartbeatMs ?? HEARTBEAT_MS,
    startedAt: Date.now(),
  });

  let metricsServer: MetricsServer | undefined;
  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    showFeeds.stop();
    clusterFeed.stop();
    // Open event streams would keep the server from closing: end them first (browsers reconnect
    // to another gateway instance through nginx).
    for (const stream of [...streams]) stream.close();
    // Running imports are cancelled: the catalog writes an import in one transaction, so a cancelled
    // one leaves nothing behind and can simply be run again.
    shutdown.abort();
    await app.close();
    upstreams.close();
    await metricsServer?.stop();
    logger.info('gateway stopped');
  };

  return {
    app,
    upstreams,
    showFeeds,
    clusterFeed,
    metrics,
    routes,
    metricsPort: () => metricsServer?.port,
    listen: async () => {
      await app.listen({ host: config.host, port: config.port });
      if (config.metrics && !metricsServer)
        metricsServer = await startMetricsServer({ endpoint: config.metrics, metrics, logger });
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : config.port;
      logger.info(
        { host: config.host, port, staticDir: serveStatic ? staticDir : null },
        'gateway listening',
      );
      return port;
    },
    stop: () => (stopped ??= stop()),
  };
}

/** Why a body did not parse, in JSON.parse's words (fastify's parser also refuses __proto__ keys). */
function jsonProblem(text: string, error: Error): string {
  try {
    JSON.parse(text);
  } catch (syntax) {
    return syntax instanceof Error ? syntax.message : String(syntax);
  }
  return error.message;
}

/** Anything thrown while handling a request, as the status and body the client gets. */
export function errorReply(error: unknown): { status: number; body: ErrorBody } {
  const framework = error as Partial<FastifyError>;
  if (framework.validation !== undefined) {
    const invalid = validationError(
      (framework.validationContext ?? 'body') as RequestPart,
      framework.validation,
    );
    return { status: invalid.status, body: invalid.body() };
  }
  const mapped = fromUpstream(error);
  if (mapped instanceof HttpError) return { status: mapped.status, body: mapped.body() };
  const status = framework.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // fastify's own refusals: unsupported media type (415), body too large (413), malformed request.
    const code = status === 404 ? 'NOT_FOUND' : status === 413 ? 'RESOURCE_EXHAUSTED' : 'INVALID_ARGUMENT';
    const field = framework.code?.startsWith('FST_ERR_CTP') ? 'body' : undefined;
    const message =
      framework.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? `body: send JSON with Content-Type: application/json (${framework.message ?? 'unsupported media type'})`
        : framework.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? `body: larger than this route takes (${BODY_LIMIT_BYTES} bytes; a catalog import ${IMPORT_BODY_LIMIT_BYTES})`
          : (framework.message ?? 'bad request');
    return { status, body: { error: { code, message, ...(field ? { field } : {}) } } };
  }
  return {
    status: 500,
    body: { error: { code: 'INTERNAL', message: 'internal error; see the gateway log' } },
  };
}
