// JSON from outside the sidecar (request bodies, events off the broker, the app's answers), parsed with one limit on
// nesting. JSON.parse itself takes any depth, but what the value meets next does not: JSON.stringify overflows the
// stack past about 40,000 levels, protobuf's Struct (CloudEvent extensions sent to a gRPC app) past a few thousand.
// A value that came through parseJson is never that deep, so serializing it again is safe.

/** The deepest nesting of arrays and objects accepted (Jackson's default, the Dapr Java SDK's parser, is the same). */
export const MAX_JSON_DEPTH = 1000;

export class JsonTooDeepError extends SyntaxError {
  constructor(maxDepth: number) {
    super(`JSON nested deeper than ${maxDepth} levels`);
    this.name = "JsonTooDeepError";
  }
}

/**
 * JSON.parse, refusing text nested deeper than `maxDepth` with a JsonTooDeepError (a SyntaxError, as JSON.parse
 * throws). Only JSON the sidecar wrapped itself (a CloudEvent around a payload) may go a level or two past the limit.
 */
export function parseJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (nestedTooDeep(text, maxDepth)) throw new JsonTooDeepError(maxDepth);
  return JSON.parse(text);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/** A scan without recursion: brackets outside strings, counted. Text too short to hold the limit's brackets is not scanned. */
function nestedTooDeep(text: string, maxDepth: number): boolean {
  if (text.length <= maxDepth) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i);
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** The index of the quote closing the string that opens at `start` (the text's end when it never closes). */
function endOfString(text: string, start: number): number {
  for (let i = text.indexOf('"', start + 1); i >= 0; i = text.indexOf('"', i + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(i - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return i;
  }
  return text.length;
}
