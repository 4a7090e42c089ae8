/* Rapr's DPDK shim. See rapr_dpdk.h for the contract. */
#define _GNU_SOURCE
#include "rapr_dpdk.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <rte_alarm.h>
#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_udp.h>
#include <rte_version.h>

#define MAX_PORTS 32
#define MAX_NEIGH 64
#define MAX_ARGS 64
#define HDR_LEN (sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr))

#if RTE_VER_YEAR == 22 && RTE_VER_MONTH == 11
/* Heads of private structs of DPDK 22.11 (ethdev_driver.h, drivers/net/memif/rte_eth_memif.h). */
struct rte_eth_dev *rte_eth_dev_get_by_name(const char *name);
struct eth_dev_data_head {
  char name[RTE_ETH_NAME_MAX_LEN];
  void **rx_queues;
  void **tx_queues;
  uint16_t nb_rx_queues;
  uint16_t nb_tx_queues;
  struct rte_eth_dev_sriov sriov;
  void *dev_private;
};
struct eth_dev_head {
  void *burst_fns[6];
  struct eth_dev_data_head *data;
};
struct memif_pmd_head {
  uint32_t id;
  uint32_t role;
  uint32_t flags;
  char *socket_filename;
  char secret[24];
  void *cc;
  rte_spinlock_t cc_lock;
};
#else
struct memif_pmd_head;
#endif

struct neigh {
  uint32_t ip; /* network order, 0 = free */
  struct rte_ether_addr mac;
};

struct port_state {
  int open;
  struct rte_mempool *pool;
  struct rte_ether_addr mac;
  uint32_t ip;       /* network order */
  uint16_t udp_port; /* network order */
  uint16_t ip_id;
  uint32_t max_payload;
  int udp_cksum; /* 0 on shared-memory PMDs: nothing on the way can corrupt a frame */
  int is_memif;
  rte_spinlock_t *burst_lock; /* pmd->cc_lock of a memif port, see memif_pmd() */
  struct memif_pmd_head *memif_client; /* a memif client port the shim reconnects (see port_maintain()) */
  int link_up;                /* as last seen by port_maintain() */
  int link_lost;              /* the link went down after it was up, and is not back */
  int stopped;                /* the shim stopped the port to reconnect it and could not start it yet */
  int barrier;                /* reconnect handshake with EAL's interrupt thread: 0 idle, 1 posted, 2 passed */
  uint64_t next_check;        /* TSC: when port_maintain() looks at the link next */
  uint64_t retry_at;          /* TSC: earliest next reconnect attempt */
  uint64_t retry_cycles;      /* current reconnect interval (doubles up to RECONNECT_MAX_MS) */
  struct neigh neigh[MAX_NEIGH];
  uint64_t stats[RAPR_STAT_COUNT];
};

static struct port_state ports[MAX_PORTS];
static int eal_state; /* 0 = not tried, 1 = ready, -1 = failed */
static char last_error[512];

static int fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return code;
}

int rapr_dpdk_version(void) { return RAPR_SHIM_VERSION; }

int rapr_dpdk_last_error(char *buf, int cap) {
  if (cap <= 0) return 0;
  snprintf(buf, (size_t)cap, "%s", last_error);
  return (int)strlen(buf);
}

int rapr_dpdk_init(const char *args, int count) {
  if (eal_state == 1) return RAPR_OK;
  if (eal_state == -1) return fail(RAPR_E_EAL_INIT, "EAL already failed to start in this process; restart it");
  if (count < 0 || count > MAX_ARGS - 1) return fail(RAPR_E_ARGS, "too many EAL arguments (%d, max %d)", count, MAX_ARGS - 1);

  char *argv[MAX_ARGS];
  int argc = 0;
  argv[argc++] = strdup("rapr");
  for (int i = 0; i < count; i++) {
    argv[argc++] = strdup(args);
    args += strlen(args) + 1;
  }

  /* EAL pins the calling thread (the JS thread) to its main lcore; rapr keeps the
   * thread free to run wherever the OS likes, as it runs the whole event loop. */
  cpu_set_t before;
  int have_affinity = pthread_getaffinity_np(pthread_self(), sizeof before, &before) == 0;
  rte_log_set_global_level(RTE_LOG_WARNING);
  int rc = rte_eal_init(argc, argv);
  if (have_affinity) pthread_setaffinity_np(pthread_self(), sizeof before, &before);
  if (rc < 0) {
    eal_state = -1;
    return fail(RAPR_E_EAL_INIT, "rte_eal_init failed: %s", rte_strerror(rte_errno));
  }
  eal_state = 1;
  return RAPR_OK;
}

