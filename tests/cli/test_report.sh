#!/bin/bash
# SPDX-License-Identifier: MIT
# ds-report on the six-agent fixture mesh (tests/fixtures/report/make-fixtures.py says what
# happened in it): the known matrix and status counts in every output, the SVG's cells and
# chips read back with an XML parser, the OpenMetrics text checked by a parser (and by
# promtool when it is installed), malformed lines named file:line, bad files refused.
. "$(dirname "$0")/../lib.sh"
need_cmd ds-report python3

FIX=$DS_ROOT/tests/fixtures/report
MESH=("$FIX"/mesh-*.csv)

# The expected judgement of every direction that is not "within", per metric; all the
# other directions among the six agents are within baseline.
cat >"$TMP/expected" <<'EOF'
latency alpha bravo outside
latency charlie delta marginal
throughput delta alpha outside
loss bravo charlie outside
loss charlie bravo marginal
* echo foxtrot down
* foxtrot echo down
* alpha foxtrot none
* foxtrot alpha none
* charlie foxtrot none
* foxtrot charlie none
* delta foxtrot none
* foxtrot delta none
EOF

# --- terminal matrix ---
ds-report --color never -m latency "${MESH[@]}" >"$TMP/matrix" 2>"$TMP/err"
if [ $? -eq 0 ] && [ ! -s "$TMP/err" ] &&
	grep -Eq '^alpha +40\.0! +16\.[0-9] +19\.[0-9] +22\.[0-9] +stale $' "$TMP/matrix" &&
	grep -Eq '^charlie .* 27\.0~ ' "$TMP/matrix" &&
	grep -Eq '^foxtrot +stale .* refused +- +down' "$TMP/matrix" &&
	grep -q 'within baseline 20  marginal (~) 1  outside baseline (!) 1  down 2  no data 6' "$TMP/matrix"; then
	pass matrix-known-cells-and-counts
else
	fail matrix-known-cells-and-counts "$(cat "$TMP/matrix" "$TMP/err")"
fi
if ! grep -q $'\033\\[' "$TMP/matrix"; then pass color-never-has-no-escapes; else fail color-never-has-no-escapes; fi
ds-report -m latency "${MESH[@]}" >"$TMP/auto" # stdout is a file: auto means no colour
if cmp -s "$TMP/auto" "$TMP/matrix"; then pass color-auto-off-when-not-a-tty; else fail color-auto-off-when-not-a-tty; fi
ds-report --color always -m latency "${MESH[@]}" >"$TMP/color"
if grep -q $'\033\\[1;31m *40\\.0!\033\\[0m' "$TMP/color" && grep -q $'\033\\[33m *27\\.0~' "$TMP/color"; then
	pass color-always-marks-statuses
else
	fail color-always-marks-statuses "$(head -5 "$TMP/color" | cat -v)"
fi
ds-report --color never "${MESH[@]}" >"$TMP/all"
if [ "$(grep -c '^from\\to' "$TMP/all")" -eq 3 ] &&
	grep -q 'within baseline 21  marginal (~) 0  outside baseline (!) 1  down 2  no data 6' "$TMP/all"; then
	pass metric-all-prints-three-matrices
else
	fail metric-all-prints-three-matrices
fi

# --- CSV matrix: every direction's status per metric ---
ds-report --csv "${MESH[@]}" >"$TMP/cells.csv"
cat >"$TMP/check_csv.py" <<'EOF'
import csv, sys
exp = {}
for line in open(sys.argv[2]):
    m, s, d, st = line.split()
    for metric in (["latency", "throughput", "loss"] if m == "*" else [m]):
        exp[(metric, s, d)] = st
rows = list(csv.DictReader(open(sys.argv[1])))
agents = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
bad = []
if len(rows) != 30:
    bad.append("rows %d" % len(rows))
