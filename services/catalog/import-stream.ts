import { status as Code } from '@grpc/grpc-js';
import type { MethodDefinition, ServerWritableStream, handleServerStreamingCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { requireAdmin } from '../common/auth';
import { InvalidArgumentError, toGrpcStatus } from '../common/errors';
import { CatalogServiceService } from '../../proto/gen/marquee/catalog/v1/catalog';
import type { ImportCatalogRequest, ImportProgress } from '../../proto/gen/marquee/catalog/v1/catalog';
import type { ReadCache } from './cache';
import { ImportCancelledError, readImportSource, runImport } from './importer';
import type { CatalogStore } from './store';

export interface ImportStreamDeps {
  store: CatalogStore;
  cache: ReadCache;
  tokenSecret: string;
  logger: Logger;
  fetchDocument: (url: string) => Promise<string>;
  now?: () => number;
}

/** What a request that failed to decode turns into, so the handler can answer INVALID_ARGUMENT. */
class Undecodable {
  constructor(readonly reason: string) {}
}

type Request = ImportCatalogRequest | Undecodable;

/**
 * ImportCatalog, a server-streaming method, which adaptService (unary only) does not cover. It
 * follows the same rules by hand: one outcome per call (end, or one error status derived by
 * toGrpcStatus), bad bytes become INVALID_ARGUMENT, and nothing thrown escapes into grpc-js.
 */
export function importCatalogMethod(deps: ImportStreamDeps): {
  definition: MethodDefinition<Request, ImportProgress>;
  handler: handleServerStreamingCall<Request, ImportProgress>;
} {
  const { logger } = deps;
  const now = deps.now ?? Date.now;
  const method = CatalogServiceService.importCatalog;
  const definition: MethodDefinition<Request, ImportProgress> = {
    ...method,
    requestSerialize: (value) => method.requestSerialize(value as ImportCatalogRequest),
    requestDeserialize: (bytes) => {
      try {
        return method.requestDeserialize(bytes);
      } catch (error) {
        return new Undecodable(error instanceof Error ? error.message : String(error));
      }
    },
  };

  const handler = (call: ServerWritableStream<Request, ImportProgress>): void => {
    const started = process.hrtime.bigint();
    let gone = false;
    call.on('cancelled', () => (gone = true));

    const work = async (): Promise<ImportProgress> => {
      const request = call.request;
      if (request instanceof Undecodable)
        throw new InvalidArgumentError('request', `could not be decoded: ${request.reason}`);
      const principal = requireAdmin(call.metadata, deps.tokenSecret, now());
      const source = readImportSource(request);
      logger.info(
        {
          by: principal.userId,
          source: source.kind === 'url' ? source.url : `${source.text.length} bytes of JSON`,
        },
        'import started',
      );
      return runImport(deps.store, source, {
        fetchDocument: deps.fetchDocument,
        onProgress: (progress) => {
          if (!gone) call.write(progress);
        },
        cancelled: () => gone,
      });
    };

    work()
      .then(
        (result) => {
          logger.info({ ...result, ms: elapsedMs(started) }, 'import finished');
          call.end();
        },
        (error: unknown) => {
          if (gone || error instanceof ImportCancelledError) {
            logger.warn({ ms: elapsedMs(started) }, 'import cancelled by the caller; rolled back');
            return;
          }
          const status = toGrpcStatus(error, logger);
          logger.info(
            {
              method: method.path,
              ms: elapsedMs(started),
              code: Code[status.code ?? Code.UNKNOWN],
              msg2: status.details,
            },
            'call failed',
          );
          // grpc-js turns an 'error' event on a server stream into the call's final status.
          call.emit('error', status);
        },
      )
      // Whatever happened, a failed import rolled back and a finished one must be visible to reads.
      .finally(() => deps.cache.clear())
      .catch((error: unknown) => logger.error({ err: error }, 'import stream failed to finish'));
  };

  return { definition, handler };
}

function elapsedMs(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}
