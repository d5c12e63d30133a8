import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type {
  Event,
  ImportCatalogRequest,
  ImportProgress,
  ListVenuesResponse,
  Show,
} from '../../proto/gen/marquee/catalog/v1/catalog';
import { fromUpstream, invalid } from './http-errors';
import type { HttpError, RequestContext } from './http-errors';
import { bearerToken } from './request';
import { PAGE_SIZE_DEFAULT } from './schemas/common';
import type { ImportRequest as ImportBody } from './schemas/models';
import * as schema from './schemas/route-schemas';
import type { Upstreams } from './upstreams';
import { eventKindOf, eventView, showView, venueWithHallsView } from './views';

/*
 * The catalog's admin side over HTTP: venues to choose from, creating events and shows, and a
 * catalog import whose progress streams back as it runs. The catalog decides who may write (an admin
 * token); the gateway passes the caller's token on and checks only the shape of the body.
 */

export interface CatalogAdminDeps {
  upstreams: Upstreams;
  /** The gateway's Lamport clock reading, sent on streamed responses (which skip the onSend hook). */
  lamport: () => number;
  /** Aborted when the gateway stops: running imports are cancelled so the server can close. */
  shutdown: AbortSignal;
}

/** The catalog's largest request (grpc-js's default 4 MiB), less room for the message's framing. */
export const MAX_IMPORT_DOCUMENT_BYTES = 4 * 1024 * 1024 - 4096;
/** fastify's body limit on the import route: the document plus its JSON wrapping. */
export const IMPORT_BODY_LIMIT_BYTES = 4 * 1024 * 1024;

async function upstream<T>(call: Promise<T>, context: RequestContext = {}): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw fromUpstream(error, context);
  }
}

export function registerCatalogAdminRoutes(fastify: FastifyInstance, deps: CatalogAdminDeps): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { upstreams } = deps;

  app.get('/api/venues', { schema: schema.listVenues }, async (request) => {
    const { query } = request;
    const answer = await upstream<ListVenuesResponse>(
      upstreams.catalog((c) => c.listVenues.bind(c), {
        city: query.city ?? '',
        pageSize: query.pageSize ?? PAGE_SIZE_DEFAULT,
        pageToken: query.pageToken ?? '',
      }),
      { renames: { page_size: 'pageSize', page_token: 'pageToken' } },
    );
    return { venues: answer.venues.map(venueWithHallsView), nextPageToken: answer.nextPageToken || null };
  });

  app.post('/api/events', { schema: schema.createEvent }, async (request, reply) => {
    const token = bearerToken(request.headers);
    const { body } = request;
    const event = await upstream<Event>(
      upstreams.catalogWrite(
        (c) => c.createEvent.bind(c),
        {
          event: {
            id: '',
            externalId: '',
            title: body.title,
            kind: eventKindOf(body.kind),
            genres: body.genres ?? [],
            // Absent is 0; the catalog checks the range.
            durationMinutes: body.durationMinutes ?? 0,
            description: body.description ?? '',
            cast: body.cast ?? [],
            artists: body.artists ?? [],
            posterUrl: body.posterUrl ?? '',
          },
        },
        { token },
      ),
      { body: 'event' },
    );
    void reply.code(201).header('location', `/api/events/${encodeURIComponent(event.id)}`);
    return eventView(event);
  });

  app.post('/api/events/:eventId/shows', { schema: schema.createShow }, async (request, reply) => {
    const token = bearerToken(request.headers);
    const { body } = request;
    const show = await upstream<Show>(
      upstreams.catalogWrite(
        (c) => c.createShow.bind(c),
        {
          show: {
            id: '',
            externalId: '',
            eventId: request.params.eventId,
            venueId: body.venueId,
            hallId: body.hallId,
            startsAt: body.startsAt,
            currency: body.currency,
            prices: body.prices,
          },
        },
        { token },
      ),
      { body: 'show' },
    );
    void reply.code(201).header('location', `/api/shows/${encodeURIComponent(show.id)}`);
    return showView(show);
  });

  app.post(
    '/api/catalog/imports',
    { schema: schema.importCatalog, bodyLimit: IMPORT_BODY_LIMIT_BYTES },
    async (request, reply) => {
      const token = bearerToken(request.headers);
      const importRequest = importSource(request.body);
      await streamImport(reply, importRequest, token, deps);
    },
  );
}

