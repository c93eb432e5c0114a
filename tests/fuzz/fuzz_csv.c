// SPDX-License-Identifier: MIT
/* The CSV reader takes results files gathered from many agents: any bytes at all. */
#include <stddef.h>
#include <stdint.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_csv_reader *rd;
	int r, i, n;

	if (ds_csv_reader_mem((const char *)data, size, &rd) < 0)
		return 0;
	n = ds_csv_reader_ncolumns(rd);
	while ((r = ds_csv_reader_next(rd)) != 0) {
		(void)ds_csv_reader_line(rd);
		for (i = 0; r > 0 && i < n; i++)
			(void)ds_csv_reader_get(rd, i);
		(void)ds_csv_reader_get_name(rd, "ts");
	}
	ds_csv_reader_free(rd);
	return 0;
}