int rapr_dpdk_port_count(void) {
  if (eal_state != 1) return fail(RAPR_E_NOT_INIT, "EAL is not initialised");
  return rte_eth_dev_count_avail();
}

static struct port_state *open_port(uint16_t port) {
  if (port >= MAX_PORTS || !ports[port].open) return NULL;
  return &ports[port];
}


/* net_memif drops a connection on EAL's interrupt thread when the peer goes away: memif_disconnect() clears
 * the connected flag that its bursts check, takes pmd->cc_lock, and after releasing it unmaps the shared
 * regions. A burst on our thread that passed the check just before touches unmapped memory and the process
 * dies of SIGSEGV. Bursts that hold cc_lock finish before the unmap, or start after it and see the flag
 * cleared. No public API reaches the lock, so this reads DPDK 22.11's private structs, checked against the
 * port; elsewhere it returns NULL: bursts take no lock and the shim does not reconnect memif clients. */
static struct memif_pmd_head *memif_pmd(uint16_t port) {
#if RTE_VER_YEAR == 22 && RTE_VER_MONTH == 11
  /* The library loaded may be newer than the headers (23.03 and 23.07 keep the .so.23 names, and moved cc). */
  if (strncmp(rte_version(), "DPDK 22.11.", 11) != 0) return NULL;
  char name[RTE_ETH_NAME_MAX_LEN];
  if (rte_eth_dev_get_name_by_port(port, name) != 0) return NULL;
  struct eth_dev_head *dev = (struct eth_dev_head *)rte_eth_dev_get_by_name(name);
  if (!dev || !dev->data || strcmp(dev->data->name, name) != 0 || dev->data->rx_queues != rte_eth_fp_ops[port].rxq.data)
    return NULL;
  struct memif_pmd_head *pmd = dev->data->dev_private;
  return pmd && pmd->role <= 1 ? pmd : NULL;
#else
  return NULL;
#endif
}

/* Reconnecting a memif client. DPDK 22.11's net_memif client connects to its server only in dev_start
 * (memif_connect_client); when the server goes away, memif_disconnect() (interrupt thread) marks the link down,
 * drops the control channel (pmd->cc = NULL) and nothing ever connects again, so the port stays down for good
 * even after a new server listens on the socket. The shim stops and starts the port itself, on our thread (the
 * only one that bursts, so no burst runs meanwhile), once
 *   - the link is down and pmd->cc is NULL (read under cc_lock): the driver has no connection, nor one under way;
 *   - and an EAL alarm posted after that has run: alarms run on the interrupt thread, one callback at a time,
 *     so the memif_disconnect() that cleared cc, which goes on unmapping after it releases cc_lock, has ended.
 *     From then on the interrupt thread has nothing of this port's until dev_start registers a new channel.
 * A start that fails (nobody listens yet) leaves the port stopped: no bursts, frames handed to tx are dropped;
 * the next attempt comes after RECONNECT_MIN_MS, doubling up to RECONNECT_MAX_MS. */
#define LINK_CHECK_MS 10
#define RECONNECT_MIN_MS 50
#define RECONNECT_MAX_MS 1000

static uint64_t ms_cycles(uint64_t ms) { return rte_get_tsc_hz() / 1000 * ms; }

