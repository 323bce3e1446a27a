#!/usr/bin/env node
// The `thaw` command. Runs the compiled CLI (dist/: what the published package ships, built by `npm run build`);
// in a clone without dist/ it runs the TypeScript sources through tsx (a devDependency).
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const built = path.join(__dirname, '..', 'dist', 'app', 'cli', 'main.js');
if (fs.existsSync(built) && !process.env.THAW_FROM_SOURCE) {
  require(built).runAsProgram(process.argv.slice(2));
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'app', 'cli', 'main.ts')).runAsProgram(process.argv.slice(2));
}
