import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { transferables } from './interaction-columns';
import type { InteractionColumns } from './interaction-columns';
import type { EventContent, Model, TrainOptions } from './model';
import { ModelAssembler } from './model/handover';
import type { HandoverPart } from './model/handover';

/*
 * Full retrains on a worker thread, so serving never stalls while a model is built (the issue's
 * rule; scripts/bench/recommendation.ts shows Recommend's p99 during one). One worker per retrain:
 * retrains are minutes apart, and a fresh thread cannot leak state from the previous one.
 */

export interface TrainJob {
  /** Columns, not objects: see interaction-columns.ts for why. */
  interactions: InteractionColumns;
  contents: EventContent[];
  options: Omit<TrainOptions, 'onProgress'>;
}

export type WorkerMessage =
  | { kind: 'progress'; phase: 'bookings' | 'neighbours'; done: number; total: number }
  | { kind: 'head'; part: HandoverPart }
  | { kind: 'part'; json: string }
  | { kind: 'done'; snapshotJson: string; ms: number }
  | { kind: 'error'; message: string };

export interface TrainResult {
  model: Model;
  /** serializeModel(model) as JSON, ready to store. */
  snapshotJson: string;
  /** Time spent training inside the worker. */
  ms: number;
}

/*
 * The worker's entry is TypeScript. Services run under tsx, whose loader a worker does not inherit
 * reliably (and jest runs without it), so the worker registers tsx's CommonJS hook itself first.
 */
const WORKER_FILE = path.join(__dirname, 'train-worker.ts');
const WORKER_BOOT = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register(); require(${JSON.stringify(WORKER_FILE)});`;

/** Parses and places one part per event-loop turn. */
async function assembleInTurns(assembler: ModelAssembler, parts: readonly string[]): Promise<Model> {
  for (const json of parts) {
    await new Promise((resolve) => setImmediate(resolve));
    assembler.add(JSON.parse(json) as HandoverPart);
  }
  return assembler.finish();
}

/** Trains on a new worker thread; `onProgress` hears its progress reports. */
export function trainOnWorker(
  job: TrainJob,
  onProgress?: (phase: string, done: number, total: number) => void,
): Promise<TrainResult> {
  return new Promise<TrainResult>((resolve, reject) => {
    const worker = new Worker(WORKER_BOOT, { eval: true, workerData: null });
    // Node delivers every queued message in one task, so the parts are only collected as they come
    // and put in place one per event-loop turn once all have arrived: serving runs in between.
    const assembler = new ModelAssembler();
    const parts: string[] = [];
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      outcome();
      void worker.terminate();
    };
    worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'progress') onProgress?.(message.phase, message.done, message.total);
      else if (message.kind === 'head') assembler.add(message.part);
      else if (message.kind === 'part') parts.push(message.json);
      else if (message.kind === 'done') {
        const { snapshotJson, ms } = message;
        settle(() =>
          resolve(assembleInTurns(assembler, parts).then((model) => ({ model, snapshotJson, ms }))),
        );
      } else settle(() => reject(new Error(`training failed: ${message.message}`)));
    });
    worker.on('error', (error) => settle(() => reject(error)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the training worker exited (code ${code})`))));
    // The columns' buffers move to the worker: this thread must not use them afterwards.
    worker.postMessage(job, transferables(job.interactions));
  });
}
