// SPDX-License-Identifier: GPL-2.0-only
//
// Validates Kubernetes manifests against the Kubernetes API schema, as
// `kubectl apply -f DIR` would take them (files in name order):
//  - each document against the JSON schema of its apiVersion and kind
//    (kubernetes-models: the API's OpenAPI schema compiled for ajv);
//  - strictly: a field the API does not know (a misspelled key, a key at
//    the wrong level) is an error, as with `kubectl apply --validate=strict`.
//    The JSON schemas allow unknown fields, so the documents are also type-
//    checked as object literals of kubernetes-models' own TypeScript types;
//  - every namespaced object's Namespace is created before it.
// Usage: node validate-manifests.js DIR   (exit 0 valid, 1 not, 2 usage)
"use strict";

const fs = require("fs");
const path = require("path");
const YAML = require("yaml");
const ts = require("typescript");

const dir = process.argv[2];
if (!dir || !fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
	console.error("usage: node validate-manifests.js DIR");
	process.exit(2);
}

let failures = 0;
function fail(where, msg) {
	console.error(`${where}: ${msg}`);
	failures++;
}

// kubectl reads .yaml, .yml and .json files in name order.
const files = fs.readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
if (files.length === 0)
	fail(dir, "no manifests");

// "apps/v1" -> "kubernetes-models/apps/v1"; the core group "v1" -> "kubernetes-models/v1".
function modelModule(apiVersion) {
	return `kubernetes-models/${apiVersion}`;
}

const docs = []; // { where, obj, module, kind }
for (const f of files) {
	const text = fs.readFileSync(path.join(dir, f), "utf8");
	YAML.parseAllDocuments(text).forEach((d, i) => {
		const where = `${f} (document ${i + 1})`;
		if (d.errors.length) {
			fail(where, `not YAML: ${d.errors[0].message}`);
			return;
		}
		const obj = d.toJS();
		if (obj === null || obj === undefined)
			return;
		if (typeof obj !== "object" || !obj.apiVersion || !obj.kind) {
			fail(where, "not a Kubernetes object (apiVersion and kind)");
			return;
		}
		docs.push({ where, obj, module: modelModule(obj.apiVersion), kind: obj.kind });
	});
}

// 1. The JSON schema of each kind.
for (const d of docs) {
	let Model;
	try {
		Model = require(d.module)[d.kind];
	} catch (e) {
		Model = undefined;
	}
	if (typeof Model !== "function") {
		fail(d.where, `unknown kind ${d.obj.apiVersion} ${d.kind}`);
		d.unknown = true;
		continue;
	}
	try {
		new Model(d.obj).validate();
	} catch (e) {
		fail(d.where, `${d.kind} ${d.obj.metadata?.name ?? ""}: ${e.message}`);
	}
}

// 2. Strict fields: a TypeScript program of typed object literals, compiled in
// memory beside node_modules (so that the types resolve).
const known = docs.filter((d) => !d.unknown);
const virtualDir = path.join(__dirname, "__manifests__");
const virtual = new Map();
known.forEach((d, i) => {
	const name = path.join(virtualDir, `m${i}.ts`);
	virtual.set(name, {
		doc: d,
		text: `import type { I${d.kind} } from "${d.module}/${d.kind}";\n` +
			`export const m: I${d.kind} = ${JSON.stringify(d.obj, null, 1)};\n`,
	});
});
const options = { noEmit: true, strict: true, skipLibCheck: true, target: ts.ScriptTarget.ES2020,
	module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, types: [] };
const host = ts.createCompilerHost(options);
const { getSourceFile, fileExists, readFile } = host;
host.fileExists = (f) => virtual.has(f) || fileExists.call(host, f);
host.readFile = (f) => virtual.get(f)?.text ?? readFile.call(host, f);
host.getSourceFile = (f, lang, ...rest) => virtual.has(f) ?
	ts.createSourceFile(f, virtual.get(f).text, lang) : getSourceFile.call(host, f, lang, ...rest);
const program = ts.createProgram([...virtual.keys()], options, host);
for (const diag of ts.getPreEmitDiagnostics(program)) {
	const v = diag.file && virtual.get(diag.file.fileName);
	const msg = ts.flattenDiagnosticMessageText(diag.messageText, "; ");
	if (v)
		fail(v.doc.where, `${v.doc.kind} ${v.doc.obj.metadata?.name ?? ""}: ${msg}`);
	else
		fail("typescript", msg);
}

// 3. Namespaces before what lives in them.
const created = new Set();
for (const d of docs) {
	const ns = d.obj.metadata?.namespace;
	if (d.kind === "Namespace")
		created.add(d.obj.metadata?.name);
	else if (ns && !created.has(ns))
		fail(d.where, `${d.kind} ${d.obj.metadata?.name} in namespace ${ns}, ` +
			"which no earlier document creates (kubectl applies files in name order)");
}

if (failures) {
	console.error(`${dir}: ${failures} error(s)`);
	process.exit(1);
}
console.log(`${dir}: ${docs.length} objects valid (${docs.map((d) => d.kind).join(", ")})`);
