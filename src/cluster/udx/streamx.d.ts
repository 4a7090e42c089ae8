// Minimal typings for the parts of streamx (a plain JS dependency of hyperswarm) that the UDX stream uses.
declare module "streamx" {
  import { EventEmitter } from "node:events";
  type Callback = (err?: Error | null) => void;
  export interface DuplexOptions {
    mapWritable?: (data: unknown) => unknown;
    eagerOpen?: boolean;
    highWaterMark?: number;
  }
  export class Duplex extends EventEmitter {
    constructor(opts?: DuplexOptions);
    _readableState: { buffered: number };
    readonly destroying: boolean;
    readonly destroyed: boolean;
    push(data: Uint8Array | null): boolean;
    write(data: unknown): boolean;
    end(data?: unknown): this;
    destroy(err?: Error | null): void;
    pause(): this;
    resume(): this;
    _read(cb: Callback): void;
    _writev(batch: Uint8Array[], cb: Callback): void;
    _final(cb: Callback): void;
    _predestroy(): void;
    _destroy(cb: Callback): void;
    [Symbol.asyncIterator](): AsyncIterator<Buffer>;
  }
  export class Writable extends EventEmitter {
    static drained(ws: unknown): Promise<boolean>;
  }
}
