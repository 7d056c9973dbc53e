// How much one request may make the server hold or walk, whatever front it came by: bounds checked
// while decoding, before the memory is spent. The defaults live here and nowhere else; the CLI flags
// (--max-json-depth, --max-request-elements) override them.

export interface DecodeLimits {
  /** Deepest nesting of objects and arrays in a JSON body (JSON.parse itself is iterative, but a 10 MB
   * body of brackets costs it seconds, and every recursive walker of the result would overflow). */
  maxJsonDepth: number;
  /** Most tensor elements one request may carry, all inputs together (a JSON number costs 2 bytes on
   * the wire and 8+ in memory, so this bounds what a body expands into). */
  maxElements: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxJsonDepth: 64,
  maxElements: 1 << 24,
});

/** Nesting deeper than this in a protobuf message (groups) is malformed: protobuf's own recursion limit. */
export const MAX_PROTOBUF_DEPTH = 100;
