// SPDX-License-Identifier: GPL-2.0-only
//
// Holds the Grafana dashboard and the Prometheus alert rules to what a real
// agent exports (scrapes of its /metrics, taken by tests/e2e/test_monitoring.sh).
//
//   node monitoring.js check --scrape INSTANCE=FILE... --dashboard JSON
//        --rules YAML --tests YAML
//     Every metric a dashboard query, template query, alert rule or alert
//     test series names is exported; every label a matcher or a by/on/
//     without/ignoring clause names is a label of a metric of that query (or
//     the scrape's job and instance); every value a matcher or a test series
//     gives a label of fixed values (direction, reason, result, map) is one
//     the agent exports. Exit 1 with one line per mismatch.
//
//   node monitoring.js emit-test --scrape INSTANCE=FILE[,FILE...]...
//        --dashboard JSON --rules YAML --out DIR --eval MINUTES
//        [--step MINUTES] [--expect 'Alert{label="v",...}']...
//     Writes DIR/test.yml for `promtool test rules`: the real series as input
//     (a scrape's values held for --step minutes, then the next scrape's;
//     timestamps shifted onto the test's clock), the alert rules without
//     their annotations (DIR/alerts.yml: the expressions are under test here,
//     the texts in tests/deploy/speebpf-alerts.test.yml), and one alert per
//     dashboard query that fires when the query returns nothing
//     (DIR/dashboard.yml). At --eval, no dashboard query is empty, the
//     --expect alerts fire and no other alert does.
"use strict";

const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const TARGET_LABELS = new Set(["job", "instance"]);
// Labels whose values the agent fixes (the others come from the config).
const FIXED_VALUES = new Set(["direction", "reason", "result", "map"]);

function usage() {
	console.error("usage: node monitoring.js check|emit-test --scrape INSTANCE=FILE ... (see the header)");
	process.exit(2);
}

function parseArgs(argv) {
	const a = { scrape: [], expect: [] };
	for (let i = 0; i < argv.length; i++) {
		const k = argv[i].replace(/^--/, "");
		if (!argv[i].startsWith("--") || i + 1 >= argv.length)
			usage();
		const v = argv[++i];
		if (Array.isArray(a[k]))
			a[k].push(v);
		else
			a[k] = v;
	}
	return a;
}

// "name{a="b",c="d"} 12" -> { name, labels, value }. The agent's label
// values are quoted with \" and \\ escaped.
function parseSample(line) {
	const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
	if (!m)
		return null;
	const labels = {};
	const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;
	let l;
	while ((l = re.exec(m[3] ?? "")))
		labels[l[1]] = l[2].replace(/\\(.)/g, "$1");
	return { name: m[1], labels, value: Number(m[4]) };
}

function readScrape(file) {
	const samples = [];
	for (const line of fs.readFileSync(file, "utf8").split("\n")) {
		if (!line || line.startsWith("#"))
			continue;
		const s = parseSample(line);
		if (!s)
			throw new Error(`${file}: not the exposition format: ${line}`);
		samples.push(s);
	}
	if (!samples.length)
		throw new Error(`${file}: no samples`);
	return { samples, time: fs.statSync(file).mtimeMs / 1000 };
}

// metric -> label -> Set of values, over every scrape.
function exported(scrapes) {
	const m = new Map();
	for (const sc of scrapes)
		for (const s of sc.samples) {
			if (!m.has(s.name))
				m.set(s.name, new Map());
			for (const [k, v] of Object.entries(s.labels)) {
				if (!m.get(s.name).has(k))
					m.get(s.name).set(k, new Set());
				m.get(s.name).get(k).add(v);
			}
		}
	return m;
}

// --scrape INSTANCE=FILE[,FILE...] -> [{ instance, scrapes: [...] }]
function loadScrapes(args) {
	if (!args.scrape.length)
		usage();
	return args.scrape.map((spec) => {
		const eq = spec.indexOf("=");
		if (eq < 1)
			usage();
		return { instance: spec.slice(0, eq), scrapes: spec.slice(eq + 1).split(",").map(readScrape) };
	});
}

