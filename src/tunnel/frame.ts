// Framing of the devnet tunnel: pure functions over bytes, no I/O.
//
// Every frame starts with the same 12-byte header (all integers big-endian):
//
//   0      1      2             4                     8                    12
//   +------+------+-------------+---------------------+--------------------+
//   | type | flags| reserved=0  | channel id (u32)    | payload length(u32)|
//   +------+------+-------------+---------------------+--------------------+
//
// DATA payloads are the channel's bytes, passed by reference on both sides
// (the writer corks header + payload into one writev; the reader hands out
// subarrays of the received chunk, never copies). WINDOW payloads are one
// u32 credit increment. Control frames carry one protobuf message from
// tunnel.proto. docs/protocol.md is the reference for what each type means.

/** FrameType names every frame type of protocol version 1. */
export const FrameType = {
  DATA: 0x00,
  WINDOW: 0x01,
  HELLO: 0x10,
  WELCOME: 0x11,
  GOAWAY: 0x12,
  PING: 0x13,
  PONG: 0x14,
  OPEN: 0x20,
  OPEN_OK: 0x21,
  OPEN_REJECT: 0x22,
  CLOSE: 0x23,
  RESET: 0x24,
  DNS_QUERY: 0x30,
  DNS_ANSWER: 0x31,
  INTERCEPT_REGISTER: 0x40,
  INTERCEPT_ACK: 0x41,
  INTERCEPT_UNREGISTER: 0x42,
} as const;

/** FrameTypeCode is the numeric value of a frame type. */
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** HEADER_LENGTH is the size of every frame header. */
export const HEADER_LENGTH = 12;

/** WINDOW_PAYLOAD_LENGTH is the size of a WINDOW frame's payload (one u32 increment). */
export const WINDOW_PAYLOAD_LENGTH = 4;

const names = new Map<number, string>(Object.entries(FrameType).map(([k, v]) => [v, k]));

/** frameTypeName returns the name of a frame type, or its hex code when unknown. */
export function frameTypeName(type: number): string {
  return names.get(type) ?? `0x${type.toString(16).padStart(2, '0')}`;
}

/** isControlType says whether a frame type carries a protobuf control message. */
export function isControlType(type: number): boolean {
  return type !== FrameType.DATA && type !== FrameType.WINDOW && names.has(type);
}

/** encodeHeader returns a fresh 12-byte frame header. */
export function encodeHeader(type: number, flags: number, channel: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(HEADER_LENGTH);
  h[0] = type;
  h[1] = flags;
  h[2] = 0;
  h[3] = 0;
  h.writeUInt32BE(channel >>> 0, 4);
  h.writeUInt32BE(length >>> 0, 8);
  return h;
}

/** encodeWindow returns a complete WINDOW frame granting `increment` bytes on `channel` (0 = the session). */
export function encodeWindow(channel: number, increment: number): Buffer {
  const f = encodeHeader(FrameType.WINDOW, 0, channel, WINDOW_PAYLOAD_LENGTH);
  const out = Buffer.allocUnsafe(HEADER_LENGTH + WINDOW_PAYLOAD_LENGTH);
  f.copy(out, 0);
  out.writeUInt32BE(increment >>> 0, HEADER_LENGTH);
  return out;
}

/** encodeControl returns a complete control frame: header and protobuf payload in one buffer. */
export function encodeControl(type: number, channel: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + payload.byteLength);
  out[0] = type;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  out.writeUInt32BE(channel >>> 0, 4);
  out.writeUInt32BE(payload.byteLength, 8);
  out.set(payload, HEADER_LENGTH);
  return out;
}

/** FrameLimits bound what a FrameReader accepts before it allocates anything. */
export interface FrameLimits {
  /** maxDataPayload is the largest DATA payload accepted. */
  maxDataPayload: number;
  /** maxControlPayload is the largest control payload accepted. */
  maxControlPayload: number;
  /** allowedTypes, when set, restricts the frame types accepted (used before the handshake). */
  allowedTypes?: ReadonlySet<number>;
}

/** FrameSink receives what a FrameReader parses. */
export interface FrameSink {
  /** data receives a DATA payload in pieces (subarrays of the input); `last` marks the frame's final piece. */
  data(channel: number, piece: Buffer, last: boolean): void;
  /** window receives a WINDOW increment. */
  window(channel: number, increment: number): void;
  /** control receives a whole control frame's protobuf payload. */
  control(type: number, channel: number, payload: Buffer): void;
  /** invalid is called once when the input breaks the framing; the reader then ignores all further input. */
  invalid(message: string): void;
}

const STATE_HEADER = 0;
const STATE_DATA = 1;
const STATE_BODY = 2;
const STATE_FAILED = 3;