static void barrier_passed(void *arg) { __atomic_store_n(&((struct port_state *)arg)->barrier, 2, __ATOMIC_RELEASE); }

static int memif_log_type(void) {
  static int type = -2;
  if (type == -2) type = rte_log_register("pmd.net.memif");
  return type;
}

static int link_is_up(uint16_t port) {
  struct rte_eth_link link;
  return rte_eth_link_get_nowait(port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

static void reconnect_memif(uint16_t port, struct port_state *ps, uint64_t now) {
#if RTE_VER_YEAR == 22 && RTE_VER_MONTH == 11
  struct memif_pmd_head *pmd = ps->memif_client;
  if (now < ps->retry_at) return;
  rte_spinlock_lock(&pmd->cc_lock);
  int connecting = pmd->cc != NULL;
  rte_spinlock_unlock(&pmd->cc_lock);
  if (connecting) return; /* a handshake is under way (or a disconnect has not reached cc yet): the driver's */
  int barrier = __atomic_load_n(&ps->barrier, __ATOMIC_ACQUIRE);
  if (barrier == 0) { /* posted before the alarm is set: the alarm may fire before rte_eal_alarm_set returns */
    __atomic_store_n(&ps->barrier, 1, __ATOMIC_RELAXED);
    if (rte_eal_alarm_set(1, barrier_passed, ps) != 0) __atomic_store_n(&ps->barrier, 0, __ATOMIC_RELAXED);
    return;
  }
  if (barrier == 1) return;
  __atomic_store_n(&ps->barrier, 0, __ATOMIC_RELAXED);
  if (!ps->stopped) rte_eth_dev_stop(port);
  /* Every refused connect() logs an error in the driver; while the peer is away that says nothing new. */
  int type = memif_log_type();
  int level = type >= 0 ? rte_log_get_level(type) : -1;
  if (level >= 0) rte_log_set_level(type, RTE_LOG_CRIT);
  int rc = rte_eth_dev_start(port);
  if (level >= 0) rte_log_set_level(type, (uint32_t)level);
  ps->stopped = rc < 0;
  ps->stats[rc < 0 ? RAPR_STAT_RECONNECT_FAILED : RAPR_STAT_RECONNECTS]++;
  /* After a start, the handshake runs on the interrupt thread; the next attempt waits at least this long. */
  ps->retry_at = now + ps->retry_cycles;
  if (ps->retry_cycles < ms_cycles(RECONNECT_MAX_MS)) ps->retry_cycles *= 2;
#else
  (void)port, (void)ps, (void)now;
#endif
}

/* Runs from rapr_dpdk_rx on memif ports at most every LINK_CHECK_MS: follows the link (a point-to-point link
 * that goes down means the peer process went away) and reconnects memif clients. */
static void port_maintain(uint16_t port, struct port_state *ps, uint64_t now) {
  ps->next_check = now + ms_cycles(LINK_CHECK_MS);
  int up = !ps->stopped && link_is_up(port);
  if (up != ps->link_up) {
    ps->link_up = up;
    if (up) ps->retry_cycles = ms_cycles(RECONNECT_MIN_MS);
    if (ps->is_memif && (!up || ps->link_lost)) { /* one line per loss and per recovery; none at start */
      char name[RTE_ETH_NAME_MAX_LEN] = "";
      rte_eth_dev_get_name_by_port(port, name);
      if (up)
        rte_log(RTE_LOG_WARNING, RTE_LOGTYPE_USER1, "rapr: port %u (%s): link up again\n", port, name);
      else
        rte_log(RTE_LOG_WARNING, RTE_LOGTYPE_USER1, "rapr: port %u (%s): link down (peer gone)%s\n", port, name,
                ps->memif_client ? "; reconnecting to the memif server" : "; waiting for a memif client");
      ps->link_lost = !up;
    }
  }
  if (!up && ps->memif_client) reconnect_memif(port, ps, now);
}

static uint16_t rx_burst(uint16_t port, struct port_state *ps, struct rte_mbuf **mbufs, uint16_t n) {
  if (ps->burst_lock) rte_spinlock_lock(ps->burst_lock);
  uint16_t got = rte_eth_rx_burst(port, 0, mbufs, n);
  if (ps->burst_lock) rte_spinlock_unlock(ps->burst_lock);
  return got;
}

static uint16_t tx_burst(uint16_t port, struct port_state *ps, struct rte_mbuf **mbufs, uint16_t n) {
  if (ps->burst_lock) rte_spinlock_lock(ps->burst_lock);
  uint16_t sent = rte_eth_tx_burst(port, 0, mbufs, n);
  if (ps->burst_lock) rte_spinlock_unlock(ps->burst_lock);
  return sent;
}

int rapr_dpdk_port_open(uint16_t port, uint16_t rx_desc, uint16_t tx_desc, uint32_t mbufs, uint16_t mtu) {
  if (eal_state != 1) return fail(RAPR_E_NOT_INIT, "EAL is not initialised");
  if (port >= MAX_PORTS || !rte_eth_dev_is_valid_port(port))
    return fail(RAPR_E_BAD_PORT, "port %u does not exist (%u ports available; check --vdev / PCI devices)", port,
                rte_eth_dev_count_avail());
  if (mtu < 576 || mtu > RAPR_MAX_MTU) return fail(RAPR_E_MTU, "MTU %u is outside 576..%d", mtu, RAPR_MAX_MTU);
  struct port_state *ps = &ports[port];
  if (ps->open) return fail(RAPR_E_PORT_CONFIG, "port %u is already open", port);
  memset(ps, 0, sizeof *ps);
  ps->max_payload = mtu - RAPR_UDP_OVERHEAD;

  struct rte_eth_dev_info info;
  int rc = rte_eth_dev_info_get(port, &info);
  if (rc < 0) return fail(RAPR_E_PORT_CONFIG, "device info for port %u: %s", port, rte_strerror(-rc));
  /* net_memif reports a 1518-byte frame limit but moves any frame as a chain of its ring buffers, so it
   * gets jumbo frames without asking ethdev (which would refuse). Other PMDs must accept the MTU. */
  uint32_t frame_max = info.max_rx_pktlen;
  int is_memif = strcmp(info.driver_name, "net_memif") == 0;
  ps->udp_cksum = !is_memif && strcmp(info.driver_name, "net_ring") != 0;
  int ask_mtu = mtu != RTE_ETHER_MTU;
  if ((uint32_t)mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN > frame_max || mtu > info.max_mtu) {
    if (!is_memif)
      return fail(RAPR_E_MTU, "port %u (%s) takes frames of at most %u bytes; MTU %u does not fit", port,
                  info.driver_name, frame_max, mtu);
    ask_mtu = 0;
  }

  int socket = rte_eth_dev_socket_id(port);
  if (socket < 0) socket = (int)rte_socket_id();
  /* One frame always fits in one mbuf, so rx and tx never deal with chains they built themselves. */
  uint32_t room = mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
  if (room < RTE_MBUF_DEFAULT_DATAROOM) room = RTE_MBUF_DEFAULT_DATAROOM;
  char name[RTE_MEMPOOL_NAMESIZE];
  snprintf(name, sizeof name, "rapr_pool_%u_%u", port, mtu);
  ps->pool = rte_mempool_lookup(name);
  if (!ps->pool) ps->pool = rte_pktmbuf_pool_create(name, mbufs, 256, 0, (uint16_t)(room + RTE_PKTMBUF_HEADROOM), socket);
  if (!ps->pool)
    return fail(RAPR_E_MEMPOOL, "cannot create a pool of %u mbufs of %u bytes: %s (give EAL more memory with -m)", mbufs,
                room, rte_strerror(rte_errno));

  struct rte_eth_conf conf;
  memset(&conf, 0, sizeof conf);
  if (ask_mtu) conf.rxmode.mtu = mtu;
  rc = rte_eth_dev_configure(port, 1, 1, &conf);
  if (rc < 0) return fail(RAPR_E_PORT_CONFIG, "rte_eth_dev_configure(port %u): %s", port, rte_strerror(-rc));
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_desc, &tx_desc);
  if (rc < 0) return fail(RAPR_E_PORT_CONFIG, "descriptor counts for port %u: %s", port, rte_strerror(-rc));
  rc = rte_eth_rx_queue_setup(port, 0, rx_desc, (unsigned)socket, NULL, ps->pool);
  if (rc < 0) return fail(RAPR_E_QUEUE_SETUP, "rx queue on port %u: %s", port, rte_strerror(-rc));
  rc = rte_eth_tx_queue_setup(port, 0, tx_desc, (unsigned)socket, NULL);
  if (rc < 0) return fail(RAPR_E_QUEUE_SETUP, "tx queue on port %u: %s", port, rte_strerror(-rc));
  rc = rte_eth_dev_start(port);
  if (rc < 0) return fail(RAPR_E_PORT_START, "rte_eth_dev_start(port %u): %s", port, rte_strerror(-rc));
  rte_eth_promiscuous_enable(port); /* some PMDs do not support it; harmless */
  rte_eth_macaddr_get(port, &ps->mac);
  ps->is_memif = is_memif;
  if (is_memif) {
    struct memif_pmd_head *pmd = memif_pmd(port);
#if RTE_VER_YEAR == 22 && RTE_VER_MONTH == 11
    if (pmd) ps->burst_lock = &pmd->cc_lock;
    if (pmd && pmd->role == 1) ps->memif_client = pmd; /* MEMIF_ROLE_CLIENT */
#else
    (void)pmd;
#endif
  }
  ps->retry_cycles = ms_cycles(RECONNECT_MIN_MS);
  ps->open = 1;
  return RAPR_OK;
}

int rapr_dpdk_port_set_addr(uint16_t port, uint32_t ip, uint16_t udp_port) {
  struct port_state *ps = open_port(port);
  if (!ps) return fail(RAPR_E_PORT_NOT_OPEN, "port %u is not open", port);
  ps->ip = rte_cpu_to_be_32(ip);
  ps->udp_port = rte_cpu_to_be_16(udp_port);
  return RAPR_OK;
}

int rapr_dpdk_port_mac(uint16_t port, uint8_t *mac_out) {
  struct port_state *ps = open_port(port);
  if (!ps) return fail(RAPR_E_PORT_NOT_OPEN, "port %u is not open", port);
  memcpy(mac_out, ps->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
  return RAPR_OK;
}

int rapr_dpdk_link_up(uint16_t port) {
  struct port_state *ps = open_port(port);
  if (!ps) return fail(RAPR_E_PORT_NOT_OPEN, "port %u is not open", port);
  return !ps->stopped && link_is_up(port);
}

int rapr_dpdk_peer_lost(uint16_t port) {
  struct port_state *ps = open_port(port);
  if (!ps) return fail(RAPR_E_PORT_NOT_OPEN, "port %u is not open", port);
  return ps->link_lost;
}

/* Static entries and entries learned from traffic share the table; learning overwrites. */
static int neigh_set(struct port_state *ps, uint32_t ip_be, const struct rte_ether_addr *mac) {
  struct neigh *free_slot = NULL;
  for (int i = 0; i < MAX_NEIGH; i++) {
    if (ps->neigh[i].ip == ip_be) {
      ps->neigh[i].mac = *mac;
      return RAPR_OK;
    }
    if (!free_slot && ps->neigh[i].ip == 0) free_slot = &ps->neigh[i];
  }
  if (!free_slot) return RAPR_E_NEIGH_FULL;
  free_slot->mac = *mac;
  free_slot->ip = ip_be;
  return RAPR_OK;
}

static const struct rte_ether_addr *neigh_get(struct port_state *ps, uint32_t ip_be) {
  for (int i = 0; i < MAX_NEIGH; i++)
    if (ps->neigh[i].ip == ip_be) return &ps->neigh[i].mac;
  return NULL;
}

int rapr_dpdk_neigh_add(uint16_t port, uint32_t ip, const uint8_t *mac) {
  struct port_state *ps = open_port(port);
  if (!ps) return fail(RAPR_E_PORT_NOT_OPEN, "port %u is not open", port);
  struct rte_ether_addr addr;
  memcpy(addr.addr_bytes, mac, RTE_ETHER_ADDR_LEN);
  if (neigh_set(ps, rte_cpu_to_be_32(ip), &addr) < 0)
    return fail(RAPR_E_NEIGH_FULL, "neighbour table of port %u is full (%d entries)", port, MAX_NEIGH);
  return RAPR_OK;
}

static const struct rte_ether_addr broadcast_mac = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

static void build_udp(struct port_state *ps, struct rte_mbuf *m, const uint8_t *payload, uint32_t len, uint32_t dst_ip,
                      uint16_t dst_port) {
  uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
  struct rte_ether_hdr *eth = (struct rte_ether_hdr *)frame;
  struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
  struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
  uint32_t dst_be = rte_cpu_to_be_32(dst_ip);
  const struct rte_ether_addr *dst_mac = neigh_get(ps, dst_be);

  eth->dst_addr = dst_mac ? *dst_mac : broadcast_mac; /* unknown neighbour: broadcast until we learn it */
  eth->src_addr = ps->mac;
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);

  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->type_of_service = 0;
  ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof *ip + sizeof *udp + len));
  ip->packet_id = rte_cpu_to_be_16(ps->ip_id++);
  ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->hdr_checksum = 0;
  ip->src_addr = ps->ip;
  ip->dst_addr = dst_be;

  udp->src_port = ps->udp_port;
  udp->dst_port = rte_cpu_to_be_16(dst_port);
  udp->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof *udp + len));
  udp->dgram_cksum = 0;
  rte_memcpy(udp + 1, payload, len);

  ip->hdr_checksum = rte_ipv4_cksum(ip);
  if (ps->udp_cksum) udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
  m->data_len = (uint16_t)(HDR_LEN + len);
  m->pkt_len = m->data_len;
}