for r in rows:
    if not r["ts"] == "2026-11-23T12:14:58.102Z" or r["tool"] != "ds-report":
        bad.append("ts/tool %s" % r)
    for metric in ("latency", "throughput", "loss"):
        want = exp.get((metric, r["src"], r["dst"]), "within")
        if r[metric + "_status"] != want:
            bad.append("%s %s->%s is %s, want %s" % (metric, r["src"], r["dst"], r[metric + "_status"], want))
    if r["status"] == "none" and (r["rtt_ms"] or r["bw_mbps"] or r["loss_pct"]):
        bad.append("values in a cell without a current value: %s" % r)
ab = [r for r in rows if r["src"] == "alpha" and r["dst"] == "bravo"][0]
if (ab["rtt_ms"], ab["rtt_baseline_ms"], ab["path"]) != ("40.000", "10.000", "punch"):
    bad.append("alpha->bravo %s" % ab)
ef = [r for r in rows if r["src"] == "echo" and r["dst"] == "foxtrot"][0]
if ef["status"] != "down" or ef["rtt_ms"] != "" or ef["rtt_baseline_ms"] == "":
    bad.append("echo->foxtrot %s" % ef)
df = [r for r in rows if r["src"] == "delta" and r["dst"] == "foxtrot"][0]
if df["rows"] != "0" or df["last_ts"] != "":
    bad.append("delta->foxtrot %s" % df)
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
if out=$(python3 "$TMP/check_csv.py" "$TMP/cells.csv" "$TMP/expected" 2>&1); then
	pass csv-every-direction-judged-as-expected
else
	fail csv-every-direction-judged-as-expected "$out"
fi
ds-report --csv --no-header "${MESH[@]}" >"$TMP/nohdr.csv"
if [ "$(wc -l <"$TMP/nohdr.csv")" -eq 30 ] && ! grep -q '^ts,' "$TMP/nohdr.csv"; then
	pass csv-no-header
else
	fail csv-no-header
fi

# --- SVG heat map: parse it, check every cell, colour class and chip ---
ds-report --svg "$TMP/fleet.svg" "${MESH[@]}" >"$TMP/svg.out"
[ ! -s "$TMP/svg.out" ] && pass svg-alone-prints-nothing || fail svg-alone-prints-nothing
cat >"$TMP/check_svg.py" <<'EOF'
import sys
import xml.etree.ElementTree as ET
NS = "{http://www.w3.org/2000/svg}"
exp = {}
for line in open(sys.argv[2]):
    m, s, d, st = line.split()
    for metric in (["latency", "throughput", "loss"] if m == "*" else [m]):
        exp[(metric, s, d)] = st
root = ET.parse(sys.argv[1]).getroot()
bad = []
panels = root.findall(NS + "g[@class='panel']")
if [p.get("data-metric") for p in panels] != ["latency", "throughput", "loss"]:
    bad.append("panels %s" % [p.get("data-metric") for p in panels])
for p in panels:
    metric = p.get("data-metric")
    cells = p.findall(NS + "g[@class='cell']")
    if len(cells) != 30:
        bad.append("%s: %d cells" % (metric, len(cells)))
    seen = set()
    count = {}
    for c in cells:
        s, d, st = c.get("data-src"), c.get("data-dst"), c.get("data-status")
        seen.add((s, d))
        count[st] = count.get(st, 0) + 1
        want = exp.get((metric, s, d), "within")
        if st != want:
            bad.append("%s %s->%s is %s, want %s" % (metric, s, d, st, want))
        rect = c.find(NS + "rect")
        if rect is None or rect.get("class") != "s-" + st:
            bad.append("%s %s->%s colour class %s" % (metric, s, d, rect.get("class")))
        title = c.find(NS + "title").text
        if not title.startswith("%s → %s (from %s to %s)" % (s, d, s, d)):
            bad.append("title %r" % title)
    # Both directions of every pair are there, as different cells.
    if len(seen) != 30 or any((d, s) not in seen for (s, d) in seen):
        bad.append("%s: directions missing" % metric)
    chips = {ch.get("data-status"): int(ch.get("data-count")) for ch in p.findall(NS + "g[@class='chip']")}
    if chips != {k: count.get(k, 0) for k in ("within", "marginal", "outside", "down", "none")}:
        bad.append("%s: chips %s, cells %s" % (metric, chips, count))
    if metric == "latency" and chips != {"within": 20, "marginal": 1, "outside": 1, "down": 2, "none": 6}:
        bad.append("latency chips %s" % chips)
