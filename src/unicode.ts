// Names that reach storage or a broker must be well-formed Unicode: a lone UTF-16 surrogate (possible in a JSON
// "\ud800" escape, not in UTF-8) is written as U+FFFD, so "a\ud800" and "a\ufffd" would name the same thing.
import { errors } from "./errors.js";

/** `name` as it is, or an error (ERR_MALFORMED_REQUEST unless `fail` makes another) naming `what` when it holds a lone surrogate. */
export function checkWellFormed(name: string, what: string, fail = errors.malformedRequest): string {
  if (!name.isWellFormed()) throw fail(`${what} ${JSON.stringify(name)} is not valid Unicode: it holds a lone UTF-16 surrogate`);
  return name;
}