int rapr_dpdk_tx(uint16_t port, const uint8_t *slots, uint32_t slot_size, const uint32_t *desc, uint32_t n) {
  struct port_state *ps = open_port(port);
  if (!ps) return fail(RAPR_E_PORT_NOT_OPEN, "port %u is not open", port);
  if (n > RAPR_MAX_BURST) n = RAPR_MAX_BURST;
  if (n == 0) return 0;
  ps->stats[RAPR_STAT_TX_CALLS]++;
  if (ps->stopped) { /* being reconnected: the frames are lost, as on a link that is down */
    ps->stats[RAPR_STAT_TX_LINK_DOWN] += n;
    return (int)n;
  }

  struct rte_mbuf *mbufs[RAPR_MAX_BURST];
  if (rte_pktmbuf_alloc_bulk(ps->pool, mbufs, n) != 0) {
    ps->stats[RAPR_STAT_TX_NO_MBUF]++;
    return 0;
  }
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t *d = desc + i * RAPR_DESC_WORDS;
    if (d[0] > ps->max_payload || d[0] > slot_size) {
      rte_pktmbuf_free_bulk(mbufs, n);
      return fail(RAPR_E_TOO_BIG, "packet %u carries %u bytes; at most %u fit in one frame", i, d[0],
                  ps->max_payload);
    }
    build_udp(ps, mbufs[i], slots + (size_t)i * slot_size, d[0], d[1], (uint16_t)d[2]);
  }
  uint16_t sent = tx_burst(port, ps, mbufs, (uint16_t)n);
  if (sent < n) {
    rte_pktmbuf_free_bulk(mbufs + sent, n - sent);
    /* net_memif takes nothing while it has no peer. Held back, the frames would keep the caller retrying
     * them in a busy loop until its peer timeout; dropped, they are retransmitted on the usual timers. */
    if (ps->is_memif && !link_is_up(port)) {
      ps->stats[RAPR_STAT_TX_LINK_DOWN] += n - sent;
      ps->stats[RAPR_STAT_TX_PKTS] += sent;
      return (int)n;
    }
    ps->stats[RAPR_STAT_TX_RING_FULL]++;
  }
  ps->stats[RAPR_STAT_TX_PKTS] += sent;
  return sent;
}

