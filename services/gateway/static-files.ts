import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyReply } from 'fastify';

/*
 * The web UI's files (a directory of static files, no build server at run time). Hand-rolled rather
 * than @fastify/static: that plugin's 10.x line requires an ES-module-only dependency, which Jest on
 * Node 20 cannot load, and what the UI needs is small: GET/HEAD of files under one root, the right
 * content type, no way out of the root, and index.html for the UI's own routes.
 */

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/**
 * The file under `root` that the URL path names, or undefined when it names none (absent, a
 * directory without index.html, outside the root, or not decodable).
 */
export async function resolveStaticFile(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const base = path.resolve(root);
  let file = path.resolve(base, `.${path.posix.normalize(`/${decoded}`)}`);
  if (file !== base && !file.startsWith(base + path.sep)) return undefined;
  try {
    let info = await stat(file);
    if (info.isDirectory()) {
      file = path.join(file, 'index.html');
      info = await stat(file);
    }
    return info.isFile() ? file : undefined;
  } catch {
    return undefined;
  }
}

/** Sends a file with its content type; HTML is revalidated on every load so a new UI shows at once. */
export async function sendStaticFile(
  reply: FastifyReply,
  file: string,
  method: string,
): Promise<FastifyReply> {
  const info = await stat(file);
  const extension = path.extname(file).toLowerCase();
  void reply
    .header('content-type', CONTENT_TYPES[extension] ?? 'application/octet-stream')
    .header('content-length', String(info.size))
    .header('last-modified', info.mtime.toUTCString())
    .header('cache-control', extension === '.html' ? 'no-cache' : 'public, max-age=300')
    .header('x-content-type-options', 'nosniff');
  if (method === 'HEAD') return reply.send();
  return reply.send(createReadStream(file));
}