ab = [c for c in root.iter(NS + "g") if c.get("data-src") == "alpha" and c.get("data-dst") == "bravo"
      and c.get("data-metric") == "latency"][0]
if ab.get("data-value") != "40" or ab.get("data-baseline") != "10" or "relay" not in ab.find(NS + "title").text:
    bad.append("alpha->bravo %s %s" % (ab.attrib, ab.find(NS + "title").text))
ba = [c for c in root.iter(NS + "g") if c.get("data-src") == "bravo" and c.get("data-dst") == "alpha"
      and c.get("data-metric") == "latency"][0]
if ba.get("data-status") != "within":
    bad.append("bravo->alpha %s" % ba.attrib)
for el in root.iter():
    for k, v in el.attrib.items():
        if "href" in k and not v.startswith("#"):
            bad.append("external reference %s" % v)
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
if out=$(python3 "$TMP/check_svg.py" "$TMP/fleet.svg" "$TMP/expected" 2>&1); then
	pass svg-cells-colours-and-chips
else
	fail svg-cells-colours-and-chips "$out"
fi
if command -v xmllint >/dev/null; then
	check svg-well-formed-xml xmllint --noout "$TMP/fleet.svg"
fi
ds-report --svg - -m throughput "${MESH[@]}" >"$TMP/stdout.svg"
if head -1 "$TMP/stdout.svg" | grep -q '^<?xml' && [ "$(grep -c 'class="panel"' "$TMP/stdout.svg")" -eq 1 ]; then
	pass svg-to-stdout-one-metric
else
	fail svg-to-stdout-one-metric
fi

# Above 150 agents only the cells that need attention are drawn; the chips still count all.
python3 "$DS_ROOT/tests/bench/gen_results.py" -n 200 -c 2 >"$TMP/f200.csv"
ds-report --svg "$TMP/f200.svg" "$TMP/f200.csv"
cat >"$TMP/check_compact.py" <<'EOF'
import sys, xml.etree.ElementTree as E
NS = "{http://www.w3.org/2000/svg}"
root = E.parse(sys.argv[1]).getroot()
bad = []
for p in root.findall(NS + "g[@class='panel']"):
    cells = [g.get("data-status") for g in p.findall(NS + "g[@class='cell']")]
    chips = {g.get("data-status"): int(g.get("data-count")) for g in p.findall(NS + "g[@class='chip']")}
    if "within" in cells or sum(chips.values()) != 200 * 199:
        bad.append("%s: within cells drawn or chips %s" % (p.get("data-metric"), chips))
    for st in ("marginal", "outside", "down", "none"):
        if cells.count(st) != chips[st]:
            bad.append("%s: %d %s cells, chip says %d" % (p.get("data-metric"), cells.count(st), st, chips[st]))
    if p.get("data-metric") == "latency" and not chips["outside"]:
        bad.append("no outside cell in the slowed fleet")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
if out=$(python3 "$TMP/check_compact.py" "$TMP/f200.svg" 2>&1); then
	pass svg-compact-above-150-agents
else
	fail svg-compact-above-150-agents "$out"
fi

