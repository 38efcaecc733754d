/* Small C helpers for things bindgen cannot express (thread-local macros). */
#include "wrapper.h"

int efdlb_rte_errno(void)
{
	return rte_errno;
}
