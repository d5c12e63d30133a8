import { randomUUID } from 'node:crypto';

/** A new opaque id with a readable prefix, e.g. `bk_3f2a...`. */
export function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '')}`;
}