static void handle_arp(uint16_t port, struct port_state *ps, const uint8_t *frame, uint32_t frame_len) {
  if (frame_len < sizeof(struct rte_ether_hdr) + sizeof(struct rte_arp_hdr)) return;
  const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)frame;
  const struct rte_arp_hdr *arp = (const struct rte_arp_hdr *)(eth + 1);
  if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
      arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
    return;
  neigh_set(ps, arp->arp_data.arp_sip, &arp->arp_data.arp_sha);
  if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) || arp->arp_data.arp_tip != ps->ip) return;

  struct rte_mbuf *reply = rte_pktmbuf_alloc(ps->pool);
  if (!reply) return;
  struct rte_ether_hdr *reth = rte_pktmbuf_mtod(reply, struct rte_ether_hdr *);
  struct rte_arp_hdr *rarp = (struct rte_arp_hdr *)(reth + 1);
  reth->dst_addr = eth->src_addr;
  reth->src_addr = ps->mac;
  reth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
  *rarp = *arp;
  rarp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
  rarp->arp_data.arp_tha = arp->arp_data.arp_sha;
  rarp->arp_data.arp_tip = arp->arp_data.arp_sip;
  rarp->arp_data.arp_sha = ps->mac;
  rarp->arp_data.arp_sip = ps->ip;
  reply->data_len = reply->pkt_len = sizeof *reth + sizeof *rarp;
  if (tx_burst(port, ps, &reply, 1) == 1)
    ps->stats[RAPR_STAT_ARP_REPLIES]++;
  else
    rte_pktmbuf_free(reply);
}

