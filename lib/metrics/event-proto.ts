/**
 * The subset of TensorFlow's `Event` protobuf (tensorflow/core/util/event.proto, framework/summary.proto) that
 * scalar curves need, defined inline for protobufjs: file_version, scalar summaries (simple_value) and SessionLog.
 */
import protobuf from 'protobufjs';

const root = protobuf.Root.fromJSON({
  nested: {
    tensorflow: {
      nested: {
        Event: {
          oneofs: { what: { oneof: ['fileVersion', 'summary', 'sessionLog'] } },
          fields: {
            wallTime: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            fileVersion: { type: 'string', id: 3 },
            summary: { type: 'Summary', id: 5 },
            sessionLog: { type: 'SessionLog', id: 7 },
          },
        },
        Summary: {
          fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
          nested: {
            Value: {
              oneofs: { value: { oneof: ['simpleValue'] } },
              fields: { tag: { type: 'string', id: 1 }, simpleValue: { type: 'float', id: 2 } },
            },
          },
        },
        SessionLog: {
          fields: { status: { type: 'SessionStatus', id: 1 } },
          nested: { SessionStatus: { values: { STATUS_UNSPECIFIED: 0, START: 1, STOP: 2, CHECKPOINT: 3 } } },
        },
      },
    },
  },
});

const Event = root.lookupType('tensorflow.Event');

/** The version string TensorFlow writes as the first event of every file. */
export const EVENT_FILE_VERSION = 'brain.Event:2';
export const SESSION_START = 1;

export interface EventMessage {
  wallTime: number;
  step?: number;
  fileVersion?: string;
  summary?: { value: { tag: string; simpleValue: number }[] };
  sessionLog?: { status: number };
}

export function encodeEvent(event: EventMessage): Uint8Array {
  return Event.encode(Event.fromObject(event)).finish();
}

export function decodeEvent(bytes: Uint8Array): EventMessage {
  return Event.toObject(Event.decode(bytes), { longs: Number, enums: Number }) as EventMessage;
}
