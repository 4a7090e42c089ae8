// `rapr run` flags that pick the sidecar-to-sidecar data plane.
import type { FlagSpec } from "../cli/flags.js";
import type { DataplaneFlags } from "./dataplane.js";

export const dataplaneRunFlags: FlagSpec[] = [
  { name: "dataplane", type: "string", help: "sidecar-to-sidecar data plane", default: "kernel", oneOf: ["kernel", "dpdk"] },
  { name: "dpdk-args", type: "string", help: 'EAL arguments for --dataplane dpdk, e.g. "--no-huge -m 256 --no-pci -l 0 --vdev=net_memif0,role=server"' },
  { name: "dpdk-port", type: "int", help: "DPDK port id", default: 0, min: 0, max: 1023 },
  { name: "dpdk-ip", type: "string", help: "this node's IPv4 address on the DPDK port (required with --dataplane dpdk)" },
  { name: "dpdk-udp-port", type: "int", help: "UDP port of the DPDK transport", default: 47100, min: 1, max: 65535 },
  { name: "dpdk-mtu", type: "int", help: "MTU on the DPDK port", default: 1500, min: 576, max: 9600 },
];

export function dataplaneFlags(values: Record<string, unknown>): DataplaneFlags {
  return {
    dataplane: values.dataplane as string | undefined,
    dpdkArgs: values["dpdk-args"] as string | undefined,
    dpdkPort: values["dpdk-port"] as number | undefined,
    dpdkIp: values["dpdk-ip"] as string | undefined,
    dpdkUdpPort: values["dpdk-udp-port"] as number | undefined,
    dpdkMtu: values["dpdk-mtu"] as number | undefined,
  };
}
