// The bindings contract. A binding plugin is an output binding (the app calls it: POST /v1.0/bindings/{name}),
// an input binding (its backend triggers the app: POST /{name} on the app), or both.
// test/conformance/bindings.test.ts proves it for every bindings plugin.
import type { Component } from "../plugin.js";

/** Operation names Dapr's output bindings use; a plugin may add its own (e.g. "exec", "query"). */
export type BindingOperation = "create" | "get" | "delete" | "list" | (string & {});

export interface BindingRequest {
  operation: BindingOperation;
  data: Uint8Array;
  /** Per-request metadata (Dapr's `metadata` map of the request); plugins read options from it. */
  metadata: Record<string, string>;
  /** Aborted when the caller left or a resiliency timeout ran out: stop the work where the backend allows. */
  signal?: AbortSignal;
}

export interface BindingResponse {
  data: Uint8Array;
  metadata: Record<string, string>;
  contentType?: string;
}

/** Thrown for a request the binding can never serve (unknown operation, missing or malformed metadata): not retried. */
export class BindingRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BindingRequestError";
  }
}

export interface OutputBinding {
  /** The operations `invoke` accepts; the block refuses any other before calling the plugin. */
  operations(): BindingOperation[];
  invoke(req: BindingRequest): Promise<BindingResponse>;
}

export interface BindingEvent {
  data: Uint8Array;
  metadata: Record<string, string>;
  contentType?: string;
}

/**
 * Hands one event to the app. Resolves with the app's answer body once the app accepted the event; rejects when
 * it did not (app error, app unreachable): the plugin then redelivers or gives the event back to its backend
 * where the backend allows that, and otherwise drops it with a log line.
 */
export type BindingEventHandler = (event: BindingEvent) => Promise<Uint8Array>;

export interface InputReader {
  /** Stops delivering; resolves once no handler call is running any more. */
  close(): Promise<void>;
}

export interface InputBinding {
  /** Starts delivering events to `handler`. Called once per component instance, and again only after a call that
   * rejected (the block retries a failed start with backoff). */
  read(handler: BindingEventHandler): Promise<InputReader>;
}

/** A bindings component: implements one of the two directions, or both. */
export type Binding = Component & Partial<OutputBinding> & Partial<InputBinding>;

export const isOutputBinding = (b: Binding): b is Component & OutputBinding => typeof b.invoke === "function" && typeof b.operations === "function";
export const isInputBinding = (b: Binding): b is Component & InputBinding => typeof b.read === "function";

/**
 * Metadata every bindings component may carry whatever its type; the block reads them from the component's
 * metadata items, plugins ignore them. `direction`: "input", "output" or "input, output" (default: what the plugin
 * implements). `route`: the app path input events are posted to (default "/{component name}").
 */
export const BINDING_BLOCK_METADATA = ["direction", "route"] as const;

/** The refusal of an operation a binding does not serve: `where` names the binding ("bindings.http \"orders\""). */
export function unsupportedOperation(where: string, operation: string, supported: readonly string[]): BindingRequestError {
  return new BindingRequestError(`${where}: unsupported operation "${operation}"; supported: ${supported.join(", ")}`);
}
