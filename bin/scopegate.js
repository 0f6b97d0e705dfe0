#!/usr/bin/env node
// Entry point of the `scopegate` command: runs the compiled CLI (`npm run build` first).
import '../dist/src/cli/main.js';
