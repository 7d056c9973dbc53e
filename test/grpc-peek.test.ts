// peekModel: the model name, version and id of a ModelInferRequest read without decoding it (the gRPC
// front resolves the model with it before the one full decode). It must agree with the decoder on
// every message, duplicates included, and refuse what the decoder refuses as malformed.
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeModelInferRequest, peekModel } from '../src/grpc/infer-codec.js';
import { ProtocolError } from '../src/protocol/errors.js';

function build(fill: (w: protobuf.Writer) => void): Buffer {
  const w = protobuf.Writer.create();
  fill(w);
  return Buffer.from(w.finish());
}

const input = (w: protobuf.Writer) => {
  w.uint32((5 << 3) | 2).fork();
  w.uint32((1 << 3) | 2).string('x');
  w.uint32((2 << 3) | 2).string('FP32');
  w.uint32((3 << 3) | 2).fork().int64(1).int64(2).ldelim();
  w.ldelim();
};
const raw = (w: protobuf.Writer) => w.uint32((7 << 3) | 2).bytes(Buffer.alloc(8, 1));

describe('peekModel', () => {
  it('reads name, version and id wherever they sit, and agrees with the full decode', () => {
    const cases: Buffer[] = [
      build((w) => {
        w.uint32((1 << 3) | 2).string('m');
        w.uint32((2 << 3) | 2).string('3');
        w.uint32((3 << 3) | 2).string('req-1');
        input(w);
        raw(w);
      }),
      // Tensors first, name last; an unknown varint and fixed64 field on the way.
      build((w) => {
        input(w);
        raw(w);
        w.uint32((99 << 3) | 0).uint64(12345);
        w.uint32((98 << 3) | 1).fixed64(7);
        w.uint32((3 << 3) | 2).string('late');
        w.uint32((1 << 3) | 2).string('m2');
      }),
      // A repeated singular field: the last one wins, in both readers.
      build((w) => {
        w.uint32((1 << 3) | 2).string('first');
        input(w);
        raw(w);
        w.uint32((1 << 3) | 2).string('second');
        w.uint32((2 << 3) | 2).string('1');
        w.uint32((2 << 3) | 2).string('');
      }),
      Buffer.alloc(0),
    ];
    const expected = [
      { modelName: 'm', modelVersion: '3', id: 'req-1' },
      { modelName: 'm2', modelVersion: '', id: 'late' },
      { modelName: 'second', modelVersion: '', id: '' },
      { modelName: '', modelVersion: '', id: '' },
    ];
    cases.forEach((buf, i) => {
      const peeked = peekModel(buf);
      expect(peeked).toEqual(expected[i]);
      const full = decodeModelInferRequest(buf);
      expect({ modelName: full.modelName, modelVersion: full.modelVersion, id: full.decoded.id ?? '' }).toEqual(peeked);
    });
  });

  it("refuses malformed messages with the decoder's errors", () => {
    const bad = [
      Buffer.from([0x0a, 0x05, 0x61]), // name longer than the message
      Buffer.from([0x80]), // truncated tag
      Buffer.from([0x00, 0x00]), // field number 0
      Buffer.from([0x2a, 0x10]), // an input running past the end
    ];
    for (const buf of bad) {
      let peekError: unknown;
      try {
        peekModel(buf);
      } catch (err) {
        peekError = err;
      }
      expect(peekError, buf.toString('hex')).toBeInstanceOf(ProtocolError);
      expect(() => decodeModelInferRequest(buf)).toThrow((peekError as Error).message);
    }
  });
});
