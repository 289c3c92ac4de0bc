// Validates JSON documents against a JSON schema of draft-04 (the SARIF 2.1.0 schema's
// dialect) with Ajv. Usage: node validate.mjs SCHEMA DOCUMENT...; exit 0 when all are valid,
// 1 with each error on stderr, 2 on a usage or read error.
import { readFileSync } from "node:fs";
import Ajv from "ajv-draft-04";
import addFormats from "ajv-formats";

const [schemaPath, ...documents] = process.argv.slice(2);
if (!schemaPath || documents.length === 0) {
  console.error("usage: node validate.mjs SCHEMA DOCUMENT...");
  process.exit(2);
}
let validate;
try {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  validate = ajv.compile(JSON.parse(readFileSync(schemaPath, "utf8")));
} catch (error) {
  console.error(`${schemaPath}: ${error.message}`);
  process.exit(2);
}
let invalid = 0;
for (const path of documents) {
  let document;
  try {
    document = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    console.error(`${path}: ${error.message}`);
    process.exit(2);
  }
  if (validate(document)) {
    console.log(`${path}: valid`);
  } else {
    invalid++;
    for (const error of validate.errors) console.error(`${path}: ${error.instancePath || "/"} ${error.message}`);
  }
}
process.exit(invalid === 0 ? 0 : 1);
