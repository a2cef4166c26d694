#!/usr/bin/env -S node --max-semi-space-size=1
import { run } from "./run.js";
await run("consul");