// Every PromQL expression of the dashboard: panel targets (rows included) and
// template queries, each with where it comes from.
function dashboardQueries(file) {
	const dash = JSON.parse(fs.readFileSync(file, "utf8"));
	const out = [];
	const walk = (panels) => {
		for (const p of panels ?? []) {
			for (const t of p.targets ?? [])
				if (t.expr)
					out.push({ where: `dashboard panel ${p.id} "${p.title}" ${t.refId}`, expr: t.expr, panel: p, target: t });
			walk(p.panels);
		}
	};
	walk(dash.panels);
	for (const v of dash.templating?.list ?? []) {
		const q = typeof v.query === "string" ? v.query : v.query?.query;
		if (v.type === "query" && q)
			out.push({ where: `dashboard variable $${v.name}`, expr: q.replace(/^label_values\((.*),\s*\w+\)$/, "$1"), template: true });
	}
	return out;
}

function ruleQueries(file) {
	const doc = YAML.parse(fs.readFileSync(file, "utf8"));
	const out = [];
	for (const g of doc.groups ?? [])
		for (const r of g.rules ?? [])
			out.push({ where: `rule ${r.alert ?? r.record}`, expr: String(r.expr), rule: r });
	return out;
}

// The dashboard's variables, as Prometheus would see them with every value.
function substitute(expr) {
	return expr.replace(/\$__rate_interval/g, "5m").replace(/\$__range/g, "1h")
		.replace(/\$__interval/g, "1m").replace(/=~"\$(job|instance)"/g, '=~".*"');
}

function checkQuery(q, metrics, fail) {
	const names = [...new Set(q.expr.match(/\bspeebpf_[a-z0-9_]+\b/g) ?? [])];
	if (!names.length)
		fail(`${q.where}: names no speebpf metric: ${q.expr}`);
	const labelsOf = new Set(TARGET_LABELS);
	for (const n of names) {
		if (!metrics.has(n)) {
			fail(`${q.where}: ${n} is not exported by the agent`);
			continue;
		}
		for (const l of metrics.get(n).keys())
			labelsOf.add(l);
	}
	// name{matchers}
	const sel = /\b(speebpf_[a-z0-9_]+)\s*\{([^}]*)\}/g;
	let m;
	while ((m = sel.exec(q.expr))) {
		const known = metrics.get(m[1]);
		if (!known)
			continue;
		const mre = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g;
		let mm;
		while ((mm = mre.exec(m[2]))) {
			const [, label, op, value] = mm;
			if (TARGET_LABELS.has(label))
				continue;
			// label="": the series without it (a gateway's drops come per host besides)
			if (op === "=" && value === "")
				continue;
			if (!known.has(label))
				fail(`${q.where}: ${m[1]} has no label ${label}`);
			else if (op === "=" && !value.includes("$") && FIXED_VALUES.has(label) &&
				 !known.get(label).has(value))
				fail(`${q.where}: ${m[1]}{${label}="${value}"}: the agent exports ${label} = ${[...known.get(label)].join(", ")}`);
		}
	}
	// by (...), on (...), without (...), ignoring (...)
	const grp = /\b(by|on|without|ignoring)\s*\(([^)]*)\)/g;
	while ((m = grp.exec(q.expr)))
		for (const l of m[2].split(",").map((s) => s.trim()).filter(Boolean))
			if (!labelsOf.has(l))
				fail(`${q.where}: ${m[1]} (${l}): no metric of the query has the label ${l}`);
}

function checkTestSeries(file, metrics, fail) {
	const doc = YAML.parse(fs.readFileSync(file, "utf8"));
	let n = 0;
	for (const t of doc.tests ?? [])
		for (const is of t.input_series ?? []) {
			const s = parseSample(`${is.series} 0`);
			const where = `${path.basename(file)}: series ${is.series}`;
			n++;
			if (!s || !metrics.has(s.name)) {
				fail(`${where}: ${s ? s.name : "?"} is not exported by the agent`);
				continue;
			}
			const known = metrics.get(s.name);
			for (const [k, v] of Object.entries(s.labels)) {
				if (TARGET_LABELS.has(k))
					continue;
				if (!known.has(k))
					fail(`${where}: ${s.name} has no label ${k}`);
				else if (FIXED_VALUES.has(k) && !known.get(k).has(v))
					fail(`${where}: the agent exports ${k} = ${[...known.get(k)].join(", ")}`);
			}
			for (const k of known.keys())
				if (!(k in s.labels))
					fail(`${where}: lacks the label ${k} the agent exports`);
		}
	return n;
}

