import { lookup as dnsLookup } from "node:dns/promises";
import { UDXSocket, type SocketOptions } from "./socket.js";
import { UDXStream, type StreamOptions } from "./stream.js";
import { NetworkInterfaces, type NetworkInterface } from "./network-interfaces.js";
import { readHeader } from "./wire.js";
import * as ip from "./ip.js";

/**
 * udx-native's UDX, on Bun's UDP sockets: the factory for sockets and streams, and the table that routes
 * incoming stream packets to streams by their local id (ids are per UDX instance, not per socket).
 */
export class UDX {
  bytesTransmitted = 0;
  packetsTransmitted = 0;
  bytesReceived = 0;
  packetsReceived = 0;
  readonly packetsDroppedByKernel = 0;

  private readonly streamsById = new Map<number, UDXStream>();
  private readonly watchers = new Set<NetworkInterfaces>();
  private readonly sockets = new Set<UDXSocket>();

  static isIPv4(host: string): boolean {
    return ip.isIPv4(host);
  }
  static isIPv6(host: string): boolean {
    return ip.isIPv6(host);
  }
  static isIP(host: string): 0 | 4 | 6 {
    return ip.isIP(host);
  }

  createSocket(opts?: SocketOptions): UDXSocket {
    return new UDXSocket(this, opts);
  }

  createStream(id: number, opts?: StreamOptions): UDXStream {
    return new UDXStream(this, id, opts);
  }

  networkInterfaces(): NetworkInterface[] {
    const [watcher] = this.watchers;
    if (watcher) return watcher.interfaces;
    return new NetworkInterfaces().interfaces;
  }

  watchNetworkInterfaces(onchange?: (interfaces: NetworkInterface[]) => void): NetworkInterfaces {
    const watcher = new NetworkInterfaces();
    this.watchers.add(watcher);
    watcher.on("close", () => this.watchers.delete(watcher));
    if (onchange) watcher.on("change", onchange);
    return watcher.watch();
  }

  async lookup(host: string, opts: { family?: number } = {}): Promise<{ host: string; family: number }> {
    const family = opts.family === 4 || opts.family === 6 ? opts.family : 0;
    const res = await dnsLookup(host, { family });
    return { host: res.address, family: res.family };
  }

  _registerStream(stream: UDXStream): void {
    this.streamsById.set(stream.id, stream);
  }

  _unregisterStream(stream: UDXStream): void {
    if (this.streamsById.get(stream.id) === stream) this.streamsById.delete(stream.id);
  }

  _socketOpened(socket: UDXSocket): void {
    this.sockets.add(socket);
  }

  _socketClosed(socket: UDXSocket): void {
    this.sockets.delete(socket);
  }

  _countTx(bytes: number): void {
    this.bytesTransmitted += bytes;
    this.packetsTransmitted++;
  }

  /** Returns true when the datagram belonged to a stream (then it is not a socket message). */
  _onPacket(socket: UDXSocket, data: Buffer, port: number, host: string, family: 4 | 6): boolean {
    this.bytesReceived += data.byteLength;
    this.packetsReceived++;
    if (this.streamsById.size === 0) return false;
    const header = readHeader(data);
    if (header === null) return false;
    const stream = this.streamsById.get(header.id);
    if (!stream || stream.dead) return false;
    stream._onPacket(socket, header, data, port, host, family);
    return true;
  }
}

export default UDX;
