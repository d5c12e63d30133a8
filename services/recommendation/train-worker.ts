import { parentPort } from 'node:worker_threads';
import { decodeColumns } from './interaction-columns';
import { serializeModel, train } from './model';
import { handoverParts } from './model/handover';
import type { TrainJob, WorkerMessage } from './trainer';

/*
 * The worker thread's side of a full retrain (trainer.ts starts it): trains, serialises the snapshot
 * to store, and posts the model back in parts (model/handover.ts), so the serving thread puts it
 * together a short step at a time and never builds neighbour lists itself.
 */

const port = parentPort;
if (!port) throw new Error('train-worker.ts runs only as a worker thread (see trainer.ts)');

port.once('message', (job: TrainJob) => {
  const post = (message: WorkerMessage): void => port.postMessage(message);
  try {
    const started = Date.now();
    const model = train(decodeColumns(job.interactions), job.contents, {
      ...job.options,
      onProgress: (phase, done, total) => post({ kind: 'progress', phase, done, total }),
    });
    const ms = Date.now() - started;
    // The head carries typed arrays (copied in bulk); the other parts go as JSON text, which crosses
    // threads as one cheap string copy and is parsed on the serving thread one part per turn.
    for (const part of handoverParts(model))
      post(part.kind === 'head' ? { kind: 'head', part } : { kind: 'part', json: JSON.stringify(part) });
    post({ kind: 'done', snapshotJson: JSON.stringify(serializeModel(model)), ms });
  } catch (error) {
    post({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
  }
});
