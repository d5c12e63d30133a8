import type { ElectionEnvelope } from '../proto/gen/marquee/cluster/v1/cluster';
import { InvalidArgumentError } from '../services/common/errors';
import type { Message } from './types';

/*
 * Message ↔ ElectionEnvelope. The oneof's cases are named after Message['type'], so the mapping is a
 * field-by-field copy; the decoder still validates, because the envelope comes off the network.
 */

export function toEnvelope(message: Message): ElectionEnvelope {
  const head = { from: message.from, to: message.to, term: message.term };
  switch (message.type) {
    case 'election':
      return { ...head, message: { $case: 'election', value: {} } };
    case 'answer':
      return { ...head, message: { $case: 'answer', value: {} } };
    case 'coordinator':
      return {
        ...head,
        message: {
          $case: 'coordinator',
          value: { probe: message.probe, lastTerm: message.lastTerm, lastIndex: message.lastIndex },
        },
      };
    case 'coordinatorAck':
      return {
        ...head,
        message: {
          $case: 'coordinatorAck',
          value: {
            probe: message.probe,
            accepted: message.accepted,
            lastTerm: message.lastTerm,
            lastIndex: message.lastIndex,
            priorLeaseTicks: message.priorLeaseTicks,
            priorLeaseHolder: message.priorLeaseHolder ?? 0,
            commitIndex: message.commitIndex,
          },
        },
      };
    case 'heartbeat':
      return {
        ...head,
        message: { $case: 'heartbeat', value: { commitIndex: message.commitIndex, round: message.round } },
      };
    case 'heartbeatAck':
      return { ...head, message: { $case: 'heartbeatAck', value: { round: message.round } } };
  }
}

/** Throws InvalidArgumentError naming the field when the envelope cannot be a Message. */
export function fromEnvelope(envelope: ElectionEnvelope): Message {
  const { from, to, term } = envelope;
  // proto3 sends 0 for an unset uint32; node ids start at 1, so 0 means the sender left it out.
  if (!isNodeId(from)) throw new InvalidArgumentError('from', `must be a node id (got ${from})`);
  if (!isNodeId(to)) throw new InvalidArgumentError('to', `must be a node id (got ${to})`);
  if (!isCount(term)) throw new InvalidArgumentError('term', `must be a non-negative integer (got ${term})`);
  const head = { from, to, term };
  const body = envelope.message;
  switch (body?.$case) {
    case 'election':
      return { ...head, type: 'election' };
    case 'answer':
      return { ...head, type: 'answer' };
    case 'coordinator':
      return {
        ...head,
        type: 'coordinator',
        probe: body.value.probe,
        lastTerm: count('coordinator.last_term', body.value.lastTerm),
        lastIndex: count('coordinator.last_index', body.value.lastIndex),
      };
    case 'coordinatorAck':
      return {
        ...head,
        type: 'coordinatorAck',
        probe: body.value.probe,
        accepted: body.value.accepted,
        lastTerm: count('coordinator_ack.last_term', body.value.lastTerm),
        lastIndex: count('coordinator_ack.last_index', body.value.lastIndex),
        priorLeaseTicks: count('coordinator_ack.prior_lease_ticks', body.value.priorLeaseTicks),
        // An older peer leaves it out (0): it then tells nothing, which only costs that peer's hint.
        commitIndex: count('coordinator_ack.commit_index', body.value.commitIndex),
        // proto3's 0 for an unset uint32: the holder is unknown, which is never a node id.
        ...(body.value.priorLeaseHolder === 0
          ? {}
          : { priorLeaseHolder: nodeId('coordinator_ack.prior_lease_holder', body.value.priorLeaseHolder) }),
      };
    case 'heartbeat':
      return {
        ...head,
        type: 'heartbeat',
        commitIndex: count('heartbeat.commit_index', body.value.commitIndex),
        round: count('heartbeat.round', body.value.round),
      };
    case 'heartbeatAck':
      return { ...head, type: 'heartbeatAck', round: count('heartbeat_ack.round', body.value.round) };
    case undefined:
      throw new InvalidArgumentError('message', 'one of the election messages must be set');
  }
}

function isNodeId(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function nodeId(field: string, value: number): number {
  if (!isNodeId(value)) throw new InvalidArgumentError(field, `must be a node id (got ${value})`);
  return value;
}

function count(field: string, value: number): number {
  if (!isCount(value)) throw new InvalidArgumentError(field, `must be a non-negative integer (got ${value})`);
  return value;
}
