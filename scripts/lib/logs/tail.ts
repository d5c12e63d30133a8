import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { sourceOf } from './parse';

/*
 * Reading a log directory: every `*.log` file in it (not below it), each read from where the last
 * read stopped. The first read gets everything; later reads get what was appended, and files that
 * appeared meanwhile from their start. A file that shrank was truncated or replaced: it is read
 * again from its start.
 */

export interface RawLine {
  source: string;
  /** Counts up forever per source (also across truncations), so it always means "read later". */
  seq: number;
  text: string;
}

/** The `*.log` files of a directory, by name. Throws (ENOENT, ENOTDIR) when it is not a directory. */
export async function listLogFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.log'))
    .map((e) => e.name)
    .sort();
}

const CHUNK_BYTES = 1 << 20;

interface FileState {
  offset: number;
  /** Bytes after the last newline: a line still being written. Bytes, not text, so a UTF-8 character cut in two survives. */
  partial: Buffer;
  seq: number;
}

export class DirectoryTail {
  private readonly files = new Map<string, FileState>();

  constructor(readonly dir: string) {}

  /**
   * The lines written since the last read, file by file, in file order. A last line with no newline
   * yet is held back until it is finished, unless `partialLines` is 'include' (a one-off read, where
   * nothing more will come to finish it).
   */
  async read(partialLines: 'hold' | 'include' = 'hold'): Promise<RawLine[]> {
    const perFile: RawLine[][] = [];
    for (const name of await listLogFiles(this.dir)) {
      try {
        perFile.push(await this.readFile(name, partialLines));
      } catch (error) {
        // Deleted between the listing and the read: nothing to show, and it is not an error.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    // Not push(...lines): a spread of a big file's lines overflows the call stack.
    return perFile.flat();
  }

  private async readFile(name: string, partialLines: 'hold' | 'include'): Promise<RawLine[]> {
    const file = path.join(this.dir, name);
    const state = this.files.get(name) ?? { offset: 0, partial: Buffer.alloc(0), seq: 0 };
    this.files.set(name, state);
    const { size } = await stat(file);
    if (size < state.offset) {
      state.offset = 0;
      state.partial = Buffer.alloc(0);
    }
    const source = sourceOf(name);
    const lines: RawLine[] = [];
    const emit = (bytes: Buffer): void => {
      const text = bytes.toString('utf8').replace(/\r$/, '');
      if (text.trim() !== '') lines.push({ source, seq: ++state.seq, text });
    };
    if (size > state.offset) {
      const handle = await open(file, 'r');
      try {
        while (state.offset < size) {
          const chunk = Buffer.alloc(Math.min(CHUNK_BYTES, size - state.offset));
          const { bytesRead } = await handle.read(chunk, 0, chunk.length, state.offset);
          if (bytesRead === 0) break; // truncated while we read: the next read starts over
          state.offset += bytesRead;
          let data = Buffer.concat([state.partial, chunk.subarray(0, bytesRead)]);
          for (let newline = data.indexOf(0x0a); newline >= 0; newline = data.indexOf(0x0a)) {
            emit(data.subarray(0, newline));
            data = data.subarray(newline + 1);
          }
          state.partial = Buffer.from(data); // a copy: do not pin the whole chunk for a few bytes
        }
      } finally {
        await handle.close();
      }
    }
    if (partialLines === 'include' && state.partial.length > 0) {
      emit(state.partial);
      state.partial = Buffer.alloc(0);
    }
    return lines;
  }
}