/** Exactly one of `document` (the catalog document itself, a JSON object) or `sourceUrl`. */
function importSource(body: ImportBody): ImportCatalogRequest {
  const sourceUrl = body.sourceUrl ?? '';
  if ((body.document !== undefined) === (sourceUrl !== ''))
    throw invalid('document', 'give exactly one of document (the catalog JSON) or sourceUrl');
  if (body.document === undefined) return { sourceUrl, documentJson: '' };
  // Its fields are the catalog's to check (docs/IMPORT.md); the schema checked it is an object.
  const documentJson = JSON.stringify(body.document);
  if (Buffer.byteLength(documentJson) > MAX_IMPORT_DOCUMENT_BYTES)
    throw invalid(
      'document',
      `is larger than ${MAX_IMPORT_DOCUMENT_BYTES} bytes; publish it and give sourceUrl instead`,
    );
  return { sourceUrl: '', documentJson };
}

/**
 * The catalog names problems by their place in the document ("movies[3].runtime"); an inline
 * document is the body's `document`, so the client reads "document.movies[3].runtime".
 */
function importRenames(request: ImportCatalogRequest): Record<string, string> {
  const renames: Record<string, string> = { source_url: 'sourceUrl', document_json: 'document' };
  if (request.documentJson !== '')
    for (const key of ['movies', 'theaters', 'showtimes']) renames[key] = `document.${key}`;
  return renames;
}

/** A progress message as the JSON line the client reads. */
function progressLine(progress: ImportProgress): string {
  const { phase, done, total, created, updated, unchanged } = progress;
  return `${JSON.stringify({ phase, done, total, created, updated, unchanged })}\n`;
}

/**
 * Runs the import and answers with its progress as newline-delimited JSON (one object per line, the
 * last one `phase: "done"`). Until the first progress message the answer is an ordinary HTTP error
 * (403 for a non-admin, 400 for a bad document); once lines have been sent the status is 200, so a
 * later failure is sent as a final line `{"error": {code, message, field?}}` instead.
 */
async function streamImport(
  reply: FastifyReply,
  request: ImportCatalogRequest,
  token: string,
  deps: CatalogAdminDeps,
): Promise<void> {
  const abort = new AbortController();
  const onShutdown = (): void => abort.abort();
  deps.shutdown.addEventListener('abort', onShutdown, { once: true });
  // The browser went away (closed the tab, navigated): cancel, so the catalog stops between records.
  const onGone = (): void => {
    if (!reply.raw.writableEnded) abort.abort();
  };
  reply.raw.on('close', onGone);
  let started = false;
  const start = (): void => {
    started = true;
    void reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-store',
      // nginx: pass each line on as it comes instead of buffering the response.
      'x-accel-buffering': 'no',
      'x-lamport': String(deps.lamport()),
    });
  };
  try {
    await deps.upstreams
      .importCatalog(
        request,
        { token },
        (progress) => {
          if (!started) start();
          reply.raw.write(progressLine(progress));
        },
        abort.signal,
      )
      .catch((error: unknown) => {
        throw fromUpstream(error, { renames: importRenames(request) });
      });
    if (!started) start();
    reply.raw.end();
  } catch (error) {
    if (!started) throw error;
    const mapped = error as HttpError;
    const body =
      typeof mapped.body === 'function'
        ? mapped.body()
        : { error: { code: 'INTERNAL', message: 'the import failed; see the gateway log' } };
    if (!reply.raw.writableEnded) reply.raw.end(`${JSON.stringify(body)}\n`);
  } finally {
    deps.shutdown.removeEventListener('abort', onShutdown);
    reply.raw.off('close', onGone);
  }
}
