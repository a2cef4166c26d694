#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=1
import { run } from "./run.js";
await run("auto");
