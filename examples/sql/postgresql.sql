-- SPDX-License-Identifier: MIT
-- Mesh results files (ds-results(5)) into PostgreSQL.
--
--   psql -d netops -f examples/sql/postgresql.sql             (once: the table)
--   for f in results/*/2026-11-23.csv; do
--     psql -d netops -c "\copy ds_results FROM '$f' WITH (FORMAT csv, HEADER match)"
--   done
--
-- HEADER MATCH (PostgreSQL 15+) refuses a file whose header differs from the table's
-- columns; on older servers use HEADER true. Empty fields load as NULL, never as 0:
-- that is what the format means by a missing value. At fleet scale (1,000 agents,
-- ~999,000 rows per 2-minute cycle, ~720 M rows a day) partition by day and keep raw
-- rows only as long as you need them; the per-hour roll-up below is what dashboards read.

CREATE TABLE IF NOT EXISTS ds_results (
	ts                  timestamptz NOT NULL,
	tool                text,
	run_id              text,
	src                 text NOT NULL,
	dst                 text NOT NULL,
	direction           text CHECK (direction IN ('fwd', 'rev')),
	path                text,
	outcome             text NOT NULL CHECK (outcome IN ('ok', 'down', 'refused', 'disabled', 'error')),
	rtt_ms              double precision,
	rtt_min_ms          double precision,
	rtt_ewma_ms         double precision,
	owd_ms              double precision,
	jitter_ms           double precision,
	owd_var_ms          double precision,
	loss_pct            double precision,
	bw_mbps             double precision,
	bw_lower_bound_mbps double precision,
	bytes               bigint
) PARTITION BY RANGE (ts);

CREATE TABLE IF NOT EXISTS ds_results_2026_11_23 PARTITION OF ds_results
	FOR VALUES FROM ('2026-11-23') TO ('2026-11-24');
CREATE INDEX IF NOT EXISTS ds_results_dir_ts ON ds_results (src, dst, ts);

-- Loading a file (psql's client-side \copy reads it where psql runs):
-- \copy ds_results FROM 'results/alpha/2026-11-23.csv' WITH (FORMAT csv, HEADER match)

-- Per direction and hour: median RTT as the source saw it, the best (5th percentile)
-- as ds-report's baseline would take it, and how often the direction was down.
CREATE OR REPLACE VIEW ds_results_hourly AS
SELECT date_trunc('hour', ts) AS hour, src, dst,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY rtt_ms)
	       FILTER (WHERE direction IS DISTINCT FROM 'rev') AS rtt_median_ms,
       percentile_disc(0.05) WITHIN GROUP (ORDER BY rtt_ms)
	       FILTER (WHERE direction IS DISTINCT FROM 'rev') AS rtt_best_ms,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY bw_mbps) AS bw_median_mbps,
       avg(loss_pct) AS loss_mean_pct,
       count(*) FILTER (WHERE outcome = 'down') AS down_rows,
       count(*) AS rows
FROM ds_results
GROUP BY 1, 2, 3;
