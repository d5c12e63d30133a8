import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from '../common/errors';

export interface FetchLimits {
  timeoutMs: number;
  maxBytes: number;
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = { timeoutMs: 15_000, maxBytes: 20 * 1024 * 1024 };

/**
 * Fetches an import document over http(s) with a timeout and a size cap. The cap is enforced while
 * reading, not only from Content-Length, which a server may omit or get wrong.
 */
export async function fetchDocument(
  url: string,
  limits: FetchLimits = DEFAULT_FETCH_LIMITS,
): Promise<string> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: 'follow', headers: { accept: 'application/json' } });
  } catch (error) {
    throw fetchFailure(url, error, limits);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new FailedPreconditionError(`source_url: ${url} answered HTTP ${response.status}`, {
      field: 'source_url',
    });
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > limits.maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(limits);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body ?? []) {
      size += chunk.byteLength;
      if (size > limits.maxBytes) {
        await response.body?.cancel().catch(() => undefined);
        throw tooLarge(limits);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    throw fetchFailure(url, error, limits);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(limits: FetchLimits): InvalidArgumentError {
  const mb = limits.maxBytes / 1024 / 1024;
  const limit = Number.isInteger(mb) ? `${mb} MB` : `${limits.maxBytes} bytes`;
  return new InvalidArgumentError('source_url', `the document is larger than the ${limit} limit`);
}

function fetchFailure(url: string, error: unknown, limits: FetchLimits): UnavailableError {
  const name = (error as { name?: string }).name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new UnavailableError(`source_url: ${url} did not answer within ${limits.timeoutMs} ms`, {
      field: 'source_url',
    });
  }
  const cause =
    (error as { cause?: { message?: string } }).cause?.message ??
    (error instanceof Error ? error.message : String(error));
  return new UnavailableError(`source_url: could not fetch ${url}: ${cause}`, { field: 'source_url' });
}
