// Parse an AsyncAPI document with the reference parser (@asyncapi/parser,
// pinned in package-lock.json) and fail on any diagnostic of severity
// error: schema violations, unresolved $ref (docs/schema/*.json), message
// examples that do not match their payload's schema.  Every diagnostic is
// printed with its path and line, so a failure says where.
//
//   node check.mjs ../../docs/asyncapi.yaml
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const { Parser, fromFile, DiagnosticSeverity } = require("@asyncapi/parser");

const NAMES = {
  [DiagnosticSeverity.Error]: "error",
  [DiagnosticSeverity.Warning]: "warning",
  [DiagnosticSeverity.Information]: "info",
  [DiagnosticSeverity.Hint]: "hint",
};

async function main(file) {
  const abs = path.resolve(file);
  const { document, diagnostics } = await fromFile(new Parser(), abs).parse();
  let errors = 0;

  for (const d of diagnostics) {
    const where = d.path && d.path.length ? d.path.join("/") : "(document)";
    const line = d.range ? d.range.start.line + 1 : 0;
    const src = d.source ? path.relative(process.cwd(), d.source) : file;
    console.log(`${src}:${line}: ${NAMES[d.severity] ?? d.severity}: ` +
                `${d.code}: ${d.message} (at ${where})`);
    if (d.severity === DiagnosticSeverity.Error)
      errors++;
  }
  if (errors || !document) {
    console.log(`${file}: ${errors} error(s); the document is not valid AsyncAPI`);
    process.exit(1);
  }
  const channels = document.channels().length;
  const messages = document.messages().length;
  console.log(`${file}: valid AsyncAPI ${document.version()}: ` +
              `${channels} channels, ${messages} messages, ` +
              `${diagnostics.length} diagnostic(s) below error`);
}

if (process.argv.length !== 3) {
  console.error("usage: node check.mjs ASYNCAPI.yaml");
  process.exit(2);
}
main(process.argv[2]).catch((e) => {
  console.error(`${process.argv[2]}: ${e.stack || e}`);
  process.exit(1);
});
