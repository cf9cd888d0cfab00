/**
 * What the gRPC server and client need to know about one RPC: its path and how to turn its
 * messages into bytes and back. The API's generated table (core/api/gen/services.ts) holds one
 * per method; protobufjs static classes fit `Codec` as they are.
 */

/** Encodes and decodes one protobuf message type. */
export interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

export interface Method<Req, Res> {
  /** "/package.Service/Method", the HTTP/2 :path. */
  readonly path: string;
  /** "package.Service". */
  readonly service: string;
  /** "Method". */
  readonly name: string;
  /** Server streaming: the handler is an async generator and the client reads a stream. */
  readonly responseStream: boolean;
  readonly requestType: Codec<Req>;
  readonly responseType: Codec<Res>;
}

/** The request type of a Method. */
export type RequestOf<M> = M extends Method<infer Req, unknown> ? Req : never;
/** The response type of a Method. */
export type ResponseOf<M> = M extends Method<unknown, infer Res> ? Res : never;
