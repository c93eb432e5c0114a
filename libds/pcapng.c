// SPDX-License-Identifier: MIT
#include "pcapng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_EPB 0x00000006u
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define OPT_END 0
#define OPT_COMMENT 1
#define SHB_USERAPPL 4
#define IF_NAME 2
#define IF_TSRESOL 9

struct ds_pcapng {
	FILE *f;
	int err;
};

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static void put(struct ds_pcapng *w, const void *p, size_t n)
{
	if (!w->err && n && fwrite(p, 1, n, w->f) != n)
		w->err = -EIO;
}

static void put32(struct ds_pcapng *w, uint32_t v)
{
	put(w, &v, 4); /* host byte order: the byte-order magic tells readers which */
}

static void put16(struct ds_pcapng *w, uint16_t v)
{
	put(w, &v, 2);
}

static size_t opt_len(const char *s)
{
	return s ? 4 + pad4(strlen(s)) : 0;
}

static void put_opt(struct ds_pcapng *w, uint16_t code, const void *val, size_t len)
{
	static const uint8_t zeros[4];

	put16(w, code);
	put16(w, (uint16_t)len);
	put(w, val, len);
	put(w, zeros, pad4(len) - len);
}

int ds_pcapng_new(FILE *f, int linktype, uint32_t snaplen, const char *ifname,
		  const char *comment, struct ds_pcapng **out)
{
	struct ds_pcapng *w = calloc(1, sizeof(*w));
	char appl[64];
	uint8_t tsresol = 9; /* 10^-9: nanoseconds */
	size_t len;

	if (!w)
		return -ENOMEM;
	w->f = f;
	if (comment && strlen(comment) > 0xffff)
		comment = NULL;
	if (ifname && strlen(ifname) > 0xffff)
		ifname = NULL;
	snprintf(appl, sizeof(appl), "datastun %s", ds_version());

	/* Section Header Block. */
	len = 28 + opt_len(appl) + opt_len(comment) + 4;
	put32(w, BT_SHB);
	put32(w, (uint32_t)len);
	put32(w, BYTE_ORDER_MAGIC);
	put16(w, 1);
	put16(w, 0);
	put32(w, 0xffffffffu); /* section length unknown */
	put32(w, 0xffffffffu);
	put_opt(w, SHB_USERAPPL, appl, strlen(appl));
	if (comment)
		put_opt(w, OPT_COMMENT, comment, strlen(comment));
	put32(w, OPT_END);
	put32(w, (uint32_t)len);

	/* Interface Description Block. */
	len = 20 + opt_len(ifname) + 8 + 4;
	put32(w, BT_IDB);
	put32(w, (uint32_t)len);
	put16(w, (uint16_t)linktype);
	put16(w, 0);
	put32(w, snaplen);
	if (ifname)
		put_opt(w, IF_NAME, ifname, strlen(ifname));
	put_opt(w, IF_TSRESOL, &tsresol, 1);
	put32(w, OPT_END);
	put32(w, (uint32_t)len);
	if (w->err) {
		free(w);
		return -EIO;
	}
	*out = w;
	return 0;
}

int ds_pcapng_write(struct ds_pcapng *w, int64_t ts_ns, const void *data, uint32_t caplen,
		    uint32_t origlen)
{
	static const uint8_t zeros[4];
	uint64_t ts = (uint64_t)ts_ns;
	size_t len = 32 + pad4(caplen);

	put32(w, BT_EPB);
	put32(w, (uint32_t)len);
	put32(w, 0); /* interface 0 */
	put32(w, (uint32_t)(ts >> 32));
	put32(w, (uint32_t)ts);
	put32(w, caplen);
	put32(w, origlen);
	put(w, data, caplen);
	put(w, zeros, pad4(caplen) - caplen);
	put32(w, (uint32_t)len);
	return w->err;
}

int ds_pcapng_flush(struct ds_pcapng *w)
{
	if (!w->err && fflush(w->f) != 0)
		w->err = -EIO;
	return w->err;
}

int ds_pcapng_free(struct ds_pcapng *w)
{
	int r;

	if (!w)
		return 0;
	r = ds_pcapng_flush(w);
	free(w);
	return r;
}
