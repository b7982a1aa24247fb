#!/usr/bin/env node
// Entry point of the `outrigger` command; the code lives in host/cli.ts (built to dist/).
import { main } from '../dist/host/cli.js';

await main(process.argv.slice(2));
