/* libFuzzer: the datapath's packet parsers (bpf/lib/parse_inner.h, parse_outer.h) compiled as
 * plain C, on a heap buffer exactly as long as the input, so AddressSanitizer catches any read past
 * the frame that the bounds checks should have prevented. Every VXLAN frame's inner frame is
 * parsed too, as the receive and transit programs do. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/parse_outer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	struct qps_roce_flow flow;
	struct qps_outer o;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(&flow, 0, sizeof(flow));
	qps_parse_rocev2(buf, buf + size, &flow);
	memset(&o, 0, sizeof(o));
	if (qps_parse_vxlan(buf, buf + size, 4789, &o) == QPS_PARSE_OK) {
		if ((uint8_t *)o.inner < buf || (uint8_t *)o.inner > buf + size)
			abort(); /* the inner frame must start inside the frame (or at its end) */
		qps_parse_rocev2(o.inner, buf + size, &flow);
	}
	free(buf);
	return 0;
}