/**
 * FrameReader turns a byte stream into frames. It never throws on bad input:
 * the first framing error is reported to `sink.invalid` and the reader stops.
 * DATA payloads are passed through as subarrays of the pushed chunks (zero
 * copy); WINDOW and control payloads are gathered (copied only when split
 * across chunks), bounded by the limits before any allocation.
 */
export class FrameReader {
  readonly #sink: FrameSink;
  #limits: FrameLimits;
  readonly #header = Buffer.alloc(HEADER_LENGTH);
  #headerFill = 0;
  #state = STATE_HEADER;
  #type = 0;
  #channel = 0;
  #remaining = 0;
  #parts: Buffer[] = [];
  #partsLength = 0;

  constructor(limits: FrameLimits, sink: FrameSink) {
    this.#limits = limits;
    this.#sink = sink;
  }

  /** setLimits changes the limits for frames whose header has not been read yet. */
  setLimits(limits: FrameLimits): void {
    this.#limits = limits;
  }

  /** failed says whether the input broke the framing. */
  get failed(): boolean {
    return this.#state === STATE_FAILED;
  }

  /** push feeds the next chunk of the stream. */
  push(chunk: Buffer): void {
    let off = 0;
    const n = chunk.length;
    while (off < n && this.#state !== STATE_FAILED) {
      if (this.#state === STATE_HEADER) {
        if (this.#headerFill === 0 && n - off >= HEADER_LENGTH) {
          this.#startFrame(chunk, off);
          off += HEADER_LENGTH;
        } else {
          const take = Math.min(HEADER_LENGTH - this.#headerFill, n - off);
          chunk.copy(this.#header, this.#headerFill, off, off + take);
          this.#headerFill += take;
          off += take;
          if (this.#headerFill === HEADER_LENGTH) {
            this.#headerFill = 0;
            this.#startFrame(this.#header, 0);
          }
        }
      } else if (this.#state === STATE_DATA) {
        const take = Math.min(this.#remaining, n - off);
        this.#remaining -= take;
        const last = this.#remaining === 0;
        if (last) this.#state = STATE_HEADER;
        this.#sink.data(this.#channel, chunk.subarray(off, off + take), last);
        off += take;
      } else {
        const take = Math.min(this.#remaining, n - off);
        this.#parts.push(chunk.subarray(off, off + take));
        this.#partsLength += take;
        this.#remaining -= take;
        off += take;
        if (this.#remaining === 0) this.#finishBody();
      }
    }
  }

  #fail(message: string) {
    this.#state = STATE_FAILED;
    this.#parts = [];
    this.#sink.invalid(message);
  }

  #startFrame(buf: Buffer, at: number) {
    const type = buf[at]!;
    const reserved = buf.readUInt16BE(at + 2);
    const channel = buf.readUInt32BE(at + 4);
    const length = buf.readUInt32BE(at + 8);
    const name = frameTypeName(type);
    if (!names.has(type)) return this.#fail(`unknown frame type ${name}`);
    if (this.#limits.allowedTypes && !this.#limits.allowedTypes.has(type))
      return this.#fail(`frame type ${name} is not allowed here`);
    if (reserved !== 0) return this.#fail(`frame ${name}: reserved header bits are not zero`);
    this.#type = type;
    this.#channel = channel;
    this.#remaining = length;
    if (type === FrameType.DATA) {
      if (channel === 0) return this.#fail('DATA frame on channel 0');
      if (length > this.#limits.maxDataPayload)
        return this.#fail(`DATA frame of ${length} bytes exceeds the maximum of ${this.#limits.maxDataPayload}`);
      this.#state = STATE_DATA;
      if (length === 0) {
        this.#state = STATE_HEADER;
        this.#sink.data(channel, Buffer.alloc(0), true);
      }
      return;
    }
    if (type === FrameType.WINDOW) {
      if (length !== WINDOW_PAYLOAD_LENGTH)
        return this.#fail(`WINDOW frame payload must be ${WINDOW_PAYLOAD_LENGTH} bytes, got ${length}`);
    } else if (length > this.#limits.maxControlPayload) {
      return this.#fail(`${name} frame of ${length} bytes exceeds the maximum of ${this.#limits.maxControlPayload}`);
    }
    this.#state = STATE_BODY;
    if (length === 0) this.#finishBody();
  }

  #finishBody() {
    const body =
      this.#parts.length === 1
        ? this.#parts[0]!
        : this.#parts.length === 0
          ? Buffer.alloc(0)
          : Buffer.concat(this.#parts, this.#partsLength);
    this.#parts = [];
    this.#partsLength = 0;
    this.#state = STATE_HEADER;
    if (this.#type === FrameType.WINDOW) {
      const inc = body.readUInt32BE(0);
      if (inc === 0) return this.#fail(`WINDOW frame on channel ${this.#channel} with a zero increment`);
      this.#sink.window(this.#channel, inc);
    } else {
      this.#sink.control(this.#type, this.#channel, body);
    }
  }
}