# --- OpenMetrics ---
ds-report --openmetrics "${MESH[@]}" >"$TMP/ds.prom"
cat >"$TMP/check_om.py" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
bad = []
if not text.endswith("# EOF\n"):
    bad.append("does not end with # EOF")
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label_re = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample_re = re.compile(r"^(%s)(\{%s(?:,%s)*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$" % (name_re, label_re, label_re))
typed, helped, done, current = {}, set(), set(), None
series = set()
samples = {}
for n, line in enumerate(text.splitlines(), 1):
    if line == "# EOF":
        if n != len(text.splitlines()):
            bad.append("# EOF before the end")
        continue
    if line.startswith("# TYPE "):
        _, _, name, typ = line.split(" ", 3)
        if name in typed or name in done:
            bad.append("%d: family %s declared twice" % (n, name))
        if typ not in ("gauge", "counter", "info", "stateset", "unknown"):
            bad.append("%d: type %s" % (n, typ))
        if current and current != name:
            done.add(current)
        typed[name] = typ
        current = name
        continue
    if line.startswith("# HELP "):
        helped.add(line.split(" ", 3)[2])
        continue
    if line.startswith("#"):
        bad.append("%d: stray comment %r" % (n, line))
        continue
    m = sample_re.match(line)
    if not m:
        bad.append("%d: bad sample %r" % (n, line))
        continue
    name = m.group(1)
    if name != current:
        bad.append("%d: sample %s outside its family (%s)" % (n, name, current))
    if (name, m.group(2)) in series:
        bad.append("%d: duplicate series %s" % (n, line))
    series.add((name, m.group(2)))
    samples[(name, m.group(2) or "")] = float(m.group(3))
for name in typed:
    if name not in helped:
        bad.append("no HELP for %s" % name)
def get(name, labels):
    return samples.get((name, "{" + labels + "}"))
checks = [
    ("ds_report_rtt_seconds", 'src="alpha",dst="bravo",path="relay"', 0.040),
    ("ds_report_rtt_baseline_seconds", 'src="alpha",dst="bravo",path="relay"', 0.010),
    ("ds_report_throughput_bytes_per_second", 'src="delta",dst="alpha",path="punch"', 1.25e6),
    ("ds_report_loss_ratio", 'src="bravo",dst="charlie",path="punch"', 0.08),
    ("ds_report_status", 'src="alpha",dst="bravo",path="relay",metric="latency"', 2),
    ("ds_report_status", 'src="charlie",dst="delta",path="lan",metric="latency"', 1),
    ("ds_report_status", 'src="echo",dst="foxtrot",path="",metric="loss"', 3),
    ("ds_report_cells", 'metric="latency",status="within"', 20),
    ("ds_report_cells", 'metric="loss",status="none"', 6),
]
for name, labels, want in checks:
    got = get(name, labels)
    if got is None or abs(got - want) > 1e-9 * max(1, abs(want)):
        bad.append("%s{%s} is %s, want %s" % (name, labels, got, want))
# A down direction has a status but no made-up value.
if get("ds_report_rtt_seconds", 'src="echo",dst="foxtrot",path="punch"') is not None:
    bad.append("a value for a down direction")
if any(n == "ds_report_status" and 'src="delta",dst="foxtrot"' in l for (n, l) in samples):
    bad.append("a status for a never-measured direction")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
if out=$(python3 "$TMP/check_om.py" "$TMP/ds.prom" 2>&1); then
	pass openmetrics-parses-with-expected-samples
else
	fail openmetrics-parses-with-expected-samples "$out"
fi
if command -v promtool >/dev/null; then
	if out=$(promtool check metrics <"$TMP/ds.prom" 2>&1); then
		pass openmetrics-promtool-check-metrics
	else
		fail openmetrics-promtool-check-metrics "$out"
	fi
else
	skip openmetrics-promtool-check-metrics "promtool not installed (Debian package prometheus)"
fi

