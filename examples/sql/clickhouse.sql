-- SPDX-License-Identifier: MIT
-- Mesh results files (ds-results(5)) into ClickHouse.
--
--   clickhouse-client --multiquery < examples/sql/clickhouse.sql         (once: the table)
--   for f in results/*/2026-11-23.csv; do
--     clickhouse-client --query 'INSERT INTO ds_results FORMAT CSVWithNames' < "$f"
--   done
--
-- CSVWithNames matches columns by the header's names (input_format_with_names_use_header,
-- on by default), so a file with extra or reordered columns still loads. Empty fields go
-- into Nullable columns as NULL (input_format_csv_empty_as_default = 0 below), never 0.
-- A 1,000-agent fleet writes ~999,000 rows per 2-minute cycle (~720 M rows, ~100 GB of
-- CSV a day); MergeTree compresses that to a few GB a day ordered by direction and time.

CREATE TABLE IF NOT EXISTS ds_results
(
	ts                  DateTime64(3, 'UTC'),
	tool                LowCardinality(String),
	run_id              String,
	src                 LowCardinality(String),
	dst                 LowCardinality(String),
	direction           LowCardinality(Nullable(String)),
	path                LowCardinality(Nullable(String)),
	outcome             Enum8('ok' = 1, 'down' = 2, 'refused' = 3, 'disabled' = 4, 'error' = 5),
	rtt_ms              Nullable(Float64),
	rtt_min_ms          Nullable(Float64),
	rtt_ewma_ms         Nullable(Float64),
	owd_ms              Nullable(Float64),
	jitter_ms           Nullable(Float64),
	owd_var_ms          Nullable(Float64),
	loss_pct            Nullable(Float64),
	bw_mbps             Nullable(Float64),
	bw_lower_bound_mbps Nullable(Float64),
	bytes               Nullable(UInt64)
)
ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (src, dst, ts)
TTL toDateTime(ts) + INTERVAL 30 DAY;

-- The load, as a statement (clickhouse-client reads the file from stdin):
--   INSERT INTO ds_results
--   SETTINGS input_format_csv_empty_as_default = 0, date_time_input_format = 'best_effort'
--   FORMAT CSVWithNames
-- Or server-side from a gathered directory:
INSERT INTO ds_results
SETTINGS input_format_csv_empty_as_default = 0, date_time_input_format = 'best_effort'
SELECT * FROM file('results/*/2026-11-23.csv', 'CSVWithNames');

-- Per direction and hour, the same figures ds-report judges by.
SELECT toStartOfHour(ts) AS hour, src, dst,
       quantileExactIf(0.5)(rtt_ms, ifNull(direction, '') != 'rev') AS rtt_median_ms,
       quantileExactLowIf(0.05)(rtt_ms, ifNull(direction, '') != 'rev') AS rtt_best_ms,
       quantileExact(0.5)(bw_mbps) AS bw_median_mbps,
       avg(loss_pct) AS loss_mean_pct,
       countIf(outcome = 'down') AS down_rows,
       count() AS rows
FROM ds_results
WHERE ts >= now() - INTERVAL 1 DAY
GROUP BY hour, src, dst
ORDER BY hour, src, dst;
