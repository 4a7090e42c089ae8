/* Rapr's DPDK shim: EAL, one port per transport, batched UDP/IPv4 bursts.
 * Every function returns >= 0 on success or a negative RAPR_E_* code;
 * rapr_dpdk_last_error() then describes the failure in one line. */
#ifndef RAPR_DPDK_H
#define RAPR_DPDK_H
#include <stdint.h>

#define RAPR_SHIM_VERSION 4

/* Per-packet descriptor words (uint32 each) shared with TypeScript. */
#define RAPR_DESC_WORDS 3 /* length, peer IPv4 (host order), peer UDP port */
#define RAPR_UDP_OVERHEAD 28 /* IPv4 + UDP headers: max payload = MTU - 28 */
#define RAPR_MAX_MTU 16000
#define RAPR_MAX_BURST 256

enum rapr_error {
  RAPR_OK = 0,
  RAPR_E_EAL_INIT = -1,
  RAPR_E_NOT_INIT = -2,
  RAPR_E_BAD_PORT = -3,
  RAPR_E_MEMPOOL = -4,
  RAPR_E_PORT_CONFIG = -5,
  RAPR_E_QUEUE_SETUP = -6,
  RAPR_E_PORT_START = -7,
  RAPR_E_ARGS = -8,
  RAPR_E_PORT_NOT_OPEN = -9,
  RAPR_E_TOO_BIG = -10,
  RAPR_E_NEIGH_FULL = -11,
  RAPR_E_MTU = -12,
};

/* Stats slots filled by rapr_dpdk_stats (uint64 each). */
enum rapr_stat {
  RAPR_STAT_TX_CALLS,
  RAPR_STAT_TX_PKTS,
  RAPR_STAT_TX_RING_FULL,
  RAPR_STAT_TX_NO_MBUF,
  RAPR_STAT_RX_CALLS,
  RAPR_STAT_RX_NONEMPTY_CALLS,
  RAPR_STAT_RX_PKTS,
  RAPR_STAT_RX_DELIVERED,
  RAPR_STAT_RX_NOT_FOR_US,
  RAPR_STAT_RX_BAD_CHECKSUM,
  RAPR_STAT_RX_MALFORMED,
  RAPR_STAT_ARP_REPLIES,
  RAPR_STAT_TX_LINK_DOWN,     /* frames dropped because the link was down (net_memif without a peer) */
  RAPR_STAT_RECONNECTS,       /* memif client: port restarted to reach a new server */
  RAPR_STAT_RECONNECT_FAILED, /* memif client: restart attempts that found no server */
  RAPR_STAT_COUNT
};

int rapr_dpdk_version(void);
/* args: `count` NUL-terminated strings laid end to end (EAL argv without argv[0]). */
int rapr_dpdk_init(const char *args, int count);
int rapr_dpdk_port_count(void);
/* mtu: largest IPv4 datagram (1500 standard; up to RAPR_MAX_MTU for jumbo frames where the PMD allows). */
int rapr_dpdk_port_open(uint16_t port, uint16_t rx_desc, uint16_t tx_desc, uint32_t mbufs, uint16_t mtu);
int rapr_dpdk_port_set_addr(uint16_t port, uint32_t ip, uint16_t udp_port);
int rapr_dpdk_port_mac(uint16_t port, uint8_t *mac_out);
/* 1 when the link is up. A net_memif client whose server went away is reconnected by rapr_dpdk_rx (DPDK 22.11). */
int rapr_dpdk_link_up(uint16_t port);
/* 1 when a net_memif port's link went down after it was up, and is not back: its peer process went away. */
int rapr_dpdk_peer_lost(uint16_t port);
int rapr_dpdk_neigh_add(uint16_t port, uint32_t ip, const uint8_t *mac);
/* Sends packets i < n: payload at slots + i*slot_size, descriptor at desc + i*RAPR_DESC_WORDS.
 * Returns how many leading packets the port accepted; the rest stay with the caller. */
int rapr_dpdk_tx(uint16_t port, const uint8_t *slots, uint32_t slot_size, const uint32_t *desc, uint32_t n);
/* Receives up to max UDP payloads addressed to this port's IP/UDP port into the same layout. */
int rapr_dpdk_rx(uint16_t port, uint8_t *slots, uint32_t slot_size, uint32_t *desc, uint32_t max);
/* Sleeps `us` microseconds (0: sched_yield): lets an idle poller give its core away briefly instead of spinning. */
int rapr_dpdk_nap(uint32_t us);
int rapr_dpdk_stats(uint16_t port, uint64_t *out, uint32_t count);
int rapr_dpdk_port_close(uint16_t port);
/* Copies the last failure's description (NUL-terminated) into buf; returns its length. */
int rapr_dpdk_last_error(char *buf, int cap);

#endif