# --- summary ---
ds-report --summary "${MESH[@]}" >"$TMP/summary"
if grep -q '^  1\. echo → foxtrot is down' "$TMP/summary" &&
	grep -q '^  1\. alpha → bravo latency is outside: 40\.0 ms against a baseline of 10\.0 ms (+30\.0 ms, 4\.0×), path relay\.$' "$TMP/summary" &&
	grep -q 'delta → alpha throughput is outside: 10\.0 Mbit/s against a baseline of 50\.0 Mbit/s (80 % lower)' "$TMP/summary" &&
	grep -q 'charlie → delta latency is marginal' "$TMP/summary" &&
	grep -q 'alpha → foxtrot: stale' "$TMP/summary" &&
	grep -q 'foxtrot → charlie: refused' "$TMP/summary" &&
	grep -q '^  1\. delta → foxtrot$' "$TMP/summary" &&
	grep -q '^  1\. alpha ⇄ echo throughput: 97\.0 Mbit/s alpha → echo, 9\.70 Mbit/s echo → alpha (10\.0×)\.$' "$TMP/summary"; then
	pass summary-ranks-down-slipped-and-asymmetric
else
	fail summary-ranks-down-slipped-and-asymmetric "$(cat "$TMP/summary")"
fi
# Outside before marginal in the slipped list.
if awk '/^Slipped/{on=1;next} on&&/^$/{exit} on' "$TMP/summary" | grep -o 'is [a-z]*:' | tr '\n' ' ' |
	grep -q '^is outside: is outside: is outside: is marginal: is marginal: $'; then
	pass summary-outside-before-marginal
else
	fail summary-outside-before-marginal
fi
ds-report --summary --top 1 "${MESH[@]}" >"$TMP/top1"
if grep -q '^  ... and 4 more$' "$TMP/top1" && ! grep -q '^  2\. ' "$TMP/top1"; then
	pass summary-top-limits-sections
else
	fail summary-top-limits-sections
fi

# --- thresholds are adjustable ---
ds-report --csv --latency-outside 500%,100ms "${MESH[@]}" | grep -q '^[^,]*,ds-report,alpha,bravo,[a-z]*,[a-z]*,marginal,' &&
	pass latency-outside-threshold-adjustable || fail latency-outside-threshold-adjustable
ds-report --csv --throughput-outside 90% "${MESH[@]}" | grep -q ',ds-report,delta,alpha,[a-z]*,[a-z]*,within,[^,]*,[^,]*,marginal,' &&
	pass throughput-threshold-adjustable || fail throughput-threshold-adjustable
ds-report --csv --loss-outside 10 --loss-marginal 5 "${MESH[@]}" | grep -q ',ds-report,bravo,charlie,.*,marginal,8\.000,' &&
	pass loss-threshold-adjustable || fail loss-threshold-adjustable
ds-report --csv --max-age 0 "${MESH[@]}" | grep -q ',ds-report,alpha,foxtrot,punch,within,' &&
	pass max-age-0-never-stale || fail max-age-0-never-stale
cat "${MESH[@]}" | ds-report --csv - 2>"$TMP/cat.err" | grep -q ',ds-report,alpha,bravo,punch,outside,' &&
	[ ! -s "$TMP/cat.err" ] && pass reads-standard-input-with-repeated-headers ||
	fail reads-standard-input-with-repeated-headers "$(head -3 "$TMP/cat.err")"

# --- malformed lines: warned with file:line, the rest used ---
ds-report --csv "$FIX/malformed.csv" >"$TMP/m.csv" 2>"$TMP/m.err"
rc=$?
want_lines="6 7 8 9 10 11 12"
got_lines=$(sed -n 's|^ds-report: .*/malformed\.csv:\([0-9]*\): .*; row skipped$|\1|p' "$TMP/m.err" | tr '\n' ' ')
if [ "$rc" -eq 0 ] && [ "$got_lines" = "$want_lines " ] &&
	grep -q 'malformed.csv:7: bad ts' "$TMP/m.err" && grep -q 'malformed.csv:11: bad loss_pct' "$TMP/m.err" &&
	grep -q ',ds-report,alpha,delta,punch,within,' "$TMP/m.csv"; then
	pass malformed-lines-skipped-with-file-line