/* A received frame, contiguous: the mbuf's own data, or a copy when the PMD handed us a chain. */
static uint8_t scratch[RAPR_MAX_MTU + RTE_ETHER_HDR_LEN];

static const uint8_t *frame_bytes(struct rte_mbuf *m, uint32_t *len) {
  *len = m->pkt_len;
  if (m->nb_segs == 1) return rte_pktmbuf_mtod(m, const uint8_t *);
  if (m->pkt_len > sizeof scratch) return NULL;
  return rte_pktmbuf_read(m, 0, m->pkt_len, scratch);
}

/* Returns the UDP payload length if the frame is a valid datagram for us, -1 otherwise (counted). */
static int accept_udp(struct port_state *ps, const uint8_t *frame, uint32_t frame_len, uint32_t slot_size) {
  if (frame_len < HDR_LEN) {
    ps->stats[RAPR_STAT_RX_MALFORMED]++;
    return -1;
  }
  const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)frame;
  const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
  const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)(ip + 1);
  if (ip->version_ihl != RTE_IPV4_VHL_DEF || ip->next_proto_id != IPPROTO_UDP || ip->dst_addr != ps->ip ||
      udp->dst_port != ps->udp_port) {
    ps->stats[RAPR_STAT_RX_NOT_FOR_US]++;
    return -1;
  }
  uint32_t ip_len = rte_be_to_cpu_16(ip->total_length);
  uint32_t udp_len = rte_be_to_cpu_16(udp->dgram_len);
  if (ip_len > frame_len - sizeof *eth || udp_len < sizeof *udp || udp_len != ip_len - sizeof *ip ||
      udp_len - sizeof *udp > slot_size) {
    ps->stats[RAPR_STAT_RX_MALFORMED]++;
    return -1;
  }
  /* Summing a header that carries a correct checksum yields 0; a zero UDP checksum means "none". */
  if (rte_ipv4_cksum(ip) != 0 || (udp->dgram_cksum != 0 && rte_ipv4_udptcp_cksum_verify(ip, udp) != 0)) {
    ps->stats[RAPR_STAT_RX_BAD_CHECKSUM]++;
    return -1;
  }
  neigh_set(ps, ip->src_addr, &eth->src_addr);
  return (int)(udp_len - sizeof *udp);
}

