/* The DPDK headers efd-lb binds to. */
#include <rte_config.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_memory.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ethdev.h>
#include <rte_efd.h>
#include <rte_thread.h>

/* rte_errno is a per-lcore (thread-local) variable behind a macro. */
int efdlb_rte_errno(void);
