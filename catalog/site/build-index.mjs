// Build the MiniSearch index at site build time: documents on stdin, serialized index on stdout.
// The options must match `searchOptions` in static/app.js (the browser loads the index with them).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const MiniSearch = require("minisearch");
const options = JSON.parse(readFileSync(new URL("./static/search-options.json", import.meta.url)));
const docs = JSON.parse(readFileSync(0, "utf-8"));
const index = new MiniSearch(options);
index.addAll(docs);
process.stdout.write(JSON.stringify(index));
