import { ElectionEnvelope } from '../../proto/gen/marquee/cluster/v1/cluster';
import { InvalidArgumentError } from '../../services/common/errors';
import type { Message } from '../types';
import { fromEnvelope, toEnvelope } from '../wire';

const head = { from: 2, to: 3, term: 7 };
const every: Message[] = [
  { ...head, type: 'election' },
  { ...head, type: 'answer' },
  { ...head, type: 'coordinator', probe: true, lastTerm: 6, lastIndex: 41 },
  {
    ...head,
    type: 'coordinatorAck',
    probe: false,
    accepted: true,
    lastTerm: 6,
    lastIndex: 40,
    priorLeaseTicks: 5,
    commitIndex: 39,
  },
  {
    ...head,
    type: 'coordinatorAck',
    probe: false,
    accepted: true,
    lastTerm: 6,
    lastIndex: 40,
    priorLeaseTicks: 12,
    priorLeaseHolder: 1,
    commitIndex: 0,
  },
  { ...head, type: 'heartbeat', commitIndex: 39, round: 1234 },
  { ...head, type: 'heartbeatAck', round: 1234 },
];

it.each(every.map((m) => [m.type, m] as const))(
  'a %s message survives the wire unchanged',
  (_type, message) => {
    const bytes = ElectionEnvelope.encode(toEnvelope(message)).finish();
    expect(fromEnvelope(ElectionEnvelope.decode(bytes))).toEqual(message);
  },
);

it('an envelope without a message, or without a sender, is refused naming the field', () => {
  expect(() => fromEnvelope({ ...head, message: undefined })).toThrow(InvalidArgumentError);
  expect(() => fromEnvelope({ ...head, message: undefined })).toThrow(/^message:/);
  expect(() => fromEnvelope({ ...head, from: 0, message: { $case: 'answer', value: {} } })).toThrow(/^from:/);
});
