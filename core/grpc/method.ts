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

/** S is true for server streaming, false for unary (the generated table says which). */
export interface Method<Req, Res, S extends boolean = boolean> {
  /** "/package.Service/Method", the HTTP/2 :path. */
  readonly path: string;
  /** "package.Service". */
  readonly service: string;
  /** "Method". */
  readonly name: string;
  /** Server streaming: the handler is an async generator and the client reads a stream. */
  readonly responseStream: S;
  readonly requestType: Codec<Req>;
  readonly responseType: Codec<Res>;
}

/** The request type of a Method. */
export type RequestOf<M> = M extends Method<infer Req, infer _Res, infer _S> ? Req : never;
/** The response type of a Method. */
export type ResponseOf<M> = M extends Method<infer _Req, infer Res, infer _S> ? Res : never;

/** Any method, whatever its types (for tables keyed by path). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMethod = Method<any, any, boolean>;
