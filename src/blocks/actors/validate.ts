// The actor API's input checks, shared by every operation: names as daprd's methodutil.ValidateName reads them,
// plus rapr's own limits ("||" is the key separator; ids are bounded).
import { actorErrors } from "./errors.js";

/** Actor types, ids and timer/reminder names longer than this are refused (they become store keys). */
export const MAX_NAME_LENGTH = 1024;

/** A type, id or timer/reminder name: non-empty, bounded, no '#?/\', NUL or control characters, no "||". */
export function checkName(what: string, value: unknown): string {
  if (typeof value !== "string" || value === "") throw actorErrors.badRequest(`${what} is empty`);
  if (value.length > MAX_NAME_LENGTH) throw actorErrors.badRequest(`${what} is longer than ${MAX_NAME_LENGTH} characters`);
  if (/[#?/\\\x00-\x1f\x7f]/.test(value)) throw actorErrors.badRequest(`${what} contains a forbidden character: ${JSON.stringify(value.slice(0, 64))}`);
  if (value === "." || value === "..") throw actorErrors.badRequest(`${what} is a path traversal sequence: ${JSON.stringify(value)}`);
  if (value.includes("||")) throw actorErrors.badRequest(`${what} cannot contain "||": ${JSON.stringify(value.slice(0, 64))}`);
  return value;
}

/** A method: as daprd's NormalizeMethod, '/' allowed between segments, no traversal. */
export function checkMethod(value: unknown): string {
  if (typeof value !== "string" || value === "") throw actorErrors.badRequest("method is empty");
  if (value.length > MAX_NAME_LENGTH) throw actorErrors.badRequest(`method is longer than ${MAX_NAME_LENGTH} characters`);
  if (/[#?\x00-\x1f\x7f]/.test(value)) throw actorErrors.badRequest(`method contains a forbidden character: ${JSON.stringify(value.slice(0, 64))}`);
  if (value.split("/").some((s) => s === "." || s === "..")) throw actorErrors.badRequest(`method is a path traversal: ${JSON.stringify(value)}`);
  return value;
}

/** Actor types of the workflow engine, which the actor API must not reach (daprd's RejectInternalActorType). */
export function rejectReserved(actorType: string): void {
  if (actorType.startsWith("dapr.internal.")) throw actorErrors.typeReserved(actorType);
}

/** A timer's or reminder's `data`: JSON text (it goes to the app inside a JSON body). */
export function checkData(data: unknown): string | undefined {
  if (data === undefined || data === null || data === "") return undefined;
  if (typeof data !== "string") throw actorErrors.malformedRequest("data must be JSON text");
  try {
    JSON.parse(data);
  } catch {
    throw actorErrors.malformedRequest("data is not valid JSON");
  }
  return data;
}