int rapr_dpdk_rx(uint16_t port, uint8_t *slots, uint32_t slot_size, uint32_t *desc, uint32_t max) {
  struct port_state *ps = open_port(port);
  if (!ps) return fail(RAPR_E_PORT_NOT_OPEN, "port %u is not open", port);
  if (max > RAPR_MAX_BURST) max = RAPR_MAX_BURST;
  ps->stats[RAPR_STAT_RX_CALLS]++;
  uint64_t now = rte_get_tsc_cycles();
  if (ps->is_memif && now >= ps->next_check) port_maintain(port, ps, now);
  if (ps->stopped) return 0;
  struct rte_mbuf *mbufs[RAPR_MAX_BURST];
  uint16_t got = rx_burst(port, ps, mbufs, (uint16_t)max);
  if (got == 0) return 0;
  ps->stats[RAPR_STAT_RX_NONEMPTY_CALLS]++;
  ps->stats[RAPR_STAT_RX_PKTS] += got;

  uint32_t delivered = 0;
  for (uint16_t i = 0; i < got; i++) {
    struct rte_mbuf *m = mbufs[i];
    uint32_t frame_len;
    const uint8_t *frame = frame_bytes(m, &frame_len);
    if (!frame || frame_len < sizeof(struct rte_ether_hdr)) {
      ps->stats[RAPR_STAT_RX_MALFORMED]++;
      continue;
    }
    const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)frame;
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
      handle_arp(port, ps, frame, frame_len);
      continue;
    }
    if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
      ps->stats[RAPR_STAT_RX_NOT_FOR_US]++;
      continue;
    }
    int len = accept_udp(ps, frame, frame_len, slot_size);
    if (len < 0) continue;
    const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
    const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)(ip + 1);
    rte_memcpy(slots + (size_t)delivered * slot_size, udp + 1, (size_t)len);
    uint32_t *d = desc + delivered * RAPR_DESC_WORDS;
    d[0] = (uint32_t)len;
    d[1] = rte_be_to_cpu_32(ip->src_addr);
    d[2] = rte_be_to_cpu_16(udp->src_port);
    delivered++;
  }
  rte_pktmbuf_free_bulk(mbufs, got);
  ps->stats[RAPR_STAT_RX_DELIVERED] += delivered;
  return (int)delivered;
}

int rapr_dpdk_nap(uint32_t us) {
  static int slack_set;
  if (!slack_set) {
    prctl(PR_SET_TIMERSLACK, 1UL); /* default slack (50 µs) would turn every short nap into a long one */
    slack_set = 1;
  }
  if (us == 0) {
    sched_yield();
    return RAPR_OK;
  }
  struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
  nanosleep(&ts, NULL);
  return RAPR_OK;
}

int rapr_dpdk_stats(uint16_t port, uint64_t *out, uint32_t count) {
  struct port_state *ps = open_port(port);
  if (!ps) return fail(RAPR_E_PORT_NOT_OPEN, "port %u is not open", port);
  if (count > RAPR_STAT_COUNT) count = RAPR_STAT_COUNT;
  memcpy(out, ps->stats, count * sizeof(uint64_t));
  return (int)count;
}

int rapr_dpdk_port_close(uint16_t port) {
  struct port_state *ps = open_port(port);
  if (!ps) return fail(RAPR_E_PORT_NOT_OPEN, "port %u is not open", port);
  rte_eal_alarm_cancel(barrier_passed, ps);
  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);
  ps->open = 0;
  return RAPR_OK;
}
