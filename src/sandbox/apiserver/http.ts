// HTTP plumbing shared by the API server's handlers: bounded body reading,
// JSON and Status answers, and media-type negotiation.
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, badRequest, requestEntityTooLarge } from './status.ts';

/** MAX_BODY_BYTES is the request body limit (the apiserver's 3 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** readBody collects a request body up to the limit; larger bodies reject with 413 before being read further. */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      reject(requestEntityTooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(requestEntityTooLarge(limit));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** parseJsonBody decodes a JSON body; malformed JSON is a 400 with the decoder's message. */
export function parseJsonBody(buf: Buffer): unknown {
  if (buf.length === 0) throw badRequest('the request body is empty');
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw badRequest(`error decoding request body: ${(err as Error).message}`);
  }
}

/** sendJson answers with a JSON document. */
export function sendJson(res: ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache, private',
  });
  res.end(text);
}

/** sendError answers with a Status for an ApiError. */
export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.code, err.status());
}

/** sendErrorOnSocket writes a Status answer on a raw socket (an upgrade request refused before the handshake). */
export function sendErrorOnSocket(socket: Duplex, err: ApiError): void {
  const body = JSON.stringify(err.status());
  socket.end(
    `HTTP/1.1 ${err.code} ${STATUS_CODES[err.code] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** MediaRequest is what an Accept header asks for: plain JSON, a Table, or partial object metadata. */
export type MediaRequest =
  | { as: 'json' }
  | { as: 'Table'; version: 'v1' | 'v1beta1' }
  | { as: 'PartialObjectMetadata' | 'PartialObjectMetadataList'; version: 'v1' | 'v1beta1' };

/** negotiate picks the first supported media type of an Accept header (JSON when nothing else fits). */
export function negotiate(accept: string | undefined): MediaRequest | ApiError {
  if (!accept) return { as: 'json' };
  let jsonOk = false;
  for (const raw of accept.split(',')) {
    const [type, ...params] = raw.split(';').map((s) => s.trim());
    const p = Object.fromEntries(params.map((x) => x.split('=').map((s) => s.trim()) as [string, string]));
    if (type !== 'application/json' && type !== '*/*' && type !== 'application/*') {
      continue;
    }
    if (p.as === undefined) {
      jsonOk = true;
      break;
    }
    if (p.g === 'meta.k8s.io' && (p.v === 'v1' || p.v === 'v1beta1')) {
      if (p.as === 'Table') return { as: 'Table', version: p.v };
      if (p.as === 'PartialObjectMetadata' || p.as === 'PartialObjectMetadataList') return { as: p.as, version: p.v };
    }
  }
  if (jsonOk) return { as: 'json' };
  if (/application\/vnd\.kubernetes\.protobuf|application\/yaml/.test(accept) && !/json|\*\/\*/.test(accept))
    return new ApiError(406, 'NotAcceptable', `only the following media types are accepted: application/json`);
  return { as: 'json' };
}