function check(args) {
	const metrics = exported(loadScrapes(args).flatMap((i) => i.scrapes));
	let failures = 0;
	const fail = (msg) => {
		console.error(msg);
		failures++;
	};
	const queries = [];
	if (args.dashboard)
		queries.push(...dashboardQueries(args.dashboard));
	if (args.rules)
		queries.push(...ruleQueries(args.rules));
	for (const q of queries)
		checkQuery(q, metrics, fail);
	const series = args.tests ? checkTestSeries(args.tests, metrics, fail) : 0;
	if (failures) {
		console.error(`${failures} mismatch(es) with the metrics the agent exports`);
		process.exit(1);
	}
	const names = new Set(queries.flatMap((q) => q.expr.match(/\bspeebpf_[a-z0-9_]+\b/g) ?? []));
	console.log(`${queries.length} queries and ${series} test series name ${names.size} metrics, ` +
		    `all exported (of ${metrics.size})`);
}

function seriesName(name, labels) {
	const l = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",");
	return `${name}{${l}}`;
}

function emitTest(args) {
	const step = Number(args.step ?? 30);
	const evalAt = Number(args.eval);
	if (!args.out || !args.rules || !args.dashboard || !(evalAt > 0))
		usage();
	fs.mkdirSync(args.out, { recursive: true });

	// The input series: each scrape's value held for `step` minutes.
	const input = new Map();
	for (const inst of loadScrapes(args)) {
		inst.scrapes.forEach((sc, k) => {
			for (const s of sc.samples) {
				const key = seriesName(s.name, { ...s.labels, job: "speebpf", instance: inst.instance });
				if (!input.has(key))
					input.set(key, []);
				let v = s.value;
				// A Unix time (0: never) onto the test's clock, where the scrape is at k * step.
				if (s.name.endsWith("_timestamp_seconds") && v > 0)
					v = Math.max(1, Math.round(v - sc.time + k * step * 60));
				input.get(key)[k] = v;
			}
		});
		const n = inst.scrapes.length;
		for (const vals of input.values())
			for (let k = 1; k < n; k++)
				if (vals[k] === undefined)
					vals[k] = vals[k - 1];
	}
	const inputSeries = [...input].map(([series, vals]) => ({
		series,
		values: vals.filter((v) => v !== undefined).map((v) => `${v}x${step}`).join(" "),
	}));

	// The alert rules without annotations; the dashboard's queries as alerts.
	const rules = YAML.parse(fs.readFileSync(args.rules, "utf8"));
	const alertNames = [];
	for (const g of rules.groups)
		for (const r of g.rules) {
			delete r.annotations;
			if (r.alert)
				alertNames.push(r.alert);
		}
	fs.writeFileSync(path.join(args.out, "alerts.yml"), YAML.stringify(rules));
	const dq = dashboardQueries(args.dashboard).filter((q) => !q.template).map((q, i) => ({
		alert: `DashboardQueryEmpty${i}`,
		expr: `absent(${substitute(q.expr)})`,
		labels: { query: q.where },
	}));
	fs.writeFileSync(path.join(args.out, "dashboard.yml"),
			 YAML.stringify({ groups: [{ name: "dashboard", rules: dq }] }));

	// --expect 'Alert{a="b"}': the alert fires with these labels (and its own).
	const expected = new Map();
	for (const e of args.expect) {
		const s = parseSample(`${e} 0`);
		if (!s || !alertNames.includes(s.name))
			throw new Error(`--expect ${e}: no such alert`);
		if (!expected.has(s.name))
			expected.set(s.name, []);
		expected.get(s.name).push(s.labels);
	}
	const tests = [];
	for (const a of alertNames) {
		const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === a);
		tests.push({
			eval_time: `${evalAt}m`,
			alertname: a,
			exp_alerts: (expected.get(a) ?? []).map((labels) => ({ exp_labels: { ...rule.labels, ...labels } })),
		});
	}
	for (const q of dq)
		tests.push({ eval_time: `${evalAt}m`, alertname: q.alert, exp_alerts: [] });
	const test = {
		rule_files: ["alerts.yml", "dashboard.yml"],
		evaluation_interval: "1m",
		tests: [{ interval: "1m", input_series: inputSeries, alert_rule_test: tests }],
	};
	fs.writeFileSync(path.join(args.out, "test.yml"), YAML.stringify(test, { lineWidth: 0 }));
	console.log(`${path.join(args.out, "test.yml")}: ${inputSeries.length} real series, ` +
		    `${alertNames.length} alert rules, ${dq.length} dashboard queries`);
}

const [cmd, ...rest] = process.argv.slice(2);
try {
	if (cmd === "check")
		check(parseArgs(rest));
	else if (cmd === "emit-test")
		emitTest(parseArgs(rest));
	else
		usage();
} catch (e) {
	console.error(`monitoring.js: ${e.message}`);
	process.exit(1);
}
