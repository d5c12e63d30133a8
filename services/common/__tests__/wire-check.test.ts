import {
  FieldDescriptorProto,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
} from 'ts-proto-descriptors';
import { HoldSeatsRequest } from '../../../proto/gen/marquee/booking/v1/booking';
import { descriptorIndex } from '../reflection';
import { misencodedField } from '../wire-check';

const HOLD = '/marquee.booking.v1.BookingService/HoldSeats';

describe('a field sent with the wrong wire type', () => {
  const fields = descriptorIndex().requestFields(HOLD)!;

  it('is named, with what was sent and what the field is (show_id as a varint)', () => {
    // Field 1 (show_id, a string) as varint 7: a decoder skips it and the handler sees show_id empty.
    const bytes = Buffer.from([0x08, 0x07]);
    expect(HoldSeatsRequest.decode(bytes).showId).toBe('');
    expect(misencodedField(bytes, fields)).toEqual({
      field: 'show_id',
      problem:
        'could not be decoded: field 1 was sent as varint (wire type 0), but it is a string, sent as length-delimited (wire type 2)',
    });
  });

  it('leaves a well-formed request, and fields the message does not know, alone', () => {
    const bytes = Buffer.from(
      HoldSeatsRequest.encode({
        showId: 'shw_1',
        seatIds: ['A-1', 'A-2'],
        ga: [],
        idempotencyKey: 'key-12345',
      }).finish(),
    );
    expect(misencodedField(bytes, fields)).toBeUndefined();
    // Field 99 as a varint: unknown, so skipped, as protobuf wants.
    expect(misencodedField(Buffer.concat([bytes, Buffer.from([0x98, 0x06, 0x01])]), fields)).toBeUndefined();
  });

  it('accepts a repeated number both packed and one per tag, and names a message sent as a number', () => {
    const numbers = [
      FieldDescriptorProto.fromPartial({
        name: 'ids',
        number: 1,
        type: Type.TYPE_INT32,
        label: Label.LABEL_REPEATED,
      }),
      FieldDescriptorProto.fromPartial({
        name: 'card',
        number: 2,
        type: Type.TYPE_MESSAGE,
        typeName: '.x.Card',
      }),
    ];
    expect(misencodedField(Buffer.from([0x0a, 0x02, 0x01, 0x02]), numbers)).toBeUndefined();
    expect(misencodedField(Buffer.from([0x08, 0x01, 0x08, 0x02]), numbers)).toBeUndefined();
    expect(misencodedField(Buffer.from([0x10, 0x01]), numbers)?.problem).toContain('but it is a x.Card');
  });

  it('leaves bytes that are not protobuf at all to the decoder', () => {
    expect(misencodedField(Buffer.from([0x0a, 0x7f, 0x41]), fields)).toBeUndefined();
  });
});