else
	fail malformed-lines-skipped-with-file-line "rc $rc, lines '$got_lines': $(cat "$TMP/m.err")"
fi
# A clock running ahead: its rows are refused, so they cannot make the rest look stale.
{ cat "$FIX/mesh-alpha.csv"; echo '2099-01-01T00:00:00.000Z,ds-mesh,x,alpha,bravo,fwd,punch,ok,10,,,,,,0,50,,'; } >"$TMP/future.csv"
ds-report --csv "$TMP/future.csv" >"$TMP/f.csv" 2>"$TMP/f.err"
if grep -q 'future.csv:70: ts is in the future' "$TMP/f.err" && grep -q ',ds-report,alpha,bravo,relay,outside,' "$TMP/f.csv"; then
	pass future-row-refused-with-file-line
else
	fail future-row-refused-with-file-line "$(cat "$TMP/f.err")"
fi
ds-report -q --csv "$FIX/malformed.csv" >/dev/null 2>"$TMP/q.err"
[ ! -s "$TMP/q.err" ] && pass quiet-silences-row-warnings || fail quiet-silences-row-warnings
# Many bad lines: 20 warnings, then one line with the total.
{ head -1 "$FIX/mesh-alpha.csv"; for i in $(seq 1 50); do echo "garbage,$i"; done; sed -n 2,3p "$FIX/mesh-alpha.csv"; } >"$TMP/many.csv"
ds-report --csv "$TMP/many.csv" >/dev/null 2>"$TMP/many.err"
if [ "$(grep -c 'row skipped' "$TMP/many.err")" -eq 20 ] && grep -q 'many.csv: 50 rows skipped in all' "$TMP/many.err"; then
	pass warnings-capped-per-file
else
	fail warnings-capped-per-file "$(tail -2 "$TMP/many.err")"
fi

# --- files that are not results files ---
expect_exit 1 missing-column-exit-1 ds-report "$FIX/pairprobe-row.csv" "${MESH[@]}"
if [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "pairprobe-row.csv: missing column 'outcome'" "$TMP/err" && [ ! -s "$TMP/out" ]; then
	pass missing-column-one-line-names-file-and-column
else
	fail missing-column-one-line-names-file-and-column "$(cat "$TMP/err")"
fi
expect_exit 1 unreadable-file-exit-1 ds-report "$TMP/no-such-file.csv"
grep -q 'no-such-file.csv' "$TMP/err" && pass unreadable-file-named || fail unreadable-file-named
expect_exit 0 empty-file-skipped ds-report --csv "$FIX/empty.csv" "${MESH[@]}"
grep -q 'empty.csv: no header row' "$TMP/err" && pass empty-file-warned || fail empty-file-warned
expect_exit 1 only-empty-file-exit-1 ds-report "$FIX/empty.csv"

expect_exit 1 svg-unwritable-exit-1 ds-report --svg "$TMP/no/such/dir/x.svg" "${MESH[@]}"
grep -q -- "--svg $TMP/no/such/dir/x.svg: No such file" "$TMP/err" && pass svg-unwritable-named || fail svg-unwritable-named "$(cat "$TMP/err")"

# --- usage errors ---
expect_exit 2 no-file-usage-error ds-report
expect_exit 2 bad-metric-usage-error ds-report -m speed "${MESH[@]}"
expect_exit 2 bad-threshold-usage-error ds-report --latency-marginal 20%,fast "${MESH[@]}"
expect_exit 2 bad-color-usage-error ds-report --color sometimes "${MESH[@]}"
expect_exit 2 two-stdout-outputs-usage-error ds-report --csv --summary "${MESH[@]}"
expect_exit 2 outside-below-marginal-usage-error ds-report --loss-outside 0.5 "${MESH[@]}"
t_done
