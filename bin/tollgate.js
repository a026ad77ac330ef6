#!/usr/bin/env node
// Runs the build of the TypeScript sources in dist/ (bin/build.js), building it first when the sources
// changed since: a fresh clone needs no build step beyond `npm install`, and an edit needs none at all.
import { ensureBuilt } from "./build.js";

process.setSourceMapsEnabled(true);
const { runCli } = await import(await ensureBuilt());
process.exitCode = await runCli(process.argv.slice(2));
